"""The layer options of issue 13, gradient-checked: conv padding (an int, "same"), stride (exact,
and with the remainder dropped), connection tables (LENET5_C3 too), 'c' and 's' layers in any
order, fully connected 'f' hidden layers (sigm, tanh, relu, several in a row) and their dropout.

For each option, alone and mixed with the others: cnnnumgradcheck passes in both engines, and a
deliberately wrong gradient (one function of the backward path patched) is caught. The kernels of
unconnected pairs are no parameters; float32 nets using every option stay float32.

Nets are tiny: the reference engine costs about 0.3 ms per ``convn`` (scipy's overhead), and the
check runs two passes per parameter.
"""

from __future__ import annotations

import copy
import importlib

import numpy as np
import pytest
import test_options

import dltoolbox as dlt
from dltoolbox.cnnff import forward
from dltoolbox.cnnnumgradcheck import GradientCheckError
from dltoolbox.engines import create, fast, reference, rowconv
from dltoolbox.layers import base, conv, fc
from dltoolbox.layers.conv import LENET5_C3
from dltoolbox.net import KernelStack, MapStack, field_of, kernel_array, map_array
from dltoolbox.spec import parse_spec

numgradcheck = importlib.import_module("dltoolbox.cnnnumgradcheck")  # the module, not the function
ENGINES = ("reference", "fast")
#: input maps 0 and 1 to output maps 0, 1, 2: pairs (1, 0) and (0, 1) unconnected
TABLE = np.array([[True, False, True], [False, True, True]])
#: two input maps to one output map, read from map 0 only
TABLE_21 = np.array([[True], [False]])


def make(spec, size=(6, 6), classes=2, batch=3, **kw):
    """:func:`test_options.make` (random non-zero biases, x, y; ``tables`` of connections) with
    this module's small defaults."""
    return test_options.make(spec, size, classes, batch, **kw)


def forward_backward(net, x, y, engine="reference", train=None):
    """cnnff and cnnbp in ``engine``; ``train``: a seed for a training pass instead, as cnntrain
    makes it (each dropout layer draws its mask from that stream and keeps it in the net)."""
    net["engine"] = engine
    if train is None:
        dlt.cnnff(net, x)
    else:
        forward(net, x, create(net), dlt.OctaveRandom(train))
    return dlt.cnnbp(net, y)


