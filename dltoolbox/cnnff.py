"""cnnff: the forward pass (port of ``CNN/cnnff.m``)."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from . import checks
from .activations import softmax
from .cnnsetup import map_sizes
from .engines import get_engine
from .engines.fast import map_array
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
    x, engine = prepare(net, x)
    return forward(net, x, engine)


def prepare(net: dict, x: np.ndarray) -> tuple[np.ndarray, ModuleType]:
    """The checks of :func:`cnnff`: ``x`` as :func:`forward` takes it, and the net's engine.

    Raises a ValueError/TypeError naming the argument when the net is not set up or ``x`` does
    not fit it (dimensions, map sizes the layers cannot divide, a feature count other than
    ``ffW``'s, NaN or Inf).
    """
    checks.require_setup(net)
    nchannels = checks.channels(net)
    x = checks.net_input(x, nchannels)
    maps, rows, cols = map_sizes(net["layers"], x.shape[:2], nchannels)[-1]
    if maps * rows * cols != net["ffW"].shape[1]:
        raise ValueError(
            f"x: maps of size {x.shape[:2]} give {maps * rows * cols} features, but ffW "
            f"expects {net['ffW'].shape[1]}: x does not match the size the net was set up for"
        )
    return x, get_engine(net)


def forward(net: dict, x: np.ndarray, engine: ModuleType) -> dict:
    """:func:`cnnff` without its checks (see :func:`prepare`), for a loop over batches."""
    layers = net["layers"]
    layers[0]["a"] = [x] if x.ndim == 3 else [x[:, :, c] for c in range(x.shape[2])]
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

    last = map_array(layers[-1]["a"])  # (maps, rows, cols, batch)
    # each map flattened column-major (MATLAB's reshape), maps stacked one after another
    fv = last.transpose(0, 2, 1, 3).reshape(-1, last.shape[-1])  # (features, batch)
    net["fv"] = fv.copy() if np.may_share_memory(fv, last) else fv  # never a view of a[j]
    if net.get("output", "sigm") == "softmax":
        net["o"] = softmax(net["ffW"] @ net["fv"] + net["ffb"])
    else:
        net["o"] = sigm(net["ffW"] @ net["fv"] + net["ffb"])  # (classes, batch)
    return net
