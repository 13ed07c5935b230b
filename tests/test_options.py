"""The options beyond the toolbox (issue 5): multi-channel input, max pooling, relu/tanh, softmax
output, momentum, weight decay and learning-rate decay.

For each: the numerical gradient check passes on small nets using it and catches a deliberately
wrong gradient; the fast engine agrees with the reference engine to 1e-12; bad values get errors
naming the layer and the key. Defaults are covered by the parity suite (tests/test_parity.py).
"""

from __future__ import annotations

import copy
import importlib

import numpy as np
import pytest

import dltoolbox as dlt
from dltoolbox import activations
from dltoolbox.cnnnumgradcheck import GradientCheckError
from dltoolbox.engines import reference
from dltoolbox.spec import parse_spec

output = importlib.import_module("dltoolbox.layers.output")  # the output kind's home
conv_grads = reference.ReferenceEngine().conv_grads
TOL = 1e-12
ENGINES = ("reference", "fast")


def make(
    spec, size=(14, 14), classes=3, batch=4, seed=1, output=None, channels=None, onehot=None,
    tables=None,
):  # fmt: skip
    """A set-up net with non-zero biases (conv and 'f' layers) and random x (rows, cols[,
    channels], batch) and y; ``tables``: {layer index: connection table}, set before cnnsetup."""
    rng = np.random.default_rng(seed)
    shape = size + ((channels,) if channels else ()) + (batch,)
    x = rng.random(shape)
    onehot = output == "softmax" if onehot is None else onehot
    y = (
        np.eye(classes)[:, rng.integers(0, classes, batch)]
        if onehot
        else rng.random((classes, batch))
    )
    net = {"layers": parse_spec(spec)}
    for l, table in (tables or {}).items():
        net["layers"][l]["connections"] = table
    if output:
        net["output"] = output
    net = dlt.cnnsetup(net, x, y, rng=seed)
    for layer in net["layers"][1:]:
        if layer["type"] == "c":
            layer["b"] = [float(rng.uniform(-0.3, 0.3)) for _ in layer["b"]]
        elif layer["type"] == "f":
            layer["b"] = rng.uniform(-0.3, 0.3, layer["b"].shape)
    return net, x, y


def conv_delta(engine, a, d_next, scale, activation, method):
    """A conv layer's delta from the pooling layer above it, as cnnbp computes it."""
    return engine.activation_delta(a, engine.unpool(d_next, a, scale, method), activation)


def forward_backward(net, x, y, engine="reference"):
    net["engine"] = engine
    return dlt.cnnbp(dlt.cnnff(net, x), y)


