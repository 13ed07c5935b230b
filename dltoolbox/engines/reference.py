"""Reference kernels: the toolbox's loops over maps, with ``convn`` as ``scipy.signal.convolve``.

Slow but close to the MATLAB text; they are the oracle the fast engine is tested against.
``method="fft"`` is chosen on purpose: for the kernel gradient (a batch-long 'valid'
convolution) scipy's 'auto' picks its slow direct N-d path, and FFT was fastest for all of
these shapes while staying within about 1e-15 of direct summation.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import convolve

from ..util import expand, flipall, rot180, sigm


def convn(a: np.ndarray, k: np.ndarray, mode: str) -> np.ndarray:
    """MATLAB's ``convn``: true N-d convolution; a 2-D ``k`` is applied to every slice of ``a``."""
    k = k.reshape(k.shape + (1,) * (a.ndim - k.ndim))
    if a.dtype == np.float32:  # as in MATLAB, single data stay single with a double kernel
        k = k.astype(np.float32)
    return convolve(a, k, mode=mode, method="fft")


def conv_forward(a_prev: list, k: list, b: list) -> list:
    """a[j] = sigm(sum_i convn(a_prev[i], k[i][j], 'valid') + b[j]); each (rows, cols, batch)."""
    out = []
    for j in range(len(b)):
        z = sum(convn(a_prev[i], k[i][j], "valid") for i in range(len(a_prev)))
        out.append(sigm(z + b[j]))
    return out


def pool_forward(a_prev: list, scale: int) -> list:
    """Mean pooling: convolve with ones(scale) / scale^2 and keep every scale-th element."""
    box = np.ones((scale, scale)) / scale**2
    return [convn(a, box, "valid")[::scale, ::scale, :] for a in a_prev]


def conv_delta(a: list, d_next: list, scale: int) -> list:
    """d[j] = a[j] .* (1 - a[j]) .* expand(d_next[j], [scale, scale, 1]) / scale^2."""
    return [
        a[j] * (1 - a[j]) * (expand(d_next[j], [scale, scale, 1]) / scale**2) for j in range(len(a))
    ]


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
