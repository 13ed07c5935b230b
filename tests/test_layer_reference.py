"""Issue 13's layer options against a forward pass written from their definitions alone.

``tests/naive_layers.py`` (plain loops, no dltoolbox code) is the third text: each option alone
and one net mixing them all run through ``cnnff`` in both engines, and every layer's ``a``,
``fv`` and ``o`` must match it, to 1e-12 in float64 and within float32's rounding in float32
(the net staying float32). The two engines must also agree to 1e-12 on every field cnnff and
cnnbp write. The 'f' layers and the output are computed by code both engines share, so for
them the naive forward is the only independent check.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from naive_layers import naive_forward

import dltoolbox as dlt
from dltoolbox.layers.conv import LENET5_C3
from dltoolbox.spec import parse_spec

TOL = 1e-12
# float32: every operation rounds to 24 bits (unit roundoff 2^-24 = 6e-8), and each value of
# these nets is a sum of at most 144 products (the mixed net's 4c3 over 16 maps, the lenet5
# case's output), each layer adding its own rounding to what it reads; the activations
# (|f'| <= 1) and the small initial weights do not amplify it. Such sums' rounding errors grow
# like sqrt(terms) * 6e-8 in practice (terms * 6e-8 at worst); the largest seen on these nets,
# relative to max(1, |values|), is 2.1e-7 (the reference engine's FFT convolutions). 2e-6
# leaves a factor 10 for other BLAS summation orders and stays far below any error of
# substance (a wrong offset, flip or scaling changes values by 1e-2 and more).
TOL32 = 2e-6
ENGINES = ("reference", "fast")

# A random connection table, 3 input maps to 4 output maps; every output map reads one at least.
RANDOM_TABLE = np.array([[1, 0, 1, 1], [0, 1, 1, 0], [1, 0, 0, 1]], dtype=bool)

# (spec, options of make): each option alone, then one net mixing them all
CASES = {
    "padding 1": ("i-2c3p1-2s", {"size": (10, 8)}),
    "padding 2": ("i-2c3p2-2s", {"size": (10, 8)}),
    "same, ks 3": ("i-2c3ps-2s", {"size": (10, 8)}),
    "same, ks 5, tanh": ("i-2c5tps-2m", {"size": (8, 10)}),
    "stride 2 exact": ("i-2c3s2", {"size": (11, 9)}),
    "stride 2 drop": ("i-2c3s2d", {"size": (12, 10)}),
    "stride 3 drop": ("i-2c3s3d", {"size": (13, 14)}),
    "random table": ("i-3c3-4c3", {"size": (9, 8), "tables": {2: RANDOM_TABLE}}),
    "lenet5 table": ("i-6c3-2s-16c2", {"size": (10, 10), "tables": {3: LENET5_C3}}),
    "f sigm": ("i-2c3-2s-5f", {"size": (10, 10)}),
    "f relu": ("i-2c3-2s-5fr", {"size": (10, 10)}),
    "f tanh": ("i-2c3-2s-5ft", {"size": (10, 10)}),
    "two f": ("i-2c3-2m-6fr-4ft", {"size": (10, 10)}),
    "f after input": ("i-4ft", {"size": (5, 4)}),
    "dropout": ("i-2c3-2s-6fd0.3", {"size": (10, 10)}),
    "dropout, relu, two f": ("i-2c3r-2s-6frd0.25-5ftd0.4", {"size": (10, 10)}),
    "conv after conv": ("i-2c3-3c3t", {"size": (9, 10)}),
    "pool after input": ("i-2s-2c3r", {"size": (12, 10)}),
    "pool twice": ("i-2c3-2s-2m", {"size": (14, 10)}),
    "softmax": ("i-2c3r-2s-4f", {"size": (10, 10), "output": "softmax"}),
    "mixed": (
        "i2-6c3rps-2m-16c3tp1s2d@lenet5-4c3p1-2s-2m-8frd0.3-5ft",
        {"size": (16, 16), "output": "softmax"},
    ),
}


def make(spec, size, dtype=np.float64, output=None, tables=None, classes=3, batch=3, seed=5):
    """A set-up net (random non-zero biases everywhere) and random x (rows, cols[, channels],
    batch) in ``dtype``, y (classes, batch). ``tables``: {layer: connections}. A spec starting
    ``i<n>`` makes an n-channel x. The kernels of unconnected pairs are set to 7: no parameter,
    they must not be read."""
    rng = np.random.default_rng(seed)
    layers = parse_spec(spec)
    channels = layers[0].get("channels")
    x = rng.random(size + ((channels,) if channels else ()) + (batch,)).astype(dtype)
    y = np.eye(classes)[:, rng.integers(0, classes, batch)].astype(dtype)
    for l, table in (tables or {}).items():
        layers[l]["connections"] = table
    net = {"layers": layers} if output is None else {"layers": layers, "output": output}
    net = dlt.cnnsetup(net, x, y, rng=seed)
    for layer in net["layers"][1:]:
        if layer["type"] == "c":
            layer["b"] = [dtype(rng.uniform(-0.5, 0.5)) for _ in layer["b"]]
            if layer.get("connections") is not None:
                for i, j in zip(*np.nonzero(~layer["connections"])):
                    layer["k"][i][j][...] = 7.0
        elif layer["type"] == "f":
            layer["b"] = rng.uniform(-0.5, 0.5, layer["b"].shape).astype(dtype)
    net["ffb"] = rng.uniform(-0.5, 0.5, net["ffb"].shape).astype(dtype)
    return net, x, y


def run(net, x, engine):
    net = copy.deepcopy(net)
    net["engine"] = engine
    return dlt.cnnff(net, x)


def rel(got, want) -> float:
    """max |got - want| / max(1, max |want|), shapes equal."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape
    return float(np.max(np.abs(got - want), initial=0.0)) / max(1.0, float(np.max(np.abs(want))))


