"""The compiled kernels (dltoolbox/engines/kernels.py) give the numpy code's numbers bit for bit.

Each kernel is compared with the numpy code it replaces in the fast engine, on its own and in
whole training runs with the kernels switched off and on. Skipped without numba (the numpy code
is then the only path, tested everywhere else).
"""

from __future__ import annotations

import numpy as np
import pytest

import dltoolbox as dlt
from dltoolbox.engines import fast
from dltoolbox.engines import kernels as compiled
from dltoolbox.net import MapStack, map_array
from dltoolbox.spec import parse_spec

pytestmark = pytest.mark.skipif(
    compiled.numba is None, reason="numba is not installed (or DLTOOLBOX_NUMBA=0)"
)
DTYPES = (np.float64, np.float32)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal dtype, shape and bytes (so -0.0 and 0.0 differ, NaNs compare)."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture
def numpy_path(monkeypatch):
    """A function running ``f()`` with the kernels switched off."""

    def run(f):
        with monkeypatch.context() as m:
            m.setattr(compiled, "ENABLED", False)
            return f()

    return run


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("ks", "rb", "stride", "pad"),
    [(5, 1, 1, 0), (5, 4, 1, 0), (3, 2, 1, 1), (3, 1, 2, 1), (5, 1, 3, 2), (2, 2, 1, 3)],
)
def test_patches(ks, rb, stride, pad, dtype, numpy_path):
    a = np.random.default_rng(0).standard_normal((3, 12, 10, 7)).astype(dtype)
    want = numpy_path(lambda: fast._patches(a, ks, rb, None, stride, pad))
    assert same_bits(fast._patches(a, ks, rb, None, stride, pad), want)
    strided = np.asarray(np.broadcast_to(a, (2, *a.shape))[1, ..., ::2])  # not contiguous
    want = numpy_path(lambda: fast._patches(strided, ks, rb, None, stride, pad))
    assert same_bits(fast._patches(strided, ks, rb, None, stride, pad), want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 4, 30), (6, 5, 3, 30), (30,)])
def test_samples_of_a_batch(shape, dtype):
    x = np.random.default_rng(2).standard_normal(shape).astype(dtype)
    x[(0,) * (x.ndim - 1) + (3,)] = -0.0
    idx = np.random.default_rng(3).permutation(30)[:7]
    assert same_bits(compiled.samples(x, idx), x[..., idx])
    assert same_bits(compiled.samples(x, idx[:1].astype(np.int32)), x[..., idx[:1]])
    sliced = np.broadcast_to(x, (2, *x.shape))[1][..., :20]  # a slice along the samples
    assert same_bits(compiled.samples(sliced, idx % 20), sliced[..., idx % 20])
    if x.ndim > 2:  # leading axes that do not merge: numpy's indexing
        swapped = np.swapaxes(x, 0, 1)
        assert same_bits(compiled.samples(swapped, idx), swapped[..., idx])


def test_samples_out_of_range_are_numpys_errors():
    x = np.zeros((3, 4, 5))
    assert same_bits(compiled.samples(x, np.array([-1, 0])), x[..., [-1, 0]])
    with pytest.raises(IndexError):
        compiled.samples(x, np.array([1, 5]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("maps_in", "ks", "pad"), [(1, 5, 0), (4, 3, 1), (3, 5, 2), (2, 3, 0)])
def test_full_convolution(maps_in, ks, pad, dtype, numpy_path, monkeypatch):
    monkeypatch.setattr(fast.blas, "private", lambda dtype: False)  # the scatter's path
    rng = np.random.default_rng(1)
    dn = rng.standard_normal((4, 8, 6, 5)).astype(dtype)
    dn[0, 0] = -0.0  # signed zeros stay as the numpy code leaves them
    k = rng.standard_normal((maps_in, 4, ks, ks)).astype(dtype)
    size = (8 + ks - 1 - 2 * pad, 6 + ks - 1 - 2 * pad)
    want = numpy_path(lambda: fast.FastEngine()._full_conv(dn, k, pad, size))
    assert same_bits(fast.FastEngine()._full_conv(dn, k, pad, size), want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["sigm", "tanh", "relu"])
@pytest.mark.parametrize("scale", [2, 3])
def test_max_unpool(scale, activation, dtype, numpy_path):
    rng = np.random.default_rng(2)
    act = rng.random((3, 6 * scale, 4 * scale, 9)).astype(dtype)
    act[:, ::2] = act[:, 1::2]  # ties within blocks
    act[0] = 0.0
    act[1, 0] = -0.0  # a zero tie of both signs
    dn = rng.standard_normal((3, 6, 4, 9)).astype(dtype)
    engine, a = fast.FastEngine(), MapStack(act)

    def delta():
        return engine.activation_delta(a, engine.unpool(MapStack(dn), a, scale, "max"), activation)

    assert same_bits(delta().stack, numpy_path(delta).stack)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["sigm", "tanh", "relu"])