# (spec, options for make): every new option, alone and together, on nets small enough for
# the numerical gradient check
CASES = {
    "relu": ("i-2c3r-2s-2c3-2s", {}),
    "tanh": ("i-2c3t-2s-2c3t-2s", {}),
    "relu last": ("i-2c3-2s-2c3r", {}),
    "tanh last": ("i-2c3-2s-2c3t", {}),
    "max": ("i-2c3-2m-2c3-2m", {}),
    "max by 3": ("i-2c4-3m-2c2", {"size": (15, 12)}),
    "max after input": ("i-2m-2c3-2s", {"size": (16, 16)}),
    "softmax": ("i-2c3-2s-2c3-2s", {"output": "softmax"}),
    "softmax, soft labels": ("i-2c3-2s-2c3-2s", {"output": "softmax", "onehot": False}),
    "channels": ("i-2c3-2s-2c3-2s", {"channels": 3}),
    "channels, pool first": ("i-2m-2c3-2s", {"size": (16, 16), "channels": 2}),
    # seed 2: with seed 1 a kernel step of epsilon = 1e-4 moves a relu/max kink (the numerical
    # gradient is then off by 8e-5; with epsilon 1e-6 it passes)
    "all": ("i-3c3r-2m-2c3t-2m", {"channels": 3, "output": "softmax", "seed": 2}),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", CASES)
def test_gradient_check_passes(case, engine):
    spec, kw = CASES[case]
    net, x, y = make(spec, **kw)
    forward_backward(net, x, y, engine)
    assert dlt.cnnnumgradcheck(net, x, y) is net


def _wrong_relu_derivative(a, name):
    return np.ones_like(a) if name == "relu" else activations.derivative(a, name)


def _wrong_tanh_derivative(a, name):
    return 1 - a if name == "tanh" else activations.derivative(a, name)


def _mean_unpool(a, d, scale):  # max pooling's delta spread as mean pooling's
    return dlt.expand(d, [scale, scale, 1]) / scale**2


def _last_tie_unpool(a, d, scale):  # the delta to the last, not the first, position
    return reference.max_unpool(a[::-1, ::-1], d[::-1, ::-1], scale)[::-1, ::-1]


def _sigmoid_style_delta(o, y):
    return (o - y) * o * (1 - o)


def _swapped_channel_grads(engine, a_prev, d, a, geometry):
    dk, db = conv_grads(a_prev, d, a, geometry)
    return dk[::-1], db


WRONG = {
    "relu": ("relu", reference, "derivative", _wrong_relu_derivative),
    "tanh": ("tanh", reference, "derivative", _wrong_tanh_derivative),
    "relu last": ("relu last", reference, "derivative", _wrong_relu_derivative),
    "tanh last": ("tanh last", reference, "derivative", _wrong_tanh_derivative),
    "max": ("max", reference, "max_unpool", _mean_unpool),
    "max by 3": ("max by 3", reference, "max_unpool", _mean_unpool),
    "softmax": ("softmax", output, "softmax_delta", _sigmoid_style_delta),
    "channels": ("channels", reference.ReferenceEngine, "conv_grads", _swapped_channel_grads),
}


@pytest.mark.parametrize("wrong", WRONG)
def test_a_wrong_gradient_is_caught(wrong, monkeypatch):
    case, module, name, replacement = WRONG[wrong]
    spec, kw = CASES[case]
    net, x, y = make(spec, **kw)
    monkeypatch.setattr(module, name, replacement)
    forward_backward(net, x, y)
    with pytest.raises(GradientCheckError):
        dlt.cnnnumgradcheck(net, x, y)


def test_a_wrong_tie_rule_is_caught():
    """With ties, sending the delta to the last maximum is a wrong gradient for the forward
    pass the engines compute (their loss moves only with the first maximum)."""
    a = np.array([[0.0, 5.0], [5.0, 0.0]])[:, :, None]
    d = np.array([[[2.0]]])
    want = np.zeros((2, 2, 1))
    want[1, 0, 0] = 2.0
    np.testing.assert_array_equal(reference.max_unpool(a, d, 2), want)
    assert not np.array_equal(_last_tie_unpool(a, d, 2), want)


def fields(net):
    for key in ("fv", "o", "e", "L", "od", "fvd", "dffW", "dffb", "ffW", "ffb", "vffW", "vffb"):
        if key in net:
            yield key, net[key]
    for l, layer in enumerate(net["layers"]):
        for key in ("a", "d", "b", "db", "vb"):
            for j, value in enumerate(layer.get(key, [])):
                yield f"layers[{l}].{key}[{j}]", value
        for key in ("k", "dk", "vk"):
            for i, row in enumerate(layer.get(key, [])):
                for j, value in enumerate(row):
                    yield f"layers[{l}].{key}[{i}][{j}]", value


def assert_same(net, ref):
    got, want = dict(fields(net)), dict(fields(ref))
    assert got.keys() == want.keys()
    for name, value in want.items():
        g, w = np.asarray(got[name], dtype=float), np.asarray(value, dtype=float)
        assert g.shape == w.shape, name
        err = np.max(np.abs(g - w), initial=0.0) / max(1.0, float(np.max(np.abs(w), initial=0.0)))
        assert err <= TOL, f"{name}: {err}"


ENGINE_CASES = dict(CASES)
ENGINE_CASES.update(
    {
        "big relu max softmax": (
            "i-4c5r-2m-6c5r-2m",
            {"size": (28, 28), "classes": 10, "batch": 6, "output": "softmax"},
        ),
        "rgb": ("i-3c5t-2m-4c3-2s", {"size": (16, 16), "channels": 3, "batch": 5}),
        "one sample": ("i-2c3r-2m-2c3-2s", {"batch": 1, "channels": 2}),
    }
)


@pytest.mark.parametrize("case", ENGINE_CASES)
def test_engines_agree(case):
    spec, kw = ENGINE_CASES[case]
    net, x, y = make(spec, **kw)
    ref, fst = copy.deepcopy(net), copy.deepcopy(net)
    ref["engine"], fst["engine"] = "reference", "fast"
    opts = {"alpha": 0.1, "momentum": 0.9, "weight_decay": 1e-3}
    for _ in range(3):
        for n in (ref, fst):
            dlt.cnnapplygrads(dlt.cnnbp(dlt.cnnff(n, x), y), opts)
        assert_same(fst, ref)


# --------------------------------------------------------------------------- max pooling


@pytest.mark.parametrize("engine", ENGINES)
def test_max_pooling_by_hand(engine):
    a = np.array(
        [
            [1.0, 2.0, 0.0, 0.0, 9.0, 1.0],
            [4.0, 3.0, 0.0, 0.0, 1.0, 1.0],
            [5.0, 5.0, 7.0, 6.0, 2.0, 3.0],
            [5.0, 5.0, 6.0, 7.0, 3.0, 2.0],
        ]
    )[:, :, None]
    eng = dlt.engines.ENGINES[engine]()
    pooled = eng.pool_forward([a], 2, "max")
    np.testing.assert_array_equal(pooled[0][:, :, 0], [[4, 0, 9], [5, 7, 3]])
    # delta of the layer above: one value per block; conv layer below with a relu (derivative 1
    # where a > 0, and 0 where a == 0)
    d_next = np.array([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]])[:, :, None]
    d = conv_delta(eng, [a], [d_next], 2, "relu", "max")[0][:, :, 0]
    want = np.zeros((4, 6))
    want[1, 0] = 10  # the 4
    # block of zeros: the first position (0, 0) in column-major order, but relu'(0) = 0
    want[0, 4] = 30  # the 9
    want[2, 0] = 40  # four 5s: the first in column-major order is (0, 0) of the block
    want[2, 2] = 50  # 7 at (0, 0) and (1, 1): the first in column-major order
    want[3, 4] = 60  # 3 at (1, 0) and (0, 1): (1, 0) comes first in column-major order
    np.testing.assert_array_equal(d, want)