def forward_values(net: dict):
    """(name, value) of every layer's ``a``, of ``fv`` and of ``o``, after cnnff."""
    for l, layer in enumerate(net["layers"]):
        yield f"layers[{l}].a", layer["a"]
    yield "fv", net["fv"]
    yield "o", net["o"]


def naive_values(want: dict):
    for l, a in enumerate(want["a"]):
        yield f"layers[{l}].a", a
    yield "fv", want["fv"]
    yield "o", want["o"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", CASES)
def test_forward_matches_the_naive_definition(case, engine):
    spec, kw = CASES[case]
    net, x, _ = make(spec, **kw)
    got = run(net, x, engine)
    pairs = list(zip(forward_values(got), naive_values(naive_forward(net, x)), strict=True))
    for (name, value), (_, want) in pairs:
        assert rel(value, want) <= TOL, name


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", CASES)
def test_float32_stays_float32_and_matches_the_naive_definition(case, engine):
    spec, kw = CASES[case]
    net, x, _ = make(spec, dtype=np.float32, **kw)
    got = run(net, x, engine)
    # the naive forward computes in float64 from the float32 net's own numbers
    pairs = list(zip(forward_values(got), naive_values(naive_forward(net, x)), strict=True))
    for (name, value), (_, want) in pairs:
        arrays = value if isinstance(value, list) else [value]
        assert all(np.asarray(v).dtype == np.float32 for v in arrays), name
        assert rel(value, want) <= TOL32, name


def assert_agree(got, want, where: str) -> None:
    """Every field of two nets (dicts, lists, arrays, numbers, strings) the same: numbers to
    TOL relative to max(1, |want|)."""
    if isinstance(want, dict):
        assert sorted(got) == sorted(want), where
        for key in want:
            if key != "engine":
                assert_agree(got[key], want[key], f"{where}[{key!r}]")
    elif isinstance(want, str) or want is None:
        assert got == want, where
    elif isinstance(want, np.ndarray) and want.dtype == bool:
        assert np.array_equal(got, want), where
    elif isinstance(want, (list, tuple)) and not np.isscalar(want[0]):
        assert len(got) == len(want), where
        for n, (g, w) in enumerate(zip(got, want)):
            assert_agree(g, w, f"{where}[{n}]")
    else:
        assert rel(got, want) <= TOL, where


@pytest.mark.parametrize("case", CASES)
def test_engines_agree_on_cnnff_and_cnnbp(case):
    spec, kw = CASES[case]
    net, x, y = make(spec, **kw)
    nets = {engine: dlt.cnnbp(run(net, x, engine), y) for engine in ENGINES}
    grads = {"c": ("dk", "db", "d"), "f": ("dW", "db", "d")}
    for layer in nets["fast"]["layers"]:  # the walk below compares these too
        assert all(key in layer for key in grads.get(layer["type"], ())), layer["type"]
    assert all(key in nets["fast"] for key in ("dffW", "dffb", "od", "fvd", "L"))
    assert_agree(nets["fast"], nets["reference"], "net")


def test_dropout_outside_cnntrain_is_the_expected_output():
    """cnntrain's pass draws ``mask`` (outputs, batch); a cnnff after it (a test) drops the mask
    and scales by 1 - q, so cnnbp then uses 1 - q too."""
    net, x, y = make("i-2c3-2s-6frd0.3-4fd0.25", (10, 10))
    trained = dlt.cnntrain(net, x, y, {"alpha": 1, "batchsize": 3, "numepochs": 1}, rng=1)
    for l in (3, 4):
        mask = trained["layers"][l]["mask"]
        assert set(np.unique(mask)) == {0.0, 1.0}
        np.testing.assert_array_equal(trained["layers"][l]["a"], trained["layers"][l]["h"] * mask)
    tested = dlt.cnnff(trained, x)
    want = naive_forward(tested, x)
    for l, q in ((3, 0.3), (4, 0.25)):
        assert "mask" not in tested["layers"][l]
        assert rel(tested["layers"][l]["a"], want["a"][l]) <= TOL
        assert rel(tested["layers"][l]["a"], tested["layers"][l]["h"] * (1 - q)) <= TOL
    assert rel(tested["o"], want["o"]) <= TOL


# the naive forward itself, on numbers worked out by hand from the definitions -----------------


def one_layer(layer: dict, k: np.ndarray) -> dict:
    """A net of one relu 'c' layer with the (ks, ks) kernel k and bias 0 (no output weights)."""
    return {"layers": [{"type": "i"}, dict(layer, activation="relu", k=[[k]], b=[0.0])]}


def test_naive_conv_is_a_true_convolution():
    """A kernel with one 1 at its top-left corner picks the bottom-right pixel of each window."""
    a = np.arange(1.0, 26.0).reshape(5, 5, 1)
    k = np.zeros((3, 3))
    k[0, 0] = 1.0
    net = one_layer({"type": "c", "outputmaps": 1, "kernelsize": 3}, k)
    net.update(ffW=np.zeros((1, 9)), ffb=np.zeros((1, 1)))
    got = naive_forward(net, a)["a"][1][0][:, :, 0]
    np.testing.assert_array_equal(got, [[13, 14, 15], [18, 19, 20], [23, 24, 25]])


def test_naive_padding_and_stride_by_hand():
    ones = np.ones((3, 3, 1))
    net = one_layer({"type": "c", "outputmaps": 1, "kernelsize": 3, "padding": 1}, np.ones((3, 3)))
    net.update(ffW=np.zeros((1, 9)), ffb=np.zeros((1, 1)))
    # each output counts the input pixels inside its window: 4 at a corner, 6 at an edge, 9
    got = naive_forward(net, ones)["a"][1][0][:, :, 0]
    np.testing.assert_array_equal(got, [[4, 6, 4], [6, 9, 6], [4, 6, 4]])
    # stride 2 with the remainder dropped on a 5 x 5 map: (5 - 2) // 2 + 1 = 2 positions; the
    # turned kernel's one 1 at [1, 1] reads the top-left pixel a[2r, 2c] of each window
    k = np.array([[0.0, 0.0], [0.0, 1.0]])
    layer = {"type": "c", "outputmaps": 1, "kernelsize": 2, "stride": 2, "remainder": "drop"}
    net = one_layer(layer, k)
    net.update(ffW=np.zeros((1, 4)), ffb=np.zeros((1, 1)))
    got = naive_forward(net, np.arange(1.0, 26.0).reshape(5, 5, 1))["a"][1][0][:, :, 0]
    np.testing.assert_array_equal(got, [[1, 3], [11, 13]])


def test_naive_features_are_column_major_map_after_map():
    x = np.zeros((2, 2, 2, 1))  # two channels: the input layer's two maps
    x[:, :, 0, 0] = [[1.0, 3.0], [2.0, 4.0]]
    x[:, :, 1, 0] = [[5.0, 7.0], [6.0, 8.0]]
    net = {"layers": [{"type": "i", "channels": 2}], "ffW": np.eye(8), "ffb": np.zeros((8, 1))}
    np.testing.assert_array_equal(naive_forward(net, x)["fv"][:, 0], np.arange(1.0, 9.0))
