"""The activation functions a layer may use, and their derivatives written with the output.

``"sigm"`` (the toolbox's, the default), ``"tanh"`` and ``"relu"`` for the convolution layers;
``"sigm"`` (the default) and ``"softmax"`` for the output (see :data:`OUTPUTS`).

Back-propagation only keeps a layer's output ``a = f(z)``, so every derivative ``f'(z)`` is
written with ``a``: ``a (1 - a)`` for sigm, ``1 - a^2`` for tanh, ``1 if a > 0 else 0`` for relu
(0 at z = 0, where relu has no derivative).
"""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .util import sigm

#: Activations of a 'c' layer (``layer["activation"]``); the first is the default.
ACTIVATIONS = ("sigm", "relu", "tanh")
#: Output functions (``net["output"]``): sigm with the toolbox's squared error, or softmax with
#: cross-entropy; the first is the default.
OUTPUTS = ("sigm", "softmax")


def activate(z: np.ndarray, name: str) -> np.ndarray:
    """``f(z)`` for activation ``name``, a new array of ``z``'s shape and dtype."""
    if name == "sigm":
        return sigm(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    raise InputError(f"activation: expected one of {ACTIVATIONS}, got {name!r}")


def derivative(a: np.ndarray, name: str) -> np.ndarray:
    """``f'(z)`` from the output ``a = f(z)``, a new array of ``a``'s shape and dtype."""
    if name == "sigm":
        return a * (1 - a)
    if name == "tanh":
        return 1 - a * a
    if name == "relu":
        return (a > 0).astype(a.dtype)
    raise InputError(f"activation: expected one of {ACTIVATIONS}, got {name!r}")


def softmax(z: np.ndarray) -> np.ndarray:
    """Column-wise softmax of ``z`` (classes, batch), shifted by each column's maximum."""
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """``log(softmax(z))`` column-wise, computed without overflow or log(0)."""
    shifted = z - np.max(z, axis=0, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=0, keepdims=True))


def softmax_delta(o: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The output delta of softmax with cross-entropy ``L = -sum(y .* log(o)) / batch``:
    ``o .* sum(y) - y`` per column (classes, batch), which is ``o - y`` for one-hot labels."""
    return o * np.sum(y, axis=0) - y


def cross_entropy(o: np.ndarray, y: np.ndarray) -> float:
    """``-sum(y .* log(o)) / batch`` for o, y (classes, batch); ``log(o)`` only where y != 0."""
    log_o = np.log(o, out=np.zeros_like(o), where=y != 0)
    return float(-np.sum(y * log_o) / o.shape[1])