def test_max_pool_ties_with_a_sigmoid():
    """The block of equal zeros: its delta goes to the block's first position."""
    a = np.full((2, 2, 1), 0.5)
    for name in ENGINES:
        eng = dlt.engines.ENGINES[name]()
        d = conv_delta(eng, [a], [np.ones((1, 1, 1))], 2, "sigm", "max")
        np.testing.assert_array_equal(d[0][:, :, 0], [[0.25, 0], [0, 0]])


# --------------------------------------------------------------------------- activations


def test_activations_by_hand():
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(activations.activate(z, "relu"), [0, 0, 3])
    np.testing.assert_allclose(activations.activate(z, "tanh"), np.tanh(z))
    a = activations.activate(z, "tanh")
    np.testing.assert_allclose(activations.derivative(a, "tanh"), 1 / np.cosh(z) ** 2)
    np.testing.assert_array_equal(activations.derivative(np.array([0.0, 3.0]), "relu"), [0, 1])
    o = activations.softmax(np.array([[1000.0, 0.0], [1000.0, 0.0]]))  # no overflow
    np.testing.assert_allclose(o, 0.5)


def test_softmax_output_and_loss():
    net, x, y = make("i-2c3-2s-2c3-2s", output="softmax")
    forward_backward(net, x, y)
    o = net["o"]
    np.testing.assert_allclose(o.sum(axis=0), 1)
    z = net["ffW"] @ net["fv"] + net["ffb"]
    np.testing.assert_allclose(o, np.exp(z) / np.exp(z).sum(axis=0))
    assert net["L"] == pytest.approx(-np.sum(y * np.log(o)) / y.shape[1], rel=1e-14)
    np.testing.assert_allclose(net["od"], o - y, rtol=0, atol=1e-16)  # one-hot: o - y


def test_relu_tanh_forward():
    net, x, y = make("i-2c3r-2s-2c3t-2s")
    dlt.cnnff(net, x)
    L = net["layers"]
    z1 = reference.convn(x, L[1]["k"][0][0], "valid") + L[1]["b"][0]
    np.testing.assert_allclose(L[1]["a"][0], np.maximum(z1, 0), rtol=0, atol=1e-15)
    assert np.any(z1 < 0)
    z3 = sum(reference.convn(L[2]["a"][i], L[3]["k"][i][1], "valid") for i in range(2))
    np.testing.assert_allclose(L[3]["a"][1], np.tanh(z3 + L[3]["b"][1]), rtol=0, atol=1e-15)


# --------------------------------------------------------------------------- channels


