"""cnnpredict: the labels a net gives (not in the toolbox, whose users ask for it first)."""

from __future__ import annotations

import numpy as np

from . import checks
from .cnnff import forward, prepare, scratch_copy
from .engines import create
from .errors import InputError, NetFieldError
from .layers import OUTPUT, kind_of
from .net import channels, map_sizes
from .netcheck import output_classes


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
    x = prepare(net, x)
    o = forward(scratch_copy(net), x, create(net))["o"]
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
    if "a" in net["layers"][0]:
        sizes, _ = checks.last_pass_sizes(net, "net_input_size")
        return sizes[0][1:]
    output_classes(net)  # ffW checked
    layers = net["layers"]
    # the first layer reading flattened maps: an 'f' layer, else the output
    l = next((l for l, layer in enumerate(layers) if kind_of(layer).flat), len(layers))
    reader, kind = (layers[l], kind_of(layers[l])) if l < len(layers) else (net, OUTPUT)
    weights = reader.get(kind.features_field)
    if not isinstance(weights, np.ndarray) or weights.ndim != 2:
        where = f'net["layers"][{l}]' if reader is not net else "net"
        raise NetFieldError(f'{where}["{kind.features_field}"]', "expected a 2-D float array")
    features = weights.shape[1]
    for side in range(1, features + 2):  # the feature count grows with the input size
        try:
            maps, rows, cols = map_sizes(layers[:l], (side, side), channels(net))[-1]
        except ValueError:  # a size the layers cannot take
            continue
        if maps * rows * cols >= features:
            if maps * rows * cols == features:
                return side, side
            break
    raise InputError(
        f"net: its {features} features ({kind.features_field}) come from no square input size "
        "through its layers; give the input size (rows, cols) explicitly"
    )
