"""cnnff: the forward pass (port of ``CNN/cnnff.m``)."""

from __future__ import annotations

import numpy as np

from . import checks
from .activations import softmax
from .cnnsetup import map_sizes
from .engines import get_engine
from .util import sigm


def cnnff(net: dict, x: np.ndarray) -> dict:
    """Run the net forward on a batch.

    Parameters
    ----------
    net : dict
        A net from :func:`cnnsetup`. Modified in place and returned.
    x : ndarray, shape (rows, cols, batch) or (rows, cols) for one sample
        For a net with several input channels (``net["layers"][0]["channels"]``, see
        :func:`cnnsetup`): (rows, cols, channels, batch), or (rows, cols, channels) for one
        sample. float32 x keeps a float32 net in float32; other real dtypes compute in float64.

    Returns
    -------
    net : dict
        With every layer's ``a[j]`` (rows_l, cols_l, batch) (layer 0: ``a[0]`` is x, or
        ``a[c]`` is channel c of x), ``fv`` (features, batch): the last layer's maps, each
        flattened column-major (as MATLAB's ``reshape``) and stacked map after map, and
        ``o = sigm(ffW @ fv + ffb)`` (classes, batch), or its column-wise softmax when
        ``net["output"] == "softmax"``.

    Each conv layer applies its ``"activation"`` (default ``"sigm"``), each subsampling layer
    its ``"method"`` (default ``"mean"``); see :mod:`dltoolbox.engines`.
    """
    checks.require_setup(net)
    nchannels = checks.channels(net)
    x = checks.net_input(x, nchannels)
    layers = net["layers"]
    map_sizes(layers, x.shape[:2], nchannels)
    engine = get_engine(net)

    layers[0]["a"] = [x] if nchannels == 1 else [x[:, :, c] for c in range(nchannels)]
    for l in range(1, len(layers)):
        layer, below = layers[l], layers[l - 1]
        if layer["type"] == "c":
            layer["a"] = engine.conv_forward(
                below["a"], layer["k"], layer["b"], layer.get("activation", "sigm")
            )
        else:
            layer["a"] = engine.pool_forward(
                below["a"], layer["scale"], layer.get("method", "mean")
            )

    last = layers[-1]["a"]
    rows, cols, batch = last[0].shape
    # column-major flatten of each map (MATLAB's reshape), maps stacked one after another
    net["fv"] = np.concatenate([a.reshape(rows * cols, batch, order="F") for a in last])
    if net["fv"].shape[0] != net["ffW"].shape[1]:
        raise ValueError(
            f"x: maps of size {x.shape[:2]} give {net['fv'].shape[0]} features, but ffW "
            f"expects {net['ffW'].shape[1]}: x does not match the size the net was set up for"
        )
    if net.get("output", "sigm") == "softmax":
        net["o"] = softmax(net["ffW"] @ net["fv"] + net["ffb"])
    else:
        net["o"] = sigm(net["ffW"] @ net["fv"] + net["ffb"])  # (classes, batch)
    return net