# (spec, options for make, training-pass seed or None). Seeds: with relu or max pooling, a kink
# (a pre-activation crossing 0, or a block's maximum changing hands) within epsilon = 1e-4 of a
# parameter's value makes the central difference wrong. The seeds here (make's default 1, and
# the training passes') give nets clear of one: each relu/max net passes in both engines. With
# other seeds, a failure of a relu/max net alone is first a kink to rule out (a smaller epsilon).
CASES = {
    "padding": ("i-1c3-1c3p2-2s-1c2", {}, None),  # the padded conv above a conv: its input delta
    "padding, first layer": ("i-1c3p1-2s-1c3", {}, None),
    "padding same": ("i-1c3-1c3ps-2s", {}, None),
    "padding same, 5x5": ("i-1c5ps-2s-1c3", {}, None),
    # padded layers over several maps: the fast engine's rowconv products (forward, kernel
    # gradient and input delta), with 'same' and larger pads, after a conv and after a pooling
    "padding, maps": ("i-2c3-3c3p2-2s-2c3p1", {"size": (8, 8)}, None),
    "padding same, maps, relu max": ("i-2c3rps-3c3rps-2m-2c5tps", {"size": (8, 8)}, None),
    "stride": ("i-1c3-1c2s2-1c2", {"size": (8, 8)}, None),
    "stride, first layer": ("i-1c2s2-2s", {"size": (8, 8)}, None),
    "stride, remainder dropped": ("i-1c3-1c2s2d-1c2", {"size": (9, 9)}, None),
    "stride 3 and padding, dropped": ("i-1c2-1c3p1s3d-1c2", {"size": (9, 9)}, None),
    "connections": ("i-2c2-3c2-2s", {"size": (4, 4), "tables": {2: TABLE}}, None),
    "connections, first layer": (
        "i-3c2-2s",
        {"size": (5, 5), "channels": 2, "tables": {1: TABLE}},
        None,
    ),
    "conv after conv": ("i-1c2-2c2-1c2", {"size": (4, 4)}, None),
    "conv after conv, tanh relu": ("i-1c2t-2c2r-1c2", {"size": (4, 4)}, None),
    "pooling after input": ("i-2s-1c2", {}, None),
    "pooling twice": ("i-1c3-2s-2s", {}, None),
    "max then mean pooling": ("i-1c3-2m-2s", {}, None),
    "pooling after input, twice": ("i-2m-3s-1c2", {"size": (12, 12)}, None),
    "f sigm": ("i-1c3-2s-3f", {}, None),
    "f tanh": ("i-1c3-2s-3ft", {}, None),
    "f relu": ("i-1c3-2s-3fr", {}, None),
    "f several": ("i-1c3-2s-3ft-3fr-2f", {}, None),
    "f after input": ("i-3ft-2f", {"size": (2, 2)}, None),
    "f softmax": ("i-1c3-2s-3fr", {"output": "softmax"}, None),
    "dropout": ("i-1c3-2s-3ftd0.5", {}, None),  # a pass outside training: outputs times 1 - q
    "dropout, training pass": ("i-1c3-2s-3ftd0.5", {}, 5),  # the masks held fixed
    "dropout twice, training pass": ("i-1c3-2s-4frd0.5-3fd0.25", {}, 3),
    # every option in one net each
    "mix: same, max, stride drop, table, f dropout": (
        "i-1c3rps-2m-2c2p1s2d-1c2t-3ftd0.5-2fr",
        {"size": (10, 10), "tables": {4: TABLE_21}},
        2,
    ),
    "mix: pool first, pad, table, pools, softmax": (
        "i-2s-2c3p1-3c1-2m-2s-2ft-2f",
        {"size": (8, 8), "tables": {3: TABLE}, "output": "softmax"},
        None,
    ),
    "mix: channels, stride, conv after conv, f relu": (
        "i-2c3rs2-2c2p1-2s-3frd0.25-3ft",
        {"size": (7, 7), "channels": 2, "tables": {2: TABLE[:, :2]}},
        4,
    ),
}


def _run(case, engine):
    spec, kw, train = CASES[case]
    net, x, y = make(spec, **kw)
    return forward_backward(net, x, y, engine, train), x, y


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", CASES)
def test_gradient_check_passes(case, engine):
    net, x, y = _run(case, engine)
    assert dlt.cnnnumgradcheck(net, x, y) is net


