"""cnntest: classification error (port of ``CNN/cnntest.m``)."""

from __future__ import annotations

import numpy as np

from . import checks
from .cnnff import forward, prepare, scratch_copy
from .engines import create
from .netcheck import output_classes


def cnntest(net: dict, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Fraction of samples whose largest output is not the largest entry of their label.

    Parameters
    ----------
    net : dict
        A set-up net; it is not modified (the forward pass runs on a shallow copy).
    x : ndarray, shape (rows, cols, batch) or (rows, cols) for one sample; for a net with
        several input channels (rows, cols, channels, batch) or (rows, cols, channels)
        Real numbers: float32 stays float32, any other numeric dtype is computed in float64.
    y : ndarray, shape (classes, batch)
        Targets; only the row of each column's largest entry is used.

    Returns
    -------
    er : float
        ``len(bad) / batch``.
    bad : ndarray of int64, shape (nbad,)
        0-based indices of the wrongly classified samples (ties go to the first index).
    """
    x = prepare(net, x)
    y = checks.labels(y, x.shape[-1], output_classes(net))
    o = forward(scratch_copy(net), x, create(net))["o"]
    bad = np.flatnonzero(np.argmax(o, axis=0) != np.argmax(y, axis=0))
    return len(bad) / y.shape[1], bad
