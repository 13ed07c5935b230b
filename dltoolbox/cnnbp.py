"""cnnbp: loss, deltas and gradients (port of ``CNN/cnnbp.m``)."""

from __future__ import annotations

import numpy as np

from . import checks, netcheck
from .engines import Engine, create
from .layers import OUTPUT, kind_of
from .net import list_kernels


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
    sizes, batch = checks.last_pass_sizes(net, "cnnbp")
    netcheck.check_params(net, sizes, 'net["layers"][0]["a"]')
    netcheck.check_last_pass(net, sizes, batch)
    o = net["o"]
    y = checks.labels(y, batch, o.shape[0], o.dtype)  # float32 stays float32
    return list_kernels(backward(net, y, create(net)))


def backward(net: dict, y: np.ndarray, engine: Engine) -> dict:
    """:func:`cnnbp` without its checks, for a loop over batches: ``y`` (classes, batch) real,
    finite and of the batch's size (cast to the dtype of ``net["o"]`` here). Each ``dk`` is
    left as one (maps_in, maps_out, ks, ks) array (:func:`~dltoolbox.net.list_kernels`)."""
    layers = net["layers"]
    y = y.astype(net["o"].dtype, copy=False)
    with engine.running():
        grad = OUTPUT.backward(net, y, layers[-1])  # the loss gradient of the last layer's maps
        for l in range(len(layers) - 1, 0, -1):  # each layer's delta, from the top down
            grad = kind_of(layers[l]).backward(layers[l], layers[l - 1], grad, engine, l > 1)
        OUTPUT.finish(net, layers[-1])
    return net
