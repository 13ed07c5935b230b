"""cnnff: the forward pass (port of ``CNN/cnnff.m``)."""

from __future__ import annotations

import numpy as np

from . import checks, netcheck
from .engines import Engine, create
from .layers import INPUT, OUTPUT, kind_of
from .net import channels, map_sizes


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
        ``a[c]`` is channel c of x; maps are read-only), ``fv`` (features, batch): the last
        layer's maps, each flattened column-major (as MATLAB's ``reshape``) and stacked map
        after map, and ``o = sigm(ffW @ fv + ffb)`` (classes, batch), or its column-wise
        softmax when ``net["output"] == "softmax"``.

    Each conv layer applies its ``"activation"`` (default ``"sigm"``), each subsampling layer
    its ``"method"`` (default ``"mean"``); see :mod:`dltoolbox.layers`.
    """
    x = prepare(net, x)
    return forward(net, x, create(net))


def prepare(net: dict, x: np.ndarray) -> np.ndarray:
    """The checks of :func:`cnnff`: ``x`` as :func:`forward` takes it.

    Raises an InputError/InputTypeError naming the argument when the net is not set up or ``x``
    does not fit it (dimensions, no sample, map sizes the layers cannot divide, a feature count
    other than ``ffW``'s, NaN or Inf), and a NetFieldError naming the field when a trained field
    of the net is missing, mis-shaped or not finite (:mod:`dltoolbox.netcheck`).
    """
    checks.require_setup(net)
    nchannels = channels(net)
    x = checks.net_input(x, nchannels)
    netcheck.check_params(net, map_sizes(net["layers"], x.shape[:2], nchannels), "x")
    return x


def forward(net: dict, x: np.ndarray, engine: Engine, rng=None) -> dict:
    """:func:`cnnff` without its checks (see :func:`prepare`), for a loop over batches;
    ``rng``: the training stream of cnntrain (dropout masks), None for a pass outside it."""
    layers = net["layers"]
    with engine.running():
        INPUT.feed(layers[0], x)
        for l in range(1, len(layers)):
            kind_of(layers[l]).forward(layers[l], layers[l - 1], engine, l, rng)
        OUTPUT.forward(net, layers[-1])
    return net


def scratch_copy(net: dict) -> dict:
    """A shallow copy of the net and its layer dicts, for a forward pass that leaves ``net``
    untouched (cnntest, cnnpredict)."""
    return dict(net, layers=[dict(layer) for layer in net["layers"]])