def test_channels_are_recorded_and_count_in_the_fan_in():
    rng = np.random.default_rng(0)
    x, y = rng.random((12, 12, 3, 4)), rng.random((2, 4))
    net = dlt.cnnsetup({"layers": parse_spec("i-4c3-2s")}, x, y, rng=0)
    assert net["layers"][0]["channels"] == 3
    k = np.array(net["layers"][1]["k"])
    assert k.shape == (3, 4, 3, 3)
    bound = np.sqrt(6 / (3 * 9 + 4 * 9))
    assert np.max(np.abs(k)) <= bound and np.max(np.abs(k)) > 0.9 * bound
    # the same draws as a one-channel net would make, scaled by the other bound
    one = dlt.cnnsetup({"layers": parse_spec("i-4c3-2s")}, x[:, :, 0], y, rng=0)
    assert "channels" not in one["layers"][0]
    assert len(one["layers"][1]["k"]) == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_channels_sum_like_input_maps(engine):
    """A 3-channel net whose kernels on channels 1 and 2 are zero is the 1-channel net."""
    net, x, y = make("i-2c3-2s-2c3-2s", channels=3)
    one = copy.deepcopy(net)
    one["layers"][0].pop("channels")
    one["layers"][1]["k"] = one["layers"][1]["k"][:1]
    for i in (1, 2):
        net["layers"][1]["k"][i] = [np.zeros_like(k) for k in net["layers"][1]["k"][i]]
    net["engine"] = one["engine"] = engine
    dlt.cnnff(net, x)
    dlt.cnnff(one, x[:, :, 0])
    np.testing.assert_allclose(net["o"], one["o"], rtol=0, atol=1e-15)
    assert len(net["layers"][0]["a"]) == 3
    np.testing.assert_array_equal(net["layers"][0]["a"][2], x[:, :, 2])


def test_three_d_x_is_one_sample_only_for_a_multichannel_net():
    net, x, y = make("i-2c3-2s-2c3-2s", channels=3, batch=2)
    whole = dlt.cnnff(copy.deepcopy(net), x)["o"]
    one = dlt.cnnff(net, x[:, :, :, 1])["o"]  # (rows, cols, channels): one sample
    np.testing.assert_allclose(one[:, 0], whole[:, 1], rtol=0, atol=1e-15)
    # an input layer that says its channels: cnnsetup reads a 3-D x as one sample too
    told = dlt.cnnsetup({"layers": parse_spec("i3-2c3-2s")}, x[:, :, :, 0], y[:, :1], rng=0)
    assert len(told["layers"][1]["k"]) == 3
    single, xs, _ = make("i-2c3-2s-2c3-2s", batch=3)
    assert dlt.cnnff(single, xs)["o"].shape[1] == 3  # (rows, cols, batch) as always
    # one channel given with an explicit channel axis of 1
    o4 = dlt.cnnff(copy.deepcopy(single), xs[:, :, None, :])["o"]
    np.testing.assert_array_equal(o4, single["o"])


def test_rgb_images_are_passed_transposed():
    rng = np.random.default_rng(3)
    images = rng.random((5, 12, 10, 3))  # (batch, height, width, RGB)
    x = images.transpose(1, 2, 3, 0)  # (rows, cols, channels, batch)
    y = np.eye(2)[:, [0, 1, 0, 1, 1]]
    net = dlt.cnnsetup({"layers": parse_spec("i-2c3-2s")}, x, y, rng=0)
    dlt.cnnff(net, x)
    np.testing.assert_array_equal(net["layers"][0]["a"][1][:, :, 4], images[4, :, :, 1])
    er, _ = dlt.cnntest(net, x, y)
    assert 0 <= er <= 1
    net = dlt.cnntrain(net, x, y, {"alpha": 0.5, "batchsize": 5, "numepochs": 2}, rng=0)
    assert len(net["rL"]) == 3


def test_channel_mismatch_is_refused():
    net, x, y = make("i-2c3-2s-2c3-2s", channels=3)
    with pytest.raises(ValueError, match=r"x: expected \(rows, cols, 3, batch\).*got shape"):
        dlt.cnnff(net, x[:, :, :2])
    with pytest.raises(ValueError, match="x: expected a 3-D or 4-D array"):
        dlt.cnnff(net, x[:, :, 0, 0])
    single, xs, _ = make("i-2c3-2s-2c3-2s")
    with pytest.raises(ValueError, match="one-channel net"):
        dlt.cnnff(single, np.stack([xs, xs], axis=2))
    with pytest.raises(ValueError, match=r"got shape \(14, 14, 2, 4\)"):
        dlt.cnnsetup({"layers": parse_spec("i3-2c3-2s")}, x[:, :, :2], y)


# --------------------------------------------------------------------------- training options


def _train_steps(net, x, y, opts, steps):
    for _ in range(steps):
        dlt.cnnapplygrads(dlt.cnnbp(dlt.cnnff(net, x), y), opts)
    return net


def _params(net):
    out = [net["ffW"], net["ffb"]]
    for layer in net["layers"][1:]:
        if layer["type"] == "c":
            out += [np.array(layer["k"]), np.array(layer["b"])]
    return out


