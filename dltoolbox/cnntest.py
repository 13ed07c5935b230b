"""cnntest: classification error (port of ``CNN/cnntest.m``)."""

from __future__ import annotations

import numpy as np

from . import checks
from .cnnff import cnnff
from .layers import OUTPUT
from .net import channels


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
    checks.require_setup(net)
    x = checks.net_input(x, channels(net))
    y = checks.labels(y, x.shape[-1], OUTPUT.classes(net))
    scratch = dict(net, layers=[dict(layer) for layer in net["layers"]])
    o = cnnff(scratch, x)["o"]
    bad = np.flatnonzero(np.argmax(o, axis=0) != np.argmax(y, axis=0))
    return len(bad) / y.shape[1], bad