def test_lenet5_table_gradients():
    """C3's table between two small layers: the numerical check in the fast engine (in the
    reference engine, with about 300 convn calls a pass, it takes some 10 s for the net's 320
    parameters), and the reference engine's gradients equal to the fast engine's."""
    net, x, y = make("i-6c2-16c2@lenet5", size=(3, 3))
    assert net["layers"][2]["connections"] is LENET5_C3
    ref = forward_backward(copy.deepcopy(net), x, y, "reference")
    fst = forward_backward(net, x, y, "fast")
    dlt.cnnnumgradcheck(fst, x, y)
    for l in (1, 2):
        np.testing.assert_allclose(
            np.array(fst["layers"][l]["dk"]), np.array(ref["layers"][l]["dk"]), rtol=1e-12,
            atol=1e-15,
        )  # fmt: skip
        np.testing.assert_allclose(fst["layers"][l]["db"], ref["layers"][l]["db"], rtol=1e-12)
    np.testing.assert_allclose(fst["dffW"], ref["dffW"], rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- wrong gradients


def _shifted_unpad(maps, pad, size):  # the padded input's delta cut one row and column off
    return _unpad([np.roll(m, 1, axis=(0, 1)) for m in maps], pad, size)


def _packed_dilate(d, stride):  # the deltas not spread out to the stride: packed at the start
    out = _dilate(d, stride)
    if stride > 1:
        out[...] = 0
        out[: d.shape[0], : d.shape[1]] = d
    return out


def _crop_one_off(self, d_next, k_next, geometry, size):  # fast: the padding cut off one off
    if not geometry.pad or geometry.stride > 1:
        return _conv_input_grad(self, d_next, k_next, geometry, size)
    pad, (rows, cols) = geometry.pad, size
    # the whole 'full' convolution (the padded input's gradient), cut one row and column early
    full = self._full_conv(
        map_array(d_next), kernel_array(k_next), 0, (rows + 2 * pad, cols + 2 * pad)
    )
    return MapStack(
        np.ascontiguousarray(full[:, pad - 1 : pad - 1 + rows, pad - 1 : pad - 1 + cols])
    )


def _turned_delta_weights(kernels):  # fast, rowconv: the input delta's kernels turned by 180°
    return _delta_weights(np.ascontiguousarray(kernels[:, :, ::-1, ::-1]))


def _unturned_kernel_sums(patches, d, ks):  # fast, rowconv: rot180(dk) for dk
    return _kernel_sums(patches, d, ks)[:, :, ::-1, ::-1]


def _unturned_full_conv(self, dn, kernels, pad, size):  # fast: the kernels not turned by 180°
    return _full_conv(self, dn, np.ascontiguousarray(kernels[:, :, ::-1, ::-1]), pad, size)


def _packed_strided_input_grad(self, dn, kernels, geometry, size):  # fast: taps not strided
    return _strided_input_grad(self, dn, kernels, geometry._replace(stride=1), size)


def _unscaled_dense(self, grad):  # fast: a mean pooling's delta spread to a pooling layer below
    out = _dense(self, grad)  # without the division by scale^2
    if isinstance(grad, fast._Unpooled) and grad.method == "mean":
        out = MapStack(map_array(out) * grad.scale**2)
    return out


def _a_connected_kernel_dropped(self, layer, key="k"):  # dk of the first connected pair zeroed
    out = _kernels(self, layer, key)
    if key == "dk" and layer.get("connections") is not None:
        i, j = np.argwhere(layer["connections"])[0]
        out = KernelStack(kernel_array(out) * 1)
        out[i][j][...] = 0
    return out


def _no_derivative(a, name):  # an 'f' layer's delta without its activation's derivative
    return np.ones_like(a)


def _f_without_bias_gradient(self, layer, below, grad, engine, need_input):
    out = _fc_backward(self, layer, below, grad, engine, need_input)
    layer["db"] = np.zeros_like(layer["db"])
    return out


def _f_delta_through_w(self, layer, below, grad, engine, need_input):  # W @ d for W.T @ d
    out = _fc_backward(self, layer, below, grad, engine, need_input)
    if need_input and below["type"] == "f" and layer["W"].shape[0] == layer["W"].shape[1]:
        return layer["W"] @ layer["d"]  # the case has one square W (else nothing is caught)
    return out


def _row_major_unflatten(features, maps, rows, cols):  # 'f' features read back as maps wrongly
    return MapStack(features.reshape(maps, rows, cols, features.shape[-1]))


def _mask_not_applied(self, layer, below, grad, engine, need_input):
    mask = layer.pop("mask", None)  # backward then scales by 1 - q, as after a pass of cnnff
    try:
        return _fc_backward(self, layer, below, grad, engine, need_input)
    finally:
        if mask is not None:
            layer["mask"] = mask


def _dropout_ignored(self, layer, below, grad, engine, need_input):
    q = layer.pop("dropout", None)  # backward then reads a = h * (1 - q) as the activation
    try:
        return _fc_backward(self, layer, below, grad, engine, need_input)
    finally:
        if q is not None:
            layer["dropout"] = q


_unpad, _dilate = reference._unpad, reference._dilate
_full_conv, _strided_input_grad = fast.FastEngine._full_conv, fast.FastEngine._strided_input_grad
_conv_input_grad = fast.FastEngine.conv_input_grad
_delta_weights, _kernel_sums = rowconv.delta_weights, rowconv.kernel_sums
_dense, _kernels = fast.FastEngine.dense, conv.Conv._kernels
_fc_backward = fc.FullyConnected.backward
OWNERS = {"reference": reference, "Fast": fast.FastEngine, "rowconv": rowconv, "Conv": conv.Conv,
          "fc": fc, "FC": fc.FullyConnected, "base": base}  # fmt: skip
REF, FAST, BOTH = ["reference"], ["fast"], ENGINES

# name: (case, engines, "owner.function" patched, replacement); each replacement is on the
# case's backward path in those engines (test_gradient_check_passes runs them unpatched)
WRONG = {
    "padding: delta cut one off": ("padding", REF, "reference._unpad", _shifted_unpad),
    "same: delta cut one off": ("padding same", REF, "reference._unpad", _shifted_unpad),
    "padding: crop one off": ("padding", FAST, "Fast.conv_input_grad", _crop_one_off),
    "same: crop one off": ("padding same", FAST, "Fast.conv_input_grad", _crop_one_off),
    "padding, maps: delta kernels turned": (
        "padding, maps", FAST, "rowconv.delta_weights", _turned_delta_weights),
    "same, maps: delta kernels turned": (
        "padding same, maps, relu max", FAST, "rowconv.delta_weights", _turned_delta_weights),
    "padding, maps: dk not turned": (
        "padding, maps", FAST, "rowconv.kernel_sums", _unturned_kernel_sums),
    "stride: deltas packed": ("stride", REF, "reference._dilate", _packed_dilate),
    "stride first: dk's deltas packed": (
        "stride, first layer", REF, "reference._dilate", _packed_dilate),
    "stride drop: deltas packed": (
        "stride, remainder dropped", REF, "reference._dilate", _packed_dilate),
    "stride: taps packed": (
        "stride", FAST, "Fast._strided_input_grad", _packed_strided_input_grad),
    "stride 3, pad, drop: taps packed": (
        "stride 3 and padding, dropped", FAST, "Fast._strided_input_grad",
        _packed_strided_input_grad),
    "table: a connected dk dropped": (
        "connections", BOTH, "Conv._kernels", _a_connected_kernel_dropped),
    "table first: a connected dk dropped": (
        "connections, first layer", BOTH, "Conv._kernels", _a_connected_kernel_dropped),
    "conv after conv: kernels not turned": (
        "conv after conv", REF, "reference.rot180", lambda k: k),
    "conv after conv: taps not turned": (
        "conv after conv", FAST, "Fast._full_conv", _unturned_full_conv),
    "pooling twice: no / scale^2": ("pooling twice", FAST, "Fast.dense", _unscaled_dense),
    "f sigm: no derivative": ("f sigm", BOTH, "fc.derivative", _no_derivative),
    "f tanh: no derivative": ("f tanh", BOTH, "fc.derivative", _no_derivative),
    "f relu: no derivative": ("f relu", BOTH, "fc.derivative", _no_derivative),
    "f: no bias gradient": ("f several", BOTH, "FC.backward", _f_without_bias_gradient),
    "f: delta through W, not W.T": ("f several", BOTH, "FC.backward", _f_delta_through_w),
    "f over maps: row-major": ("f sigm", BOTH, "base.unflatten", _row_major_unflatten),
    "dropout: mask not applied": (
        "dropout, training pass", BOTH, "FC.backward", _mask_not_applied),
    "dropout twice: mask not applied": (
        "dropout twice, training pass", BOTH, "FC.backward", _mask_not_applied),
    "dropout: ignored in backward": ("dropout", BOTH, "FC.backward", _dropout_ignored),
}  # fmt: skip
WRONG_RUNS = [(w, e) for w, (_, engines, *_) in WRONG.items() for e in engines]


@pytest.mark.parametrize("wrong, engine", WRONG_RUNS, ids=[f"{w}-{e}" for w, e in WRONG_RUNS])
def test_a_wrong_gradient_is_caught(wrong, engine, monkeypatch):
    case, _, target, replacement = WRONG[wrong]
    owner, name = target.split(".")
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return replacement(*args, **kwargs)

    monkeypatch.setattr(OWNERS[owner], name, counted)
    net, x, y = _run(case, engine)
    assert calls, f"{name} is not on the path"
    with pytest.raises(GradientCheckError):
        dlt.cnnnumgradcheck(net, x, y)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_training_pass_is_checked_with_its_masks(engine, monkeypatch):
    """After a training pass, the check holds each dropout layer's mask fixed: the loss it
    perturbs is the one cnnbp differentiated. Rerun as a pass outside training (each output
    times 1 - q, what the check did before), the same gradients are off."""
    net, x, y = _run("dropout twice, training pass", engine)
    masks = [net["layers"][l]["mask"].copy() for l in (3, 4)]
    assert all(0 < m.mean() < 1 for m in masks)  # each drops some outputs and keeps some
    dlt.cnnnumgradcheck(net, x, y)
    for l, mask in zip((3, 4), masks):  # the check leaves the masks of the net as they are
        np.testing.assert_array_equal(net["layers"][l]["mask"], mask)
    monkeypatch.setattr(numgradcheck._SameMasks, "restart", lambda self: None)
    with pytest.raises(GradientCheckError):
        dlt.cnnnumgradcheck(net, x, y)


def test_masks_of_another_batch_are_refused():
    net, x, y = _run("dropout, training pass", "fast")
    with pytest.raises(dlt.NetFieldError, match=r'layers"\]\[3\]\["mask"\]'):
        dlt.cnnnumgradcheck(net, x[..., :2], y[:, :2])
    del net["layers"][3]["mask"]  # now a pass outside training, as far as the check can tell
    with pytest.raises(GradientCheckError):
        dlt.cnnnumgradcheck(net, x, y)


# --------------------------------------------------------------------------- connections


def _unconnected(net):
    """(layer, i, j) of every unconnected pair of the net."""
    for l, layer in enumerate(net["layers"]):
        if layer.get("connections") is not None:
            for i, j in np.argwhere(~layer["connections"]):
                yield l, i, j


def _check_unconnected_stay_zero(net, x, y):
    """A few cnntrain epochs (momentum, weight decay): every unconnected kernel is still
    exactly 0, and so are its gradient and velocity; every connected one has changed."""
    opts = {"alpha": 0.5, "batchsize": 2, "numepochs": 3, "momentum": 0.9, "weight_decay": 0.01}
    start = copy.deepcopy(net)
    net = dlt.cnntrain(net, x, y, opts, rng=3)
    for l, layer in enumerate(net["layers"]):
        if layer.get("connections") is None:
            continue
        for (i, j), connected in np.ndenumerate(layer["connections"]):
            if connected:
                assert not np.array_equal(layer["k"][i][j], start["layers"][l]["k"][i][j])
                continue
            for key in ("k", "dk", "vk"):
                assert not np.any(layer[key][i][j]), f"layers[{l}].{key}[{i}][{j}]"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", ["connections", "mix: pool first, pad, table, pools, softmax"])
def test_unconnected_kernels_are_not_trained(case, engine):
    spec, kw, _ = CASES[case]
    net, x, y = make(spec, **dict(kw, batch=4))
    net["engine"] = engine
    _check_unconnected_stay_zero(net, x, y)


@pytest.mark.parametrize("engine", ENGINES)
def test_no_step_changes_an_unconnected_kernel_set_non_zero(engine):
    """Weight decay and momentum leave a user's values of unconnected kernels (and of their
    velocities) as they are: they are no parameters."""
    spec, kw, _ = CASES["connections"]
    net, x, y = make(spec, **dict(kw, batch=4))
    net["engine"] = engine
    pairs = list(_unconnected(net))
    for l, i, j in pairs:
        net["layers"][l]["k"][i][j][...] = 0.7
    opts = {"alpha": 0.5, "batchsize": 2, "numepochs": 2, "momentum": 0.9, "weight_decay": 0.1}
    net = dlt.cnntrain(net, x, y, opts, rng=3)
    for l, i, j in pairs:
        assert np.all(net["layers"][l]["k"][i][j] == 0.7), f"layers[{l}].k[{i}][{j}]"
        assert not np.any(net["layers"][l]["vk"][i][j]), f"layers[{l}].vk[{i}][{j}]"


def _dk_not_zeroed(self, layer, key="k"):  # the engine's dk of an unconnected pair kept
    return layer[key] if key == "dk" else _kernels(self, layer, key)


def test_a_trained_unconnected_kernel_is_caught(monkeypatch):
    spec, kw, _ = CASES["connections"]
    net, x, y = make(spec, **kw, batch=4)
    monkeypatch.setattr(conv.Conv, "_kernels", _dk_not_zeroed)
    with pytest.raises(AssertionError, match=r"layers\[2\]\.dk\[0\]\[1\]"):
        _check_unconnected_stay_zero(net, x, y)


@pytest.mark.parametrize("engine", ENGINES)
def test_unconnected_kernels_are_never_used(engine):
    """Unconnected kernels set non-zero change neither the output nor the gradients, and the
    check does not count them: garbage in their dk is not looked at."""
    net, x, y = make("i-2c2-3c2-2s", size=(4, 4), tables={2: TABLE})
    plain = forward_backward(copy.deepcopy(net), x, y, engine)
    for l, i, j in _unconnected(net):
        net["layers"][l]["k"][i][j][...] = 0.7
    forward_backward(net, x, y, engine)
    np.testing.assert_array_equal(net["o"], plain["o"])
    np.testing.assert_array_equal(net["dffW"], plain["dffW"])
    for l in (1, 2):
        np.testing.assert_array_equal(np.array(net["layers"][l]["dk"]), plain["layers"][l]["dk"])
    for l, i, j in _unconnected(net):
        assert not np.any(net["layers"][l]["dk"][i][j])
        net["layers"][l]["dk"][i][j][...] = 5.0
    dlt.cnnnumgradcheck(net, x, y)


@pytest.mark.parametrize(
    "spec, table, links",
    [("i-2c2-3c2-2s", TABLE, 4), ("i-6c2-16c2@lenet5", LENET5_C3, 60)],
)
def test_the_check_counts_connected_kernels_only(spec, table, links):
    net, x, y = make(spec, size=(4, 4), tables={2: table})
    forward_backward(net, x, y, "fast")
    layer = net["layers"][2]
    names = [name for name, *_ in conv.Conv().entries(layer, layer, "layers[2]")]
    ks, maps = layer["kernelsize"], table.shape[1]
    assert len(names) == links * ks * ks + maps
    for i, j in np.argwhere(~table):
        assert not any(name.startswith(f'layers[2]["k"][{i}][{j}]') for name in names)
    assert dlt.cnnsummary(net, (4, 4)).rows[2].params == links * ks * ks + maps


# --------------------------------------------------------------------------- float32

#: every option: pooling after input, padding (int and same), stride with a dropped remainder, a
#: table and LENET5_C3, conv after conv, pooling twice, 'f' layers sigm/tanh/relu with dropout
FLOAT32_NETS = [
    ("i-2s-2c3rps-2c2p1s2d-6c1t-16c1t@lenet5-2m-2s-4frd0.5-3ftd0.25-3f", (14, 14), 2,
     {4: np.array([[1, 1, 1, 0, 0, 1], [0, 0, 1, 1, 1, 1]], bool)}),
    ("i-2c3-3c3p2-2c1-2s-2s-3ft", (8, 8), 1, {2: TABLE, 3: TABLE.T}),
]  # fmt: skip


def _numeric_fields(net):
    """(name, value, kind, key) of every numeric field of the net (kind None) and its layers,
    from the field table: maps, kernels and list entries (biases of a conv layer) one by one."""
    owners = [("net", net, None)] + [
        (f"layers[{l}]", layer, layer["type"]) for l, layer in enumerate(net["layers"])
    ]
    for where, owner, kind in owners:
        for key, value in owner.items():
            f = field_of(key, kind)
            if f is None or f.form in ("str", "int", "real", "value", "table"):
                continue
            if f.form == "grid":
                for i, row in enumerate(value):
                    for j, k in enumerate(row):
                        yield f"{where}.{key}[{i}][{j}]", k, kind, key
            elif f.form in ("maps", "scalars"):
                for j, v in enumerate(value):
                    yield f"{where}.{key}[{j}]", v, kind, key
            else:
                yield f"{where}.{key}", value, kind, key


#: Python floats by design: the loss L, a conv layer's db (as the toolbox's scalars), a
#: pooling layer's unused b; and cnntrain's record of the losses L, rL, is float64
PYTHON_FLOATS = {(None, "L"), ("c", "db"), ("s", "b")}


def _assert_float32(net, when):
    """Every numeric field float32 (arrays, maps, kernels, conv biases and velocities as
    np.float32); returns the names seen."""
    names = []
    for name, value, kind, key in _numeric_fields(net):
        names.append(name)
        if (kind, key) in PYTHON_FLOATS and type(value) is float:
            continue
        if (kind, key) == (None, "rL") and value.dtype == np.float64:
            continue
        assert getattr(value, "dtype", None) == np.float32, f"{when}: {name} is {value!r:.60}"
    return names


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("spec, size, channels, tables", FLOAT32_NETS)
def test_float32_nets_stay_float32(spec, size, channels, tables, engine):
    rng = np.random.default_rng(0)
    x = rng.random(size + ((channels,) if channels > 1 else ()) + (4,)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[:, [0, 1, 2, 1]]
    layers = parse_spec(spec)
    for l, table in tables.items():
        layers[l]["connections"] = table
    net = dlt.cnnsetup({"layers": layers, "output": "softmax", "engine": engine}, x, y, rng=0)
    _assert_float32(net, "cnnsetup")
    dlt.cnnff(net, x)
    _assert_float32(net, "cnnff")
    dlt.cnnbp(net, y)
    _assert_float32(net, "cnnbp")
    dlt.cnnapplygrads(net, {"alpha": 0.1, "momentum": 0.9, "weight_decay": 1e-3})
    _assert_float32(net, "cnnapplygrads")
    opts = {"alpha": 0.1, "batchsize": 2, "numepochs": 2, "momentum": 0.5, "weight_decay": 1e-3}
    net = dlt.cnntrain(net, x, y, opts, rng=1)
    names = _assert_float32(net, "cnntrain")
    for l, layer in enumerate(net["layers"]):  # all of each 'f' layer's fields were seen
        if layer["type"] == "f":
            extra = ("h", "mask") if layer.get("dropout") else ()
            for key in ("W", "b", "dW", "db", "vW", "vb", "a", "d") + extra:
                assert f"layers[{l}].{key}" in names, key
    conv_layer = net["layers"][3]
    assert all(isinstance(b, np.float32) for b in conv_layer["b"] + conv_layer["vb"])