def test_absent_options_are_exactly_plain_sgd():
    net, x, y = make("i-2c3-2s-2c3-2s")
    plain = _train_steps(copy.deepcopy(net), x, y, {"alpha": 0.7}, 2)
    zero = {"alpha": 0.7, "momentum": 0.0, "weight_decay": 0.0, "lr_decay": 1.0}
    zeroed = _train_steps(copy.deepcopy(net), x, y, zero, 2)
    for p, q in zip(_params(plain), _params(zeroed)):
        np.testing.assert_array_equal(p, q)
    assert "vffW" not in zeroed


def _check_momentum(apply):
    """Two steps of ``apply`` against v1 = g1, v2 = mu v1 + g2, p2 = p1 - alpha v2, by hand."""
    net, x, y = make("i-2c3-2s-2c3-2s")
    alpha, mu = 0.3, 0.8
    start = copy.deepcopy(net)
    dlt.cnnbp(dlt.cnnff(net, x), y)
    g1 = copy.deepcopy(net)
    apply(net, {"alpha": alpha, "momentum": mu})
    np.testing.assert_array_equal(net["vffW"], g1["dffW"])  # v1 = g1
    np.testing.assert_array_equal(net["ffW"], start["ffW"] - alpha * g1["dffW"])
    after1 = copy.deepcopy(net)
    dlt.cnnbp(dlt.cnnff(net, x), y)
    g2 = copy.deepcopy(net)
    apply(net, {"alpha": alpha, "momentum": mu})
    v2 = mu * g1["dffW"] + g2["dffW"]
    np.testing.assert_allclose(net["vffW"], v2, rtol=1e-15)
    np.testing.assert_allclose(net["ffW"], after1["ffW"] - alpha * v2, rtol=1e-15)
    vk = mu * np.array(g1["layers"][3]["dk"]) + np.array(g2["layers"][3]["dk"])
    np.testing.assert_allclose(np.array(net["layers"][3]["vk"]), vk, rtol=1e-15)
    vb = mu * np.array(g1["layers"][1]["db"]) + np.array(g2["layers"][1]["db"])
    np.testing.assert_allclose(net["layers"][1]["vb"], vb, rtol=1e-15)
    assert isinstance(net["layers"][1]["vb"][0], float)


def test_momentum_by_hand():
    _check_momentum(dlt.cnnapplygrads)


def _forgets_velocity(net, opts):
    net.pop("vffW", None)
    return dlt.cnnapplygrads(net, opts)


def _velocity_with_alpha(
    net, opts
):  # v = mu v + alpha g; p -= v: other v, other steps with lr_decay
    vffW = net.get("vffW")
    dlt.cnnapplygrads(net, opts)
    net["vffW"] = opts["momentum"] * (0 if vffW is None else vffW) + opts["alpha"] * net["dffW"]
    return net


@pytest.mark.parametrize("wrong", [_forgets_velocity, _velocity_with_alpha])
def test_a_wrong_momentum_is_caught(wrong):
    with pytest.raises(AssertionError):
        _check_momentum(wrong)


def _regularised_loss(net, x, y, decay):
    work = copy.deepcopy(net)
    L = dlt.cnnbp(dlt.cnnff(work, x), y)["L"]
    weights = [work["ffW"]] + [
        k for layer in work["layers"][1:] if layer["type"] == "c" for row in layer["k"] for k in row
    ]
    return L + decay / 2 * sum(float(np.sum(w**2)) for w in weights)


def _check_decay_step(apply, decay=0.05):
    """The step weight decay takes is -alpha times the gradient of L + decay/2 * |weights|^2,
    checked against central differences on some kernel, bias, ffW and ffb entries."""
    net, x, y = make("i-2c3-2s-2c3-2s")
    alpha, eps = 0.5, 1e-5
    stepped = copy.deepcopy(net)
    dlt.cnnbp(dlt.cnnff(stepped, x), y)
    apply(stepped, {"alpha": alpha, "weight_decay": decay})
    picks = [
        (lambda n: n["ffW"], (1, 2)),
        (lambda n: n["ffb"], (0, 0)),
        (lambda n: n["layers"][3]["k"][1][0], (2, 1)),
        (lambda n: n["layers"][1]["k"][0][1], (0, 2)),
    ]
    for get, index in picks:
        step = (get(net)[index] - get(stepped)[index]) / alpha
        plus, minus = copy.deepcopy(net), copy.deepcopy(net)
        get(plus)[index] += eps
        get(minus)[index] -= eps
        numeric = (_regularised_loss(plus, x, y, decay) - _regularised_loss(minus, x, y, decay)) / (
            2 * eps
        )
        if abs(step - numeric) > 1e-8:
            raise GradientCheckError(f"weight decay step {step} vs numerical {numeric}")
    bias_step = (net["layers"][1]["b"][0] - stepped["layers"][1]["b"][0]) / alpha
    if bias_step != pytest.approx(stepped["layers"][1]["db"][0], rel=1e-12):
        raise GradientCheckError("biases are decayed")


