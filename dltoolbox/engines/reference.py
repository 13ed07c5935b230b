"""The reference engine: the toolbox's loops over maps, with ``convn`` as ``scipy.signal.convolve``.

Slow but close to the MATLAB text; it is the oracle the fast engine is tested against.
``method="fft"`` is chosen on purpose: for the kernel gradient (a batch-long 'valid'
convolution) scipy's 'auto' picks its slow direct N-d path, and FFT was fastest for all of
these shapes while staying within about 1e-15 of direct summation.
"""

from __future__ import annotations

import contextlib

import numpy as np
from scipy.signal import convolve

from ..activations import activate, derivative
from ..net import ConvGeometry, MapStack, as_maps, map_array
from ..util import expand, flipall, rot180, sigm


def convn(a: np.ndarray, k: np.ndarray, mode: str) -> np.ndarray:
    """MATLAB's ``convn``: true N-d convolution; a 2-D ``k`` is applied to every slice of ``a``."""
    k = k.reshape(k.shape + (1,) * (a.ndim - k.ndim))
    if a.dtype == np.float32:  # as in MATLAB, single data stay single with a double kernel
        k = k.astype(np.float32)
    return convolve(a, k, mode=mode, method="fft")


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


def _pad(a: np.ndarray, pad: int) -> np.ndarray:
    """(rows + 2 pad, cols + 2 pad, batch): ``a`` with ``pad`` zeros on every side."""
    return np.pad(a, ((pad, pad), (pad, pad), (0, 0))) if pad else a


def _dilate(d: np.ndarray, stride: int) -> np.ndarray:
    """``d`` (rows, cols, batch) with stride - 1 zero rows and columns between its elements."""
    if stride == 1:
        return d
    rows, cols, batch = d.shape
    out = np.zeros(((rows - 1) * stride + 1, (cols - 1) * stride + 1, batch), dtype=d.dtype)
    out[::stride, ::stride] = d
    return out


def _unpad(maps: list, pad: int, size: tuple[int, int]) -> list:
    """Maps of the padded input cut back to ``size``, (rows, cols) (zeros where they end short:
    rows a stride never reached)."""
    rows, cols = size
    out = []
    for m in maps:
        full = np.zeros((rows + 2 * pad, cols + 2 * pad, m.shape[2]), dtype=m.dtype)
        full[: m.shape[0], : m.shape[1]] = m
        out.append(full[pad : pad + rows, pad : pad + cols])
    return out


class ReferenceEngine:
    """The toolbox's loops (see the module docstring); it keeps nothing between calls."""

    name = "reference"

    def conv_forward(
        self, a_prev: list, k: list, b: list, activation: str, slot: int, geometry: ConvGeometry
    ) -> MapStack:
        """a[j] = sigm(sum_i convn(a_prev[i], k[i][j], 'valid') + b[j]); each (rows, cols,
        batch). Another ``activation`` (see :mod:`dltoolbox.activations`) replaces sigm; with
        padding or a stride (``geometry``) the maps are padded with zeros first and every
        stride-th output of the 'valid' convolution is kept."""
        a_prev = [_pad(a, geometry.pad) for a in a_prev]
        s = geometry.stride
        out = []
        for j in range(len(b)):
            z = sum(convn(a_prev[i], k[i][j], "valid")[::s, ::s] for i in range(len(a_prev)))
            out.append(sigm(z + b[j]) if activation == "sigm" else activate(z + b[j], activation))
        return as_maps(out)

    def conv_grads(
        self, a_prev: list, d: list, a: list, geometry: ConvGeometry
    ) -> tuple[np.ndarray, list]:
        """dk[i][j] = convn(flipall(a_prev[i]), d[j], 'valid') / batch; db[j] = sum(d[j]) /
        batch. ``flipall`` also reverses the batch axis, so the 'valid' convolution along that
        axis is the sum over samples: the result is (ks, ks, 1), kept as (ks, ks). With padding
        or a stride: the padded maps, as far as the outputs read them, and the deltas spread
        out to the stride (zeros between)."""
        if geometry.pad or geometry.stride > 1:
            rows, cols = geometry.used(d[0].shape[0]), geometry.used(d[0].shape[1])
            a_prev = [_pad(ai, geometry.pad)[:rows, :cols] for ai in a_prev]
            d = [_dilate(dj, geometry.stride) for dj in d]
        batch = d[0].shape[2]
        dk = [[convn(flipall(ai), dj, "valid")[:, :, 0] / batch for dj in d] for ai in a_prev]
        db = [float(np.sum(dj)) / batch for dj in d]
        return np.array(dk), db

    def conv_input_grad(
        self, d: list, k: list, geometry: ConvGeometry, size: tuple[int, int]
    ) -> MapStack:
        """d_prev[i] = sum_j convn(d[j], rot180(k[i][j]), 'full'), for input maps of ``size``;
        with padding or a stride: that of the deltas spread out to the stride, placed in the
        padded input (rows no stride reached get 0), the padding cut off."""
        if geometry.pad or geometry.stride > 1:
            spread = [_dilate(dj, geometry.stride) for dj in d]
            full = self.conv_input_grad(spread, k, ConvGeometry(geometry.ks), size)
            return as_maps(_unpad(full, geometry.pad, size))
        return as_maps(
            [
                sum(convn(d[j], rot180(k[i][j]), "full") for j in range(len(d)))
                for i in range(len(k))
            ]
        )

    def activation_delta(self, a: list, grad: list, activation: str) -> MapStack:
        """d[j] = a[j] .* (1 - a[j]) .* grad[j] (another activation: its derivative).

        A ``grad`` of views of one array (the output's ``ffW.T @ od``) keeps its memory
        layout, so that sums over d[j] run in the toolbox's order (that of ``fvd``)."""
        if not isinstance(grad, MapStack):
            return as_maps([derivative(a[j], activation) * grad[j] for j in range(len(a))])
        out = np.empty_like(map_array(grad))
        for j in range(len(a)):
            np.multiply(derivative(a[j], activation), grad[j], out=out[j])
        return MapStack(out)

    def pool_forward(self, a_prev: list, scale: int, method: str) -> MapStack:
        """Mean pooling: convolve with ones(scale) / scale^2 and keep every scale-th element.
        ``method="max"``: the largest element of each scale x scale block (:func:`max_pool`)."""
        if method == "max":
            return as_maps([max_pool(a, scale) for a in a_prev])
        box = np.ones((scale, scale)) / scale**2
        return as_maps([convn(a, box, "valid")[::scale, ::scale, :] for a in a_prev])

    def unpool(self, d: list, a_prev: list, scale: int, method: str) -> list:
        """``expand(d[j], [scale, scale, 1]) / scale^2``, or :func:`max_unpool` for max."""
        if method == "max":
            return [max_unpool(a_prev[j], d[j], scale) for j in range(len(d))]
        return [expand(d[j], [scale, scale, 1]) / scale**2 for j in range(len(d))]

    def dense(self, grad: list) -> list:
        """Gradients are plain lists of maps here already."""
        return grad

    def running(self) -> contextlib.nullcontext:
        """Nothing to set up around a pass."""
        return contextlib.nullcontext()
