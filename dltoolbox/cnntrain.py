"""cnntrain: mini-batch gradient descent over epochs (port of ``CNN/cnntrain.m``)."""

from __future__ import annotations

import numpy as np

from . import checks
from .cnnapplygrads import cnnapplygrads
from .cnnbp import cnnbp
from .cnnff import cnnff
from .cnnsetup import as_rng


def cnntrain(net: dict, x: np.ndarray, y: np.ndarray, opts: dict, rng=None) -> dict:
    """Train for ``opts["numepochs"]`` epochs of ``m / opts["batchsize"]`` batches.

    Parameters
    ----------
    net : dict
        A net from :func:`cnnsetup`. Modified in place and returned.
    x : ndarray, shape (rows, cols, m)
    y : ndarray, shape (classes, m)
    opts : dict
        ``alpha`` (learning rate), ``batchsize`` (must divide m), ``numepochs``.
    rng : None, int or object with ``randperm(n)``
        Each epoch draws ``kk = rng.randperm(m)``; batch b is ``kk[b*bs:(b+1)*bs]``.

    Returns
    -------
    net : dict
        Trained, with ``rL`` (1 + numepochs * numbatches,): ``rL[0]`` is the first batch's
        loss, then each batch appends ``0.99 * rL[-1] + 0.01 * L``.
    """
    checks.require_setup(net)
    x = checks.maps_input(x)
    m = x.shape[2]
    y = checks.labels(y, m, net["ffW"].shape[0])
    if not isinstance(opts, dict):
        raise TypeError(f"opts: expected a dict, got {type(opts).__name__}")
    for key in ("alpha", "batchsize", "numepochs"):
        if key not in opts:
            raise ValueError(f"opts: missing key {key!r} (cnntrain needs alpha, batchsize, numepochs)")
    checks.positive_float(opts["alpha"], 'opts["alpha"]')
    batchsize = checks.positive_int(opts["batchsize"], 'opts["batchsize"]')
    numepochs = opts["numepochs"]
    if isinstance(numepochs, bool) or not isinstance(numepochs, (int, np.integer)) or numepochs < 0:
        raise ValueError(f'opts["numepochs"]: expected a non-negative integer, got {numepochs!r}')
    if m % batchsize:
        raise ValueError(
            f'opts["batchsize"]: expected a divisor of the sample count {m} '
            f"(numbatches not integer), got {batchsize}"
        )
    rng = as_rng(rng)
    numbatches = m // batchsize

    rL: list[float] = []
    for _ in range(int(numepochs)):
        kk = np.asarray(rng.randperm(m))
        for b in range(numbatches):
            idx = kk[b * batchsize : (b + 1) * batchsize]
            cnnff(net, x[:, :, idx])
            cnnbp(net, y[:, idx])
            cnnapplygrads(net, opts)
            if not rL:
                rL.append(net["L"])
            rL.append(0.99 * rL[-1] + 0.01 * net["L"])
    net["rL"] = np.array(rL)
    return net