def test_weight_decay_is_the_gradient_of_the_l2_penalty():
    _check_decay_step(dlt.cnnapplygrads)


@pytest.mark.parametrize("factor", [2.0, 0.0])
def test_a_wrong_weight_decay_is_caught(factor):
    def wrong(net, opts):
        return dlt.cnnapplygrads(net, dict(opts, weight_decay=opts["weight_decay"] * factor))

    with pytest.raises(GradientCheckError):
        _check_decay_step(wrong)


def test_a_decayed_bias_is_caught():
    def wrong(net, opts):  # decays the biases too: b -= alpha * decay * b
        before = [list(layer.get("b", [])) for layer in net["layers"]]
        dlt.cnnapplygrads(net, opts)
        a, d = opts["alpha"], opts["weight_decay"]
        for layer, b in zip(net["layers"], before):
            if layer["type"] == "c":
                layer["b"] = [v - a * d * old for v, old in zip(layer["b"], b)]
        return net

    net, x, y = make("i-2c3-2s-2c3-2s")
    for layer in net["layers"][1:]:
        if layer["type"] == "c":
            layer["b"] = [0.3 for _ in layer["b"]]
    with pytest.raises(GradientCheckError, match="biases are decayed"):
        _check_decay_step(wrong)


def test_lr_decay_scales_alpha_per_epoch():
    net, x, y = make("i-2c3-2s-2c3-2s", batch=4)
    opts = {"alpha": 0.5, "batchsize": 2, "numepochs": 3, "lr_decay": 0.5, "momentum": 0.5}
    trained = dlt.cnntrain(copy.deepcopy(net), x, y, opts, rng=7)
    rng = dlt.OctaveRandom(7)
    for epoch in range(3):
        kk = np.asarray(rng.randperm(4))
        for b in range(2):
            idx = kk[2 * b : 2 * b + 2]
            step = {"alpha": 0.5 * 0.5**epoch, "momentum": 0.5}
            dlt.cnnapplygrads(dlt.cnnbp(dlt.cnnff(net, x[:, :, idx]), y[:, idx]), step)
    for p, q in zip(_params(trained), _params(net)):
        np.testing.assert_array_equal(p, q)


def test_resume_with_momentum_is_exact(tmp_path):
    net, x, y = make("i-2c3r-2m-2c3-2s", batch=4, output="softmax")
    opts = {"alpha": 0.2, "batchsize": 2, "numepochs": 3, "momentum": 0.9, "lr_decay": 0.8}
    whole = dlt.cnntrain(copy.deepcopy(net), x, y, opts, rng=5)
    ckpt = tmp_path / "run.npz"
    rng = dlt.OctaveRandom(5)
    part = dlt.cnntrain(copy.deepcopy(net), x, y, dict(opts, numepochs=1, checkpoint=ckpt), rng)
    assert "vffW" in part
    fresh = copy.deepcopy(net)  # a new process: no velocities in memory
    resumed = dlt.cnntrain(
        fresh, x, y, dict(opts, checkpoint=ckpt, resume=True), dlt.OctaveRandom(99)
    )
    for p, q in zip(_params(whole), _params(resumed)):
        np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(whole["vffW"], resumed["vffW"])
    np.testing.assert_array_equal(whole["rL"], resumed["rL"])
    with pytest.raises(ValueError, match="saved by another run"):
        dlt.cnntrain(
            copy.deepcopy(net), x, y, dict(opts, momentum=0.5, checkpoint=ckpt, resume=True), 5
        )


# --------------------------------------------------------------------------- save/load


@pytest.mark.parametrize("ext", [".npz", ".mat"])
def test_save_load_keeps_the_options(tmp_path, ext):
    net, x, y = make("i-2c3r-2m-2c3t-2s", channels=3, output="softmax")
    _train_steps(net, x, y, {"alpha": 0.1, "momentum": 0.9}, 2)
    dlt.save_net(tmp_path / f"net{ext}", net)
    back = dlt.load_net(tmp_path / f"net{ext}")
    assert back["output"] == "softmax"
    assert back["layers"][0]["channels"] == 3
    assert back["layers"][1]["activation"] == "relu"
    assert back["layers"][2]["method"] == "max"
    assert back["layers"][3]["activation"] == "tanh"
    assert "method" not in back["layers"][4]
    assert_same(back, net)
    dlt.cnnff(back, x)
    np.testing.assert_array_equal(back["o"], dlt.cnnff(net, x)["o"])


