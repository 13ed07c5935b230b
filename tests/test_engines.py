"""The fast engine against the reference engine (the oracle), field by field, and its float32 path.

The MNIST tests at the end train the toolbox example for a whole epoch (a few seconds each) and
need ``../shared/data/mnist_uint8.mat``.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import scipy.io
from conftest import need

import dltoolbox as dlt
from dltoolbox import net as layout
from dltoolbox.cnnbp import backward
from dltoolbox.cnnff import forward
from dltoolbox.engines import DEFAULT_ENGINE, ENGINES, blas, create, fast, reference

TOL = 1e-12

# (spec, map size, classes, batch): alternating layers as the toolbox's cnnbp needs
NETS = [
    ("i-6c5-2s-12c5-2s", (28, 28), 10, 4),  # the toolbox example
    ("i-3c3-2s-4c3-2s", (22, 18), 4, 3),  # non-square maps
    ("i-2c5-3s-3c3-2s", (28, 28), 5, 2),  # subsampling by 3
    ("i-3c5-2s-4c5", (28, 28), 3, 3),  # the last layer is a conv layer
    ("i-2s-3c3-2s", (20, 16), 2, 3),  # subsampling right after the input
    ("i-1c5-4s-2c2-2s", (16, 16), 2, 2),  # one input map, maps shrink to 1x1
    ("i-6c5-2s-12c5-2s", (28, 28), 10, 1),  # a batch of one sample
    ("i-4c3-2s-5c2", (14, 10), 3, 5),  # small kernels, 'c' last
    ("i-2c4-3s-2c2", (15, 12), 2, 3),  # odd output rows (3) in the last layer
    ("i-3c2-3s-2c2", (10, 13), 2, 2),  # odd output rows (9) in the first layer
]


def layers_of(spec: str) -> list[dict]:
    out = [{"type": "i"}]
    for part in spec.split("-")[1:]:
        if part.endswith("s"):
            out.append({"type": "s", "scale": int(part[:-1])})
        else:
            maps, ks = part.split("c")
            out.append({"type": "c", "outputmaps": int(maps), "kernelsize": int(ks)})
    return out


def make(spec, size, classes, batch, seed=0, dtype=np.float64):
    """A set-up net and random x, y; a batch of one is given as a 2-D x."""
    rng = np.random.default_rng(seed)
    x = rng.random(size + (batch,)).astype(dtype)
    y = rng.random((classes, batch)).astype(dtype)
    if batch == 1:
        x = x[:, :, 0]
    net = dlt.cnnsetup({"layers": layers_of(spec)}, x, y, rng=seed)
    # non-zero biases so that they are exercised too
    for layer in net["layers"][1:]:
        if layer["type"] == "c":
            layer["b"] = [type(b)(rng.uniform(-0.5, 0.5)) for b in layer["b"]]
    return net, x, y


def with_engine(net: dict, name: str) -> dict:
    out = copy.deepcopy(net)
    out["engine"] = name
    return out


def rel(got, ref) -> float:
    got, ref = np.asarray(got, dtype=float), np.asarray(ref, dtype=float)
    assert got.shape == ref.shape
    return float(np.max(np.abs(got - ref), initial=0.0)) / max(1.0, float(np.max(np.abs(ref))))


def fields(net: dict):
    """(name, value) of every array or number the cnn* functions store in the net."""
    for key in ("fv", "o", "e", "L", "od", "fvd", "dffW", "dffb", "ffW", "ffb"):
        if key in net:
            yield key, net[key]
    for l, layer in enumerate(net["layers"]):
        for key in ("a", "d", "b", "db"):
            for j, value in enumerate(layer.get(key, [])):
                yield f"layers[{l}].{key}[{j}]", value
        for key in ("k", "dk"):
            for i, row in enumerate(layer.get(key, [])):
                for j, value in enumerate(row):
                    yield f"layers[{l}].{key}[{i}][{j}]", value


def assert_same(net: dict, ref: dict, tol: float = TOL) -> None:
    got, want = dict(fields(net)), dict(fields(ref))
    assert got.keys() == want.keys()
    for name, value in want.items():
        assert rel(got[name], value) <= tol, name


def step(net: dict, x, y, alpha: float = 1.0) -> dict:
    dlt.cnnff(net, x)
    dlt.cnnbp(net, y)
    return dlt.cnnapplygrads(net, {"alpha": alpha})


def test_fast_is_registered_and_the_default():
    assert ENGINES["fast"] is fast.FastEngine
    assert DEFAULT_ENGINE == "fast"
    assert isinstance(create({}), fast.FastEngine)
    assert isinstance(create({"engine": "reference"}), reference.ReferenceEngine)
    with pytest.raises(ValueError, match=r'net\["engine"\].*got \'slow\''):
        create({"engine": "slow"})


@pytest.mark.parametrize("products", ["default", "numpy.matmul"])
@pytest.mark.parametrize(("spec", "size", "classes", "batch"), NETS)
def test_fast_agrees_with_reference(spec, size, classes, batch, products, monkeypatch):
    """With the products this machine uses (a private OpenBLAS where numpy's lacks the CPU's
    kernels, see dltoolbox.engines.blas) and with numpy.matmul: two code paths of pool_delta."""
    if products == "numpy.matmul":
        blas.backend()
        monkeypatch.setitem(blas._state, "gemm", None)
    net, x, y = make(spec, size, classes, batch)
    ref, fst = with_engine(net, "reference"), with_engine(net, "fast")
    for _ in range(3):  # three steps: activations, deltas, gradients and updated parameters
        dlt.cnnff(ref, x)
        dlt.cnnff(fst, x)
        assert_same(fst, ref)
        dlt.cnnbp(ref, y)
        dlt.cnnbp(fst, y)
        assert_same(fst, ref)
        dlt.cnnapplygrads(ref, {"alpha": 0.7})
        dlt.cnnapplygrads(fst, {"alpha": 0.7})
        assert_same(fst, ref)


@pytest.mark.parametrize(("spec", "size", "classes", "batch"), NETS[:4])
def test_structure_is_the_documented_one(spec, size, classes, batch):
    net, x, y = make(spec, size, classes, batch)
    ref = step(with_engine(net, "reference"), x, y)
    fst = step(with_engine(net, "fast"), x, y)
    dlt.cnnff(ref, x)
    dlt.cnnff(fst, x)
    dlt.cnnbp(ref, y)
    dlt.cnnbp(fst, y)
    for lf, lr in zip(fst["layers"], ref["layers"]):
        for key in ("a", "d", "k", "dk", "b", "db"):
            if key not in lr:
                assert key not in lf
                continue
            assert isinstance(lf[key], list) and len(lf[key]) == len(lr[key])
            for vf, vr in zip(lf[key], lr[key]):
                if key in ("k", "dk"):
                    assert isinstance(vf, list) and len(vf) == len(vr)
                    for kf, kr in zip(vf, vr):
                        assert isinstance(kf, np.ndarray) and kf.shape == kr.shape
                        assert kf.dtype == np.float64
                elif key in ("b", "db"):
                    assert isinstance(vf, float)
                else:
                    assert isinstance(vf, np.ndarray) and vf.shape == vr.shape
                    assert vf.dtype == np.float64 and vf.shape[2] == batch
    for key in ("fv", "o", "e", "od", "fvd", "dffW", "dffb"):
        assert fst[key].shape == ref[key].shape and fst[key].dtype == np.float64


def test_new_kernel_lists_and_in_place_edits_take_effect():
    net, x, y = make("i-6c5-2s-12c5-2s", (28, 28), 10, 3)
    fst = dlt.cnnff(with_engine(net, "fast"), x)
    rng = np.random.default_rng(5)
    for layer in net["layers"]:  # brand-new lists of brand-new arrays
        if layer["type"] == "c":
            layer["k"] = [[rng.uniform(-1, 1, k.shape) for k in row] for row in layer["k"]]
            fst["layers"][net["layers"].index(layer)]["k"] = copy.deepcopy(layer["k"])
    ref = with_engine(net, "reference")
    assert_same(step(fst, x, y), step(ref, x, y))
    for n in (fst, ref):  # an edit in place, as cnnnumgradcheck does
        n["layers"][3]["k"][2][7][1, 3] += 0.25
        n["layers"][1]["k"][0][4][4, 0] -= 0.5
    assert_same(dlt.cnnbp(dlt.cnnff(fst, x), y), dlt.cnnbp(dlt.cnnff(ref, x), y))


def test_stepped_kernels_are_read_back_until_edited_or_replaced():
    """After cnnapplygrads a layer's k[i][j] are views of one array that the fast engine reads
    back without copying; an edit in place, a new kernel, a new row or a new length must all
    take effect as with plain lists."""
    net, x, y = make("i-6c5-2s-12c5-2s", (28, 28), 10, 3)
    fst = step(with_engine(net, "fast"), x, y)
    ref = step(with_engine(copy.deepcopy(net), "reference"), x, y)
    k = fst["layers"][3]["k"]
    assert isinstance(k, layout.KernelStack) and layout.kernel_array(k) is k.stack
    assert type(copy.deepcopy(k)) is list and type(copy.deepcopy(k)[0][0]) is np.ndarray
    edits = [
        lambda ks: ks[2][7].__setitem__((1, 3), ks[2][7][1, 3] + 0.25),  # in place: a view
        lambda ks: ks[0].__setitem__(4, ks[0][4] * 0.5),  # a new kernel
        lambda ks: ks.__setitem__(5, [kk + 0.125 for kk in ks[5]]),  # a new row
    ]
    for edit in edits:
        for n in (fst, ref):
            edit(n["layers"][3]["k"])
        assert_same(dlt.cnnbp(dlt.cnnff(fst, x), y), dlt.cnnbp(dlt.cnnff(ref, x), y))
    assert layout.kernel_array(k) is not k.stack  # replaced kernels: read afresh
    k = dlt.cnnapplygrads(fst, {"alpha": 1.0})["layers"][3]["k"]
    k[1].pop()  # a kernel dropped: not read from the stack it no longer matches
    with pytest.raises(ValueError):
        dlt.cnnff(fst, x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_divisions_by_powers_of_two_are_exact_multiplications(dtype):
    """The fast engine multiplies by 1 / n where n is a power of two: bit for bit x / n, from
    the largest values down to the subnormal ones; other n are divided."""
    info = np.finfo(dtype)
    rng = np.random.default_rng(7)
    x = np.concatenate(
        [
            rng.standard_normal(1000) * 10.0 ** rng.integers(-30, 30, 1000),
            [info.max, -info.max, info.tiny, info.smallest_subnormal * 7, 0.0, -0.0, 3.0],
        ]
    ).astype(dtype)
    for n in (1, 2, 4, 16, 9, 3):
        got = fast._divide(x, n)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got.view(f"u{x.itemsize}"), (x / n).view(f"u{x.itemsize}"))


def test_kernel_stack_views_are_views_of_its_array():
    """Built from a strided array, a KernelStack's k[i][j] are still views of the array it reads
    back, so an edit in place is seen either way."""
    k = layout.KernelStack(np.arange(2 * 3 * 4.0 * 4).reshape(3, 2, 4, 4).transpose(1, 0, 2, 3))
    k[1][2][0, 0] = -1.0
    assert layout.kernel_array(k)[1, 2, 0, 0] == -1.0
    np.testing.assert_array_equal(layout.kernel_array(k), np.array(k))


def test_interleaved_nets_do_not_share_stale_scratch():
    """cnnff of another net of the same shapes between cnnff and cnnbp of the first."""
    net1, x1, y1 = make("i-6c5-2s-12c5-2s", (28, 28), 10, 3, seed=1)
    net2, x2, _ = make("i-6c5-2s-12c5-2s", (28, 28), 10, 3, seed=2)
    ref = dlt.cnnbp(dlt.cnnff(with_engine(net1, "reference"), x1), y1)
    fst = dlt.cnnff(with_engine(net1, "fast"), x1)
    dlt.cnnff(with_engine(net2, "fast"), x2)
    assert_same(dlt.cnnbp(fst, y1), ref)
    # replaced activations below a conv layer are used, not the patches of the last cnnff
    fst["layers"][2]["a"] = [a + 0.125 for a in fst["layers"][2]["a"]]
    ref["layers"][2]["a"] = [a + 0.125 for a in ref["layers"][2]["a"]]
    dlt.cnnbp(fst, y1)
    dlt.cnnbp(ref, y1)
    assert_same(fst, ref)


def test_reused_buffers_never_show_in_a_net():
    """The engine reuses its scratch and patch buffers from call to call; a finished net's
    arrays must not change when another net of the same shapes is stepped after it."""
    net1, x1, y1 = make("i-6c5-2s-12c5-2s", (28, 28), 10, 3, seed=1)
    net2, x2, y2 = make("i-6c5-2s-12c5-2s", (28, 28), 10, 3, seed=2)
    dlt.cnnbp(dlt.cnnff(net1, x1), y1)
    before = copy.deepcopy(net1)
    for _ in range(2):
        step(net2, x2, y2)
    assert_same(net1, before, tol=0)


def test_large_scratch_buffers_are_freed_not_kept(monkeypatch):
    monkeypatch.setattr(fast, "KEPT_SIZE", 5000)  # conv2's buffers fit, conv1's do not
    net, x, y = make("i-6c5-2s-12c5-2s", (28, 28), 10, 3)
    ref = dlt.cnnbp(dlt.cnnff(with_engine(net, "reference"), x), y)
    engine = fast.FastEngine()
    assert_same(backward(forward(net, x, engine), y, engine), ref)
    kept = engine._scratch.values()
    assert kept and all(buf.size <= 5000 for buf in kept)


def test_nets_trained_in_parallel_threads_match_sequential_training():
    """Each thread has its own buffers: two nets stepped at once in two threads end exactly as
    when stepped one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    cases = [make("i-6c5-2s-12c5-2s", (28, 28), 10, 8, seed=s) for s in (1, 2)]
    alone = [copy.deepcopy(net) for net, _, _ in cases]
    for net, (_, x, y) in zip(alone, cases):
        for _ in range(20):
            step(net, x, y)

    def train(case):
        net, x, y = case
        for _ in range(20):
            step(net, x, y)
        return net

    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(train, cases))
    for net, want in zip(together, alone):
        assert_same(net, want, tol=0)