@pytest.mark.parametrize("scale", [1, 2, 3, 4])
def test_mean_pooling_and_its_delta(scale, activation, dtype, numpy_path):
    rng = np.random.default_rng(3)
    act = rng.standard_normal((3, 3 * scale, 2 * scale, 7)).astype(dtype)
    act[0, 0] = -0.0  # signed zeros, as the numpy code leaves them
    dn = rng.standard_normal((3, 3, 2, 7)).astype(dtype)
    dn[1, 0] = -0.0
    engine, a = fast.FastEngine(), MapStack(act)

    def pooled():
        return map_array(engine.pool_forward(a, scale, "mean"))

    def delta():
        return engine.activation_delta(a, engine.unpool(MapStack(dn), a, scale, "mean"), activation)

    assert same_bits(pooled(), numpy_path(pooled))
    assert same_bits(delta().stack, numpy_path(delta).stack)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["sigm", "tanh", "relu"])
def test_activation_and_its_delta(activation, dtype, numpy_path):
    """A conv layer's output (the sigmoid after numpy's exponential) and its delta from the
    dense delta of a layer above that is not a pooling layer."""
    rng = np.random.default_rng(4)
    a_prev = MapStack(rng.standard_normal((2, 9, 8, 5)).astype(dtype))
    k = rng.standard_normal((2, 3, 3, 3)).astype(dtype)
    b = [0.5, -1.0, 0.0]
    act = rng.standard_normal((3, 7, 6, 5)).astype(dtype)
    act[0, 0] = -0.0
    grad = MapStack(rng.standard_normal((3, 7, 6, 5)).astype(dtype))
    engine = fast.FastEngine()
    geometry = fast.ConvGeometry(ks=3, pad=0, stride=1)

    def forward():
        return map_array(engine.conv_forward(a_prev, k, b, activation, 0, geometry))

    def delta():
        return engine.activation_delta(MapStack(act), grad, activation).stack

    assert same_bits(forward(), numpy_path(forward))
    assert same_bits(delta(), numpy_path(delta))


def _train(spec: str, dtype) -> dict:
    rng = np.random.default_rng(0)
    x = rng.random((16, 16, 40)).astype(dtype)
    y = np.eye(4, dtype=dtype)[:, rng.integers(0, 4, 40)]
    net = dlt.cnnsetup({"layers": parse_spec(spec), "output": "softmax"}, x, y, 3)
    opts = {"alpha": 0.1, "momentum": 0.9, "batchsize": 10, "numepochs": 2}
    return dlt.cnntrain(net, x, y, opts, dlt.OctaveRandom(4))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "spec",
    [
        "i-4c3rps-4c3rps-2m-6c3rps-2m-8frd0.25",
        "i-3c5-2s-4c3t-2s",
        "i-3c3tp1s2d-2m-5f",
        "i-3c3ps-4c3ps-2s",
    ],
)
def test_training_runs_are_bit_identical(spec, dtype, numpy_path, monkeypatch):
    monkeypatch.setattr(fast.blas, "private", lambda dtype: False)
    got, want = _train(spec, dtype), numpy_path(lambda: _train(spec, dtype))
    assert same_bits(got["ffW"], want["ffW"]) and same_bits(got["rL"], want["rL"])
    for mine, theirs in zip(got["layers"], want["layers"]):
        for key in ("k", "dk", "W", "dW", "a", "d"):
            if key in mine:
                assert same_bits(np.asarray(mine[key]), np.asarray(theirs[key])), key


