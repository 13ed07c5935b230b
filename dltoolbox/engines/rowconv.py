"""Convolutions as a few products of a row-tap patch matrix, shifted by whole rows.

The fast engine's :func:`~dltoolbox.engines.fast._patches` copy every input value ``ks^2``
times (``ks (ks + 1) / 2`` with row blocks) and multiply zeros where the row blocks overlap.
Here the patch matrix holds the ``ks`` column taps only:

    P[(i, v), (r, c, b)] = a_pad[i, r, c + v, b]      r over all rows of the padded input,

and a row tap ``u`` is a shift of P's columns by ``u`` whole rows (``u * cols' * batch``
columns): with ``W[u][j, (i, v)] = rot180(k[i][j])[u, v]``,

    z[j] = sum_u (W[u] @ P[:, u * cols' * batch :][:, :n])[j]     n = rows' * cols' * batch,

already in the maps' layout (maps_out, rows', cols', batch). The same patches give the kernel
gradient (``P[:, u-th shift] @ d.T`` is the u-th row of every rot180(dk)), and the input
gradient of a stride-1 layer is the same forward convolution of the delta, zero-padded by
``ks - 1 - pad``, with the kernels transposed and not turned. No multiplication by a padding
zero of the kernels, ``ks`` times fewer copies, and products with ``maps * ks`` inner terms.
"""

from __future__ import annotations

import numpy as np

from .blas import matmul


def patch_shape(shape: tuple, ks: int, pad: int) -> tuple[int, int]:
    """The shape of :func:`row_patches` of an array of ``shape`` (maps, rows, cols, batch)."""
    maps, rows, cols, batch = shape
    return maps * ks, (rows + 2 * pad) * (cols + 2 * pad - ks + 1) * batch


def row_patches(a: np.ndarray, ks: int, pad: int, out: np.ndarray | None = None) -> np.ndarray:
    """``P[(i, v), (r, c, b)] = a[i, r - pad, c + v - pad, b]`` (0 outside ``a``) for ``a``
    (maps, rows, cols, batch): shape :func:`patch_shape`, into ``out`` when given."""
    if out is None:
        out = np.empty(patch_shape(a.shape, ks, pad), dtype=a.dtype)
    maps, rows, cols, batch = a.shape
    cols_out = cols + 2 * pad - ks + 1
    view = out.reshape(maps, ks, rows + 2 * pad, cols_out, batch)
    if pad:
        view[:, :, :pad] = 0
        view[:, :, pad + rows :] = 0
    for v in range(ks):  # the columns c with 0 <= c + v - pad < cols read a; the others are 0
        lo, hi = max(0, pad - v), min(cols_out, cols + pad - v)
        inner = view[:, v, pad : pad + rows]
        inner[:, :, :lo] = 0
        inner[:, :, hi:] = 0
        inner[:, :, lo:hi] = a[:, :, lo + v - pad : hi + v - pad]
    return out


def forward_weights(kernels: np.ndarray, negate: bool = False) -> np.ndarray:
    """``W[u][j, (i, v)] = rot180(k[i][j])[u, v]`` (negated with ``negate``) for the kernels
    (maps_in, maps_out, ks, ks): shape (ks, maps_out, maps_in * ks)."""
    maps_in, maps_out, ks, _ = kernels.shape
    turned = kernels[:, :, ::-1, ::-1].transpose(2, 1, 0, 3)  # (u, j, i, v)
    w = np.negative(turned) if negate else np.array(turned)
    return w.reshape(ks, maps_out, maps_in * ks)


def delta_weights(kernels: np.ndarray) -> np.ndarray:
    """``W[u][i, (j, v)] = k[i][j][u, v]``: the input gradient's :func:`forward_weights`,
    shape (ks, maps_in, maps_out * ks)."""
    maps_in, maps_out, ks, _ = kernels.shape
    return np.ascontiguousarray(kernels.transpose(2, 0, 1, 3)).reshape(ks, maps_in, -1)


def correlate(
    patches: np.ndarray, w: np.ndarray, rows_out: int, out: np.ndarray, add: bool = True
) -> np.ndarray:
    """``out += sum_u w[u] @ P[:, u-th row shift]`` (``out =`` without ``add``) for the patches
    (maps_in * ks, rows * cols' * batch) of an input with ``rows`` rows, w (ks, maps_out,
    maps_in * ks) and ``out`` (maps_out, rows_out * cols' * batch), rows_out = rows - ks + 1;
    returns ``out``."""
    ks = len(w)
    n = out.shape[1]
    step = n // rows_out  # columns per row: cols' * batch
    for u in range(ks):
        matmul(w[u], patches[:, u * step : u * step + n], out=out, accumulate=add or u > 0)
    return out


def kernel_sums(patches: np.ndarray, d: np.ndarray, ks: int) -> np.ndarray:
    """``S[i, j, p, q] = sum_(r, c, b) a_pad[i, r + ks-1-p, c + ks-1-q, b] d[j, r, c, b]``:
    the kernel gradient times the batch size, from :func:`row_patches` of a_prev and ``d``
    (maps_out, rows', cols', batch); shape (maps_in, maps_out, ks, ks)."""
    maps_out = d.shape[0]
    dt = d.reshape(maps_out, -1).T  # (n, maps_out)
    n = dt.shape[0]
    step = n // d.shape[1]
    g = np.empty((ks, len(patches), maps_out), dtype=np.result_type(patches, d))
    for u in range(ks):
        matmul(patches[:, u * step : u * step + n], dt, out=g[u])
    by_tap = g.reshape(ks, -1, ks, maps_out).transpose(1, 3, 0, 2)  # (i, j, u, v)
    return by_tap[:, :, ::-1, ::-1]