# --------------------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda n: n["layers"][1].update(activation="softplus"), r'\[1\]\["activation"\]'),
        (lambda n: n["layers"][2].update(method="median"), r'\[2\]\["method"\].*\'median\''),
        # not a key of 's': refused with the known keys (it used to be ignored silently)
        (
            lambda n: n["layers"][2].update(activation="relu"),
            r"\[2\]\[\"activation\"\]: unknown key",
        ),
        (lambda n: n.update(output="linear"), r'net\["output"\].*softmax.*\'linear\''),
        (lambda n: n["layers"][0].update(channels=0), r'\[0\]\["channels"\].*positive'),
    ],
)
def test_bad_layer_values_name_the_layer_and_key(edit, message):
    net, x, y = make("i-2c3-2s-2c3-2s")
    edit(net)
    if message is None:
        dlt.cnnff(net, x)
        return
    with pytest.raises(ValueError, match=message):
        dlt.cnnff(net, x)
    with pytest.raises(ValueError, match=message):
        dlt.cnnsetup(net, x, y)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("momentum", -0.1, r'opts\["momentum"\]: expected a number in \[0, 1\), got -0.1'),
        ("momentum", 1.0, r'opts\["momentum"\].*got 1.0'),
        ("weight_decay", -1e-4, r'opts\["weight_decay"\]: expected a number in \[0, inf\)'),
        ("weight_decay", float("nan"), r'opts\["weight_decay"\]'),
        ("lr_decay", 0.0, r'opts\["lr_decay"\]: expected a number in \(0, 1\], got 0.0'),
        ("lr_decay", 1.5, r'opts\["lr_decay"\]'),
        ("momentum", "0.9", r'opts\["momentum"\]: expected a number in \[0, 1\), got str'),
    ],
)
def test_bad_training_options(key, value, message):
    net, x, y = make("i-2c3-2s-2c3-2s")
    dlt.cnnbp(dlt.cnnff(net, x), y)
    error = TypeError if isinstance(value, str) else ValueError
    with pytest.raises(error, match=message):
        dlt.cnnapplygrads(net, {"alpha": 1.0, key: value})
    with pytest.raises(error, match=message):
        dlt.cnntrain(net, x, y, {"alpha": 1.0, "batchsize": 2, "numepochs": 1, key: value})


# --------------------------------------------------------------------------- specs, summary, CLI


def test_spec_letters():
    assert parse_spec("i3-6c5r-2m-12c5t-2s-4c1") == [
        {"type": "i", "channels": 3},
        {"type": "c", "outputmaps": 6, "kernelsize": 5, "activation": "relu"},
        {"type": "s", "scale": 2, "method": "max"},
        {"type": "c", "outputmaps": 12, "kernelsize": 5, "activation": "tanh"},
        {"type": "s", "scale": 2},
        {"type": "c", "outputmaps": 4, "kernelsize": 1},
    ]
    assert parse_spec("i1-2m") == [{"type": "i"}, {"type": "s", "scale": 2, "method": "max"}]
    for spec in ("i3-6c5r-2m-12c5t-2s", "i-6c5-2s-12c5-2s"):
        assert dlt.netio.spec_of({"layers": parse_spec(spec)}) == spec
    for bad in ("i0-2s", "6c5x", "2q", "6c5rr", "3i-2s"):
        with pytest.raises(ValueError, match="spec: "):
            parse_spec(bad)


def test_summary_by_hand():
    net = {"layers": parse_spec("i3-8c5r-2m-16c3t-2s"), "output": "softmax"}
    s = dlt.cnnsummary(net, (32, 32), 10)
    assert [r.shape for r in s.rows] == [
        (3, 32, 32),
        (8, 28, 28),
        (8, 14, 14),
        (16, 12, 12),
        (16, 6, 6),
        (10,),
    ]
    # (5*5*3 + 1)*8 = 608; (3*3*8 + 1)*16 = 1168; (16*6*6 + 1)*10 = 5770
    assert [r.params for r in s.rows] == [0, 608, 0, 1168, 0, 5770]
    assert s.total_params == 7546
    # 75*8*28*28 = 470400; 4*8*14*14 = 6272; 72*16*12*12 = 165888; 4*16*6*6 = 2304; 5760
    assert [r.macs for r in s.rows] == [0, 470400, 6272, 165888, 2304, 5760]
    assert [r.kind for r in s.rows] == [
        "input",
        "conv 5x5 relu",
        "max-pool 2",
        "conv 3x3 tanh",
        "mean-pool 2",
        "full+softmax",
    ]
    # receptive fields: 5, 6, 6 + 2*2 = 10, 10 + 1*2 = 12, the whole input
    assert [r.receptive_field[0] for r in s.rows] == [1, 5, 6, 10, 12, 32]
    # the channel count of a set-up net is read from it
    x, y = np.zeros((32, 32, 3, 2)), np.eye(10)[:, :2]
    setup = dlt.cnnsetup({"layers": parse_spec("8c5r-2m-16c3t-2s"), "output": "softmax"}, x, y)
    assert dlt.cnnsummary(setup, (32, 32)).total_params == 7546