def _exp_probe(dtype) -> np.ndarray:
    """Values across exp's range: where the sigmoid lives, far out, exactly 0, tiny,
    overflowing and underflowing, subnormal results, infinities, NaN, random bit patterns."""
    rng = np.random.default_rng(11)
    bits = np.uint32 if np.dtype(dtype) == np.float32 else np.uint64
    values = np.concatenate(
        [
            rng.uniform(-40, 40, 400_000),
            rng.uniform(-1, 1, 100_000),
            rng.uniform(-800, 800, 100_000),
            [0.0, -0.0, 1e-300, -(2.0**-55), 2.0**-54, 511.9, 512.0, -512.0, 709.79, 709.8],
            [-708.4, -745.1, -746.0, 88.72, 88.73, -87.3, -103.9, -104.0, np.inf, -np.inf, np.nan],
        ]
    ).astype(dtype)
    random = rng.integers(0, np.iinfo(bits).max, 200_000, dtype=bits, endpoint=True)
    return np.concatenate([values, random.view(dtype)])


def _sigmoid_from_negated(x: np.ndarray) -> np.ndarray:
    """The compiled sigmoid of -x: float64 reading ``x`` through its strides, float32 in place
    on a contiguous copy (as the engine calls them)."""
    if x.dtype == np.float32:
        out = np.ascontiguousarray(x).copy()
        compiled.sigmoid_in_place(out)
        return out
    out = np.empty_like(x)
    compiled.sigmoid_of_negated(x[None, None, None, None], out[None, None, None, None],
                                compiled.exp_table())  # fmt: skip
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_sigmoid_has_numpys_bits_where_it_is_used(dtype):
    if not compiled.sigmoid_exp_applies(dtype):
        pytest.skip(f"the compiled exp does not give numpy's {np.dtype(dtype)} bits here")
    x = _exp_probe(dtype)
    with np.errstate(all="ignore"):
        want = 1 / (np.exp(x) + np.ones(1, dtype))
    assert same_bits(_sigmoid_from_negated(x), want)
    in_place = x.copy()  # as a padded layer's maps are computed
    compiled.sigmoid_in_place(in_place)
    assert same_bits(in_place, want)
    strided = np.asarray(np.broadcast_to(x[:60000], (2, 60000))[1, ::3])
    with np.errstate(all="ignore"):
        want = 1 / (np.exp(strided) + np.ones(1, dtype))
    assert same_bits(_sigmoid_from_negated(strided), want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_sigmoid_keeps_numpys_exp_where_the_bits_differ(dtype, monkeypatch, numpy_path):
    """The check before use: an exp of other bits (here numpy's, one ulp up) turns the compiled
    sigmoid off, and a sigmoid layer then computes with that exp, as the numpy code does."""
    exp = np.exp
    rng = np.random.default_rng(5)
    a_prev = MapStack(rng.standard_normal((2, 8, 8, 3)).astype(dtype))
    k = rng.standard_normal((2, 2, 3, 3)).astype(dtype)
    geometry = fast.ConvGeometry(ks=3, pad=0, stride=1)

    def forward():
        return map_array(
            fast.FastEngine().conv_forward(a_prev, k, [0.1, -0.2], "sigm", 0, geometry)
        )

    with monkeypatch.context() as m:
        m.setattr(np, "exp", lambda x, **kw: np.nextafter(exp(x, **kw), np.inf, **kw))
        compiled.exp_matches_numpy.cache_clear()
        try:
            assert not compiled.sigmoid_exp_applies(dtype)
            assert same_bits(forward(), numpy_path(forward))
        finally:
            compiled.exp_matches_numpy.cache_clear()


def test_exp_table_entries():
    """Entry 2k + 1 plus k << 45 is the double nearest to 2^(k/128), and with entry 2k it
    gives 2^(k/128) to about 2^-106."""
    table = compiled.exp_table()
    for k in (0, 1, 37, 64, 127):
        h = (table[2 * k + 1] + np.uint64(k << 45)).view(np.float64)
        t = table[2 * k].view(np.float64)
        assert h == np.float64(2.0 ** (k / 128)) or abs(h - 2.0 ** (k / 128)) <= 2.3e-16 * h
        assert abs(t) <= 2.0**-53
    assert table[0] == 0 and table[1] == np.float64(1.0).view(np.uint64)
