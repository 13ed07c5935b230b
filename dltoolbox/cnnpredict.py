"""cnnpredict: the labels a net gives (not in the toolbox, whose users ask for it first)."""

from __future__ import annotations

import numpy as np

from . import checks
from .cnnff import cnnff
from .errors import InputError
from .layers import INPUT, OUTPUT
from .net import channels, map_sizes


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
    x = checks.net_input(x, channels(net))
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
    size = INPUT.map_size(net["layers"][0])
    if size is not None:
        return tuple(int(n) for n in size)
    features = OUTPUT.features(net)
    for side in range(1, features + 2):  # the feature count grows with the input size
        try:
            maps, rows, cols = map_sizes(net["layers"], (side, side), channels(net))[-1]
        except ValueError:  # a size the layers cannot take
            continue
        if maps * rows * cols >= features:
            if maps * rows * cols == features:
                return side, side
            break
    raise InputError(
        f"net: its {features} features (ffW) come from no square input size through its "
        "layers; give the input size (rows, cols) explicitly"
    )
