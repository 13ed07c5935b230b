"""cnnpredict: the labels a net gives (not in the toolbox, whose users ask for it first)."""

from __future__ import annotations

import math

import numpy as np

from . import checks
from .cnnff import cnnff
from .cnnsetup import map_sizes


def cnnpredict(net: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Classify a batch or one sample: the row of each column's largest output.

    Parameters
    ----------
    net : dict
        A set-up (trained) net; it is not modified (the forward pass runs on a shallow copy of
        the net and its layer dicts, as in :func:`cnntest`).
    x : ndarray, shape (rows, cols, batch) or (rows, cols) for one sample; for a net with
        several input channels (rows, cols, channels, batch) or (rows, cols, channels)
        In the layout the net was trained on (for :func:`~dltoolbox.datasets.load_mnist`'s
        default, the toolbox's: each image transposed, values in [0, 1]).

    Returns
    -------
    labels : ndarray of int64, shape (batch,)
        0-based class indices (for MNIST, the digits), ties to the first; shape (1,) for one
        sample.
    o : ndarray, shape (classes, batch)
        The outputs; each column sums to 1 for a ``net["output"] == "softmax"`` net.
    """
    checks.require_setup(net)
    x = checks.net_input(x, checks.channels(net))
    scratch = dict(net, layers=[dict(layer) for layer in net["layers"]])
    o = cnnff(scratch, x)["o"]
    return np.argmax(o, axis=0).astype(np.int64), o


def net_input_size(net: dict) -> tuple[int, int]:
    """The (rows, cols) of the maps a set-up net takes.

    Read from the input layer's maps ``net["layers"][0]["a"]`` when the net holds them (a net
    that has run :func:`cnnff`, or a file saved with its activations); else worked back from
    ``ffW``'s feature count through the layers, assuming square maps (as MNIST's 28 x 28).

    Parameters
    ----------
    net : dict

    Returns
    -------
    (rows, cols) : tuple of int

    Raises
    ------
    ValueError
        When the feature count gives no square size that the layers reproduce.
    """
    checks.require_setup(net)
    layers, nchannels = net["layers"], checks.channels(net)
    maps_a = layers[0].get("a")
    if maps_a:
        return tuple(int(n) for n in np.shape(maps_a[0])[:2])
    features = int(np.shape(net["ffW"])[1])
    maps = _maps_below(layers)
    side = math.isqrt(features // maps) if features % maps == 0 else 0
    for layer in reversed(layers[1:]):
        side = side * layer["scale"] if layer["type"] == "s" else side + layer["kernelsize"] - 1
    try:
        last_maps, rows, cols = map_sizes(layers, (side, side), nchannels)[-1]
    except ValueError:
        rows = cols = last_maps = 0
    if side < 1 or last_maps * rows * cols != features:
        raise ValueError(
            f"net: its {features} features (ffW) come from no square input size through its "
            "layers; give the input size (rows, cols) explicitly"
        )
    return side, side


def _maps_below(layers: list) -> int:
    """The map count of the last layer: that of the last conv layer, else the input's."""
    for layer in reversed(layers[1:]):
        if layer["type"] == "c":
            return int(layer["outputmaps"])
    return layers[0].get("channels", 1)