def test_summary_command(capsys):
    from dltoolbox.cli import main

    assert main(["summary", "6c5-2s-12c5-2s", "--input", "28x28", "--classes", "10"]) == 0
    out = capsys.readouterr().out
    assert "3,898" in out and "207,744" in out and "conv 5x5 sigm" in out
    argv = ["summary", "i3-8c5r-2m-16c3t-2s", "--input", "32", "--output", "softmax"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "7,546" in out and "max-pool 2" in out and "full+softmax" in out
    assert main(["summary", "8c5-2s", "--input", "32x32", "--channels", "3"]) == 0
    assert "608" in capsys.readouterr().out
    assert main(["summary", "6c5-2s", "--input", "29x29"]) == 2
    assert "Layer 2 size must be integer" in capsys.readouterr().err
    assert main(["summary", "6c5-2s", "--input", "28by28"]) == 2
    assert "expected ROWSxCOLS" in capsys.readouterr().err


# --------------------------------------------------------------------------- the demo


def test_maxpool_relu_softmax_demo_learns(monkeypatch, tmp_path, capsys):
    from conftest import ROOT, SHARED, need

    data = str(need(SHARED / "data" / "mnist_uint8.mat"))
    monkeypatch.delenv("DLTOOLBOX_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.syspath_prepend(str(ROOT / "demos"))
    demo = importlib.import_module("maxpool_relu_softmax")
    errors, seconds = demo.maxpool_relu_softmax(2, data, (3000, 1000), progress=False)
    out = capsys.readouterr().out
    assert "full+softmax" in out and "epoch 2: test error" in out
    assert len(errors) == len(seconds) == 2
    # measured: 0.213, then 0.110 (the full run's figures are in the README)
    assert errors[1] < errors[0] < 0.5 and errors[1] < 0.2


@pytest.mark.parametrize("engine", ENGINES)
def test_float32_nets_stay_float32(engine):
    net, x, y = make("i-3c3r-2m-2c3t-2m", channels=3, output="softmax", seed=2)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    net32 = dlt.cnnsetup(
        {"layers": parse_spec("i-3c3r-2m-2c3t-2m"), "output": "softmax", "engine": engine},
        x32,
        y32,
        rng=0,
    )
    _train_steps(net32, x32, y32, {"alpha": 0.1, "momentum": 0.9, "weight_decay": 1e-3}, 2)
    for name, value in fields(net32):
        if isinstance(value, np.ndarray):  # L, db and the pooling layers' b are Python floats
            assert value.dtype == np.float32, name
    for layer in (net32["layers"][1], net32["layers"][3]):
        assert all(isinstance(b, np.float32) for b in layer["b"] + layer["vb"])


def test_train_command_takes_the_options(monkeypatch, tmp_path, capsys):
    from conftest import SHARED, need

    from dltoolbox.cli import main

    data = str(need(SHARED / "data" / "mnist_uint8.mat"))
    monkeypatch.delenv("DLTOOLBOX_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    common = ["--data", data, "--subset", "500,200", "--no-plots", "--no-progress"]
    argv = ["train", "4c5r-2m-8c5t-2s", "--output", "softmax", "--momentum", "0.9"]
    argv += ["--weight-decay", "1e-4", "--lr-decay", "0.5", "--alpha", "0.05", "--epochs", "2"]
    assert main(argv + common + ["--out", str(tmp_path)]) == 0
    assert "test error" in capsys.readouterr().out
    net = dlt.load_net(tmp_path / "cnn.mat")
    assert net["output"] == "softmax" and "vffW" in net
    assert dlt.netio.spec_of(net) == "i-4c5r-2m-8c5t-2s"
    assert main(["train", "4c5-2s", "--momentum", "1.5"] + common) == 2
    assert "--momentum: expected a number in [0, 1), got '1.5'" in capsys.readouterr().err
