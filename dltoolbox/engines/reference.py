"""Reference kernels: the toolbox's loops over maps, with ``convn`` as ``scipy.signal.convolve``.

Slow but close to the MATLAB text; they are the oracle the fast engine is tested against.
``method="fft"`` is chosen on purpose: for the kernel gradient (a batch-long 'valid'
convolution) scipy's 'auto' picks its slow direct N-d path, and FFT was fastest for all of
these shapes while staying within about 1e-15 of direct summation.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import convolve

from ..activations import activate, derivative
from ..util import expand, flipall, rot180, sigm


def convn(a: np.ndarray, k: np.ndarray, mode: str) -> np.ndarray:
    """MATLAB's ``convn``: true N-d convolution; a 2-D ``k`` is applied to every slice of ``a``."""
    k = k.reshape(k.shape + (1,) * (a.ndim - k.ndim))
    if a.dtype == np.float32:  # as in MATLAB, single data stay single with a double kernel
        k = k.astype(np.float32)
    return convolve(a, k, mode=mode, method="fft")


def conv_forward(a_prev: list, k: list, b: list, activation: str = "sigm") -> list:
    """a[j] = sigm(sum_i convn(a_prev[i], k[i][j], 'valid') + b[j]); each (rows, cols, batch).

    Another ``activation`` (see :mod:`dltoolbox.activations`) replaces sigm.
    """
    out = []
    for j in range(len(b)):
        z = sum(convn(a_prev[i], k[i][j], "valid") for i in range(len(a_prev)))
        out.append(sigm(z + b[j]) if activation == "sigm" else activate(z + b[j], activation))
    return out


def pool_forward(a_prev: list, scale: int, method: str = "mean") -> list:
    """Mean pooling: convolve with ones(scale) / scale^2 and keep every scale-th element.

    ``method="max"``: the largest element of each scale x scale block (:func:`max_pool`).
    """
    if method == "max":
        return [max_pool(a, scale) for a in a_prev]
    box = np.ones((scale, scale)) / scale**2
    return [convn(a, box, "valid")[::scale, ::scale, :] for a in a_prev]


def max_pool(a: np.ndarray, scale: int) -> np.ndarray:
    """(rows / scale, cols / scale, batch): the maximum of each scale x scale block of ``a``."""
    out = a[::scale, ::scale].copy()
    for q in range(scale):
        for p in range(scale):
            np.maximum(out, a[p::scale, q::scale], out=out)
    return out


def max_unpool(a: np.ndarray, d: np.ndarray, scale: int) -> np.ndarray:
    """The pooling layer's delta ``d`` sent back to the maximum of each block of ``a``.

    Every other position gets 0. Of equal maxima the first in column-major order within the
    block (row offset p varying fastest) takes it: blocks are walked in that order and a
    position is taken only while its block has none.
    """
    pooled = max_pool(a, scale)
    out = np.zeros_like(a, dtype=np.result_type(a, d))
    taken = np.zeros(pooled.shape, dtype=bool)
    for q in range(scale):
        for p in range(scale):
            hit = (a[p::scale, q::scale] == pooled) & ~taken
            out[p::scale, q::scale][hit] = d[hit]
            taken |= hit
    return out


def conv_delta(
    a: list, d_next: list, scale: int, activation: str = "sigm", method: str = "mean"
) -> list:
    """d[j] = a[j] .* (1 - a[j]) .* expand(d_next[j], [scale, scale, 1]) / scale^2.

    Another ``activation``: its derivative replaces ``a .* (1 - a)``; ``method="max"``:
    :func:`max_unpool` replaces the spread ``expand(...) / scale^2``.
    """
    if activation == "sigm" and method == "mean":
        return [
            a[j] * (1 - a[j]) * (expand(d_next[j], [scale, scale, 1]) / scale**2)
            for j in range(len(a))
        ]
    return [
        derivative(a[j], activation) * _unpool(a[j], d_next[j], scale, method)
        for j in range(len(a))
    ]


def _unpool(a: np.ndarray, d: np.ndarray, scale: int, method: str) -> np.ndarray:
    """The delta ``d`` of a pooling layer spread back over its input ``a``."""
    if method == "max":
        return max_unpool(a, d, scale)
    return expand(d, [scale, scale, 1]) / scale**2


def pool_delta(d_next: list, k_next: list) -> list:
    """d[i] = sum_j convn(d_next[j], rot180(k_next[i][j]), 'full')."""
    return [
        sum(convn(d_next[j], rot180(k_next[i][j]), "full") for j in range(len(d_next)))
        for i in range(len(k_next))
    ]


def conv_grads(a_prev: list, d: list) -> tuple[list, list]:
    """dk[i][j] = convn(flipall(a_prev[i]), d[j], 'valid') / batch; db[j] = sum(d[j]) / batch.

    ``flipall`` also reverses the batch axis, so the 'valid' convolution along that axis is
    the sum over samples: the result is (ks, ks, 1), returned as (ks, ks).
    """
    batch = d[0].shape[2]
    dk = [[convn(flipall(ai), dj, "valid")[:, :, 0] / batch for dj in d] for ai in a_prev]
    db = [float(np.sum(dj)) / batch for dj in d]
    return dk, db
