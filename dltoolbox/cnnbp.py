"""cnnbp: loss, deltas and gradients (port of ``CNN/cnnbp.m``)."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from . import checks
from .activations import cross_entropy, derivative, softmax_delta
from .engines import get_engine
from .engines.fast import MapStack


def cnnbp(net: dict, y: np.ndarray) -> dict:
    """Back-propagate the loss of the last :func:`cnnff` against targets ``y``.

    The loss is the toolbox's squared error, or the cross-entropy for a softmax output
    (``net["output"] == "softmax"``).

    Parameters
    ----------
    net : dict
        A net after :func:`cnnff`. Modified in place and returned.
    y : ndarray, shape (classes, batch)
        Real targets, cast to the net's dtype (float64, or float32 for a float32 net).

    Returns
    -------
    net : dict
        With ``e = o - y`` and ``L = 0.5 * sum(e**2) / batch`` (float; softmax output:
        ``L = -sum(y .* log(o)) / batch``, and ``od = o .* sum(y) - y``, that is ``o - y`` for
        labels whose columns sum to 1); ``od`` (classes, batch),
        ``fvd`` (features, batch); every layer's ``d[j]`` (rows_l, cols_l, batch) above the
        input layer; conv layers' ``dk[i][j]`` (ks, ks) and ``db[j]`` (float); ``dffW``
        (classes, features) and ``dffb`` (classes, 1). Gradients are batch means.
    """
    checks.require_setup(net)
    checks.require_keys(net, ("o", "fv"), "cnnbp", "cnnff")
    o, ffW = net["o"], net["ffW"]
    y = checks.labels(y, o.shape[1], ffW.shape[0], o.dtype)  # a float32 net stays float32
    return backward(net, y, get_engine(net))


def backward(net: dict, y: np.ndarray, engine: ModuleType) -> dict:
    """:func:`cnnbp` without its checks, for a loop over batches: ``y`` (classes, batch) real,
    finite and of the batch's size (cast to the dtype of ``net["o"]`` here)."""
    layers = net["layers"]
    o, fv, ffW = net["o"], net["fv"], net["ffW"]
    y = y.astype(o.dtype, copy=False)
    batch = o.shape[1]

    net["e"] = o - y
    if net.get("output", "sigm") == "softmax":  # cross-entropy
        net["L"] = cross_entropy(o, y)
        net["od"] = softmax_delta(o, y)  # o - y for one-hot labels
    else:
        net["L"] = float(0.5 * np.sum(net["e"] ** 2) / batch)
        net["od"] = net["e"] * (o * (1 - o))  # output delta (classes, batch)
    net["fvd"] = ffW.T @ net["od"]  # feature vector delta (features, batch)
    if layers[-1]["type"] == "c":  # only conv layers have an activation of their own
        # the toolbox's fvd .* (fv .* (1 - fv)) for the default sigmoid
        net["fvd"] = net["fvd"] * derivative(fv, layers[-1].get("activation", "sigm"))

    # feature-vector delta back into map shape: the inverse of cnnff's column-major flatten
    maps = len(layers[-1]["a"])
    rows, cols, _ = layers[-1]["a"][0].shape
    d = net["fvd"].reshape(maps, cols, rows, batch).transpose(0, 2, 1, 3)  # (maps, rows, cols, .)
    layers[-1]["d"] = MapStack(d)  # d[j] (rows, cols, batch): views of fvd

    for l in range(len(layers) - 2, 0, -1):
        layer, above = layers[l], layers[l + 1]
        if layer["type"] == "c":  # above is 's': un-pool through expand
            layer["d"] = engine.conv_delta(
                layer["a"],
                above["d"],
                above["scale"],
                layer.get("activation", "sigm"),
                above.get("method", "mean"),
            )
        else:  # above is 'c': 'full' convolution with the rotated kernels
            layer["d"] = engine.pool_delta(above["d"], above["k"])

    for l in range(1, len(layers)):
        if layers[l]["type"] == "c":
            layers[l]["dk"], layers[l]["db"] = engine.conv_grads(layers[l - 1]["a"], layers[l]["d"])
    net["dffW"] = net["od"] @ fv.T / batch
    net["dffb"] = net["od"].sum(axis=1, keepdims=True) / batch  # as np.mean, with less overhead
    return net