def test_large_batches_are_done_in_chunks_with_the_same_numbers(monkeypatch):
    net, x, y = make("i-3c5-2s-4c3-2s", (20, 20), 3, 37)
    ref = dlt.cnnff(with_engine(net, "reference"), x)
    monkeypatch.setattr(fast, "PATCH_CHUNK", 3 * 25 * 16 * 16)  # 3 samples at a time
    monkeypatch.setattr(fast, "PRIVATE_PATCH_CHUNK", 3 * 25 * 16 * 16)
    assert_same(dlt.cnnbp(dlt.cnnff(with_engine(net, "fast"), x), y), dlt.cnnbp(ref, y))


def test_batches_over_the_limit_go_in_pieces_with_the_same_numbers(monkeypatch):
    net, x, y = make("i-3c5-2s-4c3-2s", (20, 20), 3, 37)
    whole = dlt.cnnff(with_engine(net, "fast"), x)
    per_sample = np.prod(fast._patch_shape((1, 20, 20, 1), 5, 4))  # conv1's (row blocks of 4)
    monkeypatch.setattr(fast, "PATCH_CHUNK", 10 * per_sample)
    monkeypatch.setattr(fast, "PRIVATE_PATCH_CHUNK", 10 * per_sample)
    monkeypatch.setattr(fast, "PATCH_PIECE", 4 * per_sample)
    assert fast._chunk(37 * per_sample, 37, np.float64) == 4
    assert fast._chunk(10 * per_sample, 10, np.float64) == 10  # within the limit: whole
    monkeypatch.setattr(fast, "PATCH_PIECE", per_sample // 2)
    assert fast._chunk(37 * per_sample, 37, np.float64) == 1  # never fewer than one sample
    assert_same(dlt.cnnff(with_engine(net, "fast"), x), whole, tol=0)


def test_copies_of_a_net_keep_working():
    net, x, y = make("i-6c5-2s-12c5-2s", (28, 28), 10, 2)
    fst = step(with_engine(net, "fast"), x, y)
    ref = step(with_engine(net, "reference"), x, y)
    fst = copy.deepcopy(dlt.cnnbp(dlt.cnnff(fst, x), y))
    ref = dlt.cnnbp(dlt.cnnff(ref, x), y)
    fst["layers"][3]["d"][0] = fst["layers"][3]["d"][0].copy()  # one map replaced in a list
    assert_same(dlt.cnnapplygrads(fst, {"alpha": 1}), dlt.cnnapplygrads(ref, {"alpha": 1}))
    assert_same(step(fst, x, y), step(ref, x, y))


def test_gradients_pass_the_numerical_check():
    net, x, y = make("i-2c5-2s-2c5-2s", (28, 28), 10, 5)
    dlt.cnnnumgradcheck(dlt.cnnbp(dlt.cnnff(net, x), y), x, y)


def test_cnntrain_engine_option():
    net, x, y = make("i-3c3-2s-4c3-2s", (22, 18), 4, 3)
    x = np.concatenate([x, x[:, :, ::-1]], axis=2)
    y = np.concatenate([y, y[:, ::-1]], axis=1)
    opts = {"alpha": 1.0, "batchsize": 2, "numepochs": 2}
    fst = dlt.cnntrain(with_engine(net, "fast"), x, y, opts, rng=3)
    ref = dlt.cnntrain(copy.deepcopy(net), x, y, dict(opts, engine="reference"), rng=3)
    assert ref["engine"] == "reference"
    np.testing.assert_allclose(fst["rL"], ref["rL"], rtol=1e-12)
    for key in ("ffW", "ffb"):
        assert rel(fst[key], ref[key]) <= 1e-10
    with pytest.raises(ValueError, match=r'opts\["engine"\]'):
        dlt.cnntrain(copy.deepcopy(net), x, y, dict(opts, engine="gpu"), rng=3)


# float32 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "size", "classes", "batch"), NETS[:1] + NETS[3:7])
@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_float32_net_computes_and_stores_float32(spec, size, classes, batch, engine):
    net64, x, y = make(spec, size, classes, batch)
    net32 = dlt.cnnsetup({"layers": layers_of(spec)}, x.astype(np.float32), y, rng=0)
    # the same stream: the float32 net starts as the float64 one, rounded
    fresh64 = dlt.cnnsetup({"layers": layers_of(spec)}, x, y, rng=0)
    for l32, l64 in zip(net32["layers"], fresh64["layers"]):
        for r32, r64 in zip(l32.get("k", []), l64.get("k", [])):
            for k32, k64 in zip(r32, r64):
                assert k32.dtype == np.float32
                np.testing.assert_array_equal(k32, k64.astype(np.float32))
    for l32, l64 in zip(net32["layers"], net64["layers"]):
        if l32["type"] == "c":
            l32["b"] = [np.float32(b) for b in l64["b"]]
    net32["engine"] = net64["engine"] = engine
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    for _ in range(2):
        step(net32, x32, y32)
        step(net64, x, y)
    dlt.cnnbp(dlt.cnnff(net32, x32), y32)
    dlt.cnnbp(dlt.cnnff(net64, x), y)
    for (name, v32), (_, v64) in zip(fields(net32), fields(net64)):
        if isinstance(v32, np.ndarray):
            assert v32.dtype == np.float32, name
        else:
            assert isinstance(v32, (float, np.float32)), name
        assert rel(v32, v64) <= 2e-5, name


def test_float32_fast_agrees_with_float32_reference():
    net, x, y = make("i-6c5-2s-12c5-2s", (28, 28), 10, 6, dtype=np.float32)
    ref, fst = with_engine(net, "reference"), with_engine(net, "fast")
    for _ in range(2):
        step(ref, x, y)
        step(fst, x, y)
    assert_same(dlt.cnnbp(dlt.cnnff(fst, x), y), dlt.cnnbp(dlt.cnnff(ref, x), y), tol=1e-5)


# MNIST: the toolbox example -------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist():
    from conftest import SHARED

    m = scipy.io.loadmat(need(SHARED / "data" / "mnist_uint8.mat"))

    def maps(name):  # x = double(reshape(train_x', 28, 28, m)) / 255, column-major
        return np.reshape(m[name].T, (28, 28, m[name].shape[0]), order="F") / 255

    def labels(name):  # y = double(train_y')
        return m[name].T.astype(float)

    return maps("train_x"), labels("train_y"), maps("test_x"), labels("test_y")


def example(mnist, dtype):
    train_x, train_y, test_x, test_y = (a.astype(dtype) for a in mnist)
    rng = dlt.OctaveRandom(0)
    net = dlt.cnnsetup({"layers": layers_of("i-6c5-2s-12c5-2s")}, train_x, train_y, rng)
    dlt.cnntrain(net, train_x, train_y, {"alpha": 1, "batchsize": 50, "numepochs": 1}, rng)
    return net, dlt.cnntest(net, test_x, test_y)


def test_toolbox_example_gives_octaves_1127_wrong_test_images(mnist):
    net, (er, bad) = example(mnist, np.float64)
    assert net["ffW"].dtype == np.float64
    assert len(bad) == 1127 and er == 0.1127


def test_toolbox_example_in_float32_is_within_half_a_point(mnist):
    net, (er, _) = example(mnist, np.float32)
    assert net["ffW"].dtype == np.float32 and net["layers"][1]["a"][0].dtype == np.float32
    assert abs(er - 0.1127) <= 0.005


def test_maps_read_in_cnnff_cannot_change_before_cnnbp():
    """The fast engine's kernel gradients reuse the patches of the forward pass: the maps they
    were built from are read-only, so an edit in place is refused instead of giving stale
    gradients (a replaced list is detected and used, see the test above)."""
    net, x, _ = make("i-3c5-2s-4c3-2s", (20, 20), 3, 2)
    dlt.cnnff(net, x)
    for l in range(3):
        with pytest.raises(ValueError, match="read-only"):
            net["layers"][l]["a"][0][0, 0, 0] = 1.0


def test_a_record_whose_buffer_was_reused_is_not_trusted():
    """An engine reuses a layer's patch buffer on its next forward pass; the maps of the pass
    before (kept, say, in a copy of the net) then have a record that no longer holds their
    patches, and their gradients are computed afresh, as from scratch."""
    net, x, y = make("i-3c5-2s-4c3-2s", (20, 20), 3, 4)
    engine = fast.FastEngine()
    forward(net, x[..., :2], engine)
    stale = dict(net, layers=[dict(layer) for layer in net["layers"]])  # the first pass
    forward(net, x[..., 2:], engine)  # the same buffers, other samples
    assert stale["layers"][1]["a"].record.patches_for(stale["layers"][0]["a"], 5) is None
    backward(stale, y[:, :2], engine)
    ref = dlt.cnnbp(dlt.cnnff(with_engine(net, "reference"), x[..., :2]), y[:, :2])
    assert_same(stale, ref)
