"""The fast engine: every layer for all maps and all samples at once, with one matrix product.

A layer's maps live in one array of shape (maps, rows, cols, batch), batch innermost; the net's
``a[j]`` / ``d[j]`` are views ``stack[j]`` of shape (rows, cols, batch) (a
:class:`~dltoolbox.net.MapStack`). Kernels are re-read from ``k[i][j]`` on every call (never
cached), so in-place edits of a kernel and brand-new kernel lists both take effect at once.

A 'valid' convolution is a product with an im2col matrix: with the patches
``P[(i, u, v), (r, c, b)] = a_prev[i][r + u, c + v, b]`` (one strided copy) and
``W[j, (i, u, v)] = rot180(k[i][j])[u, v]``, MATLAB's ``sum_i convn(a_prev[i], k[i][j],
'valid')`` is ``(W @ P)[j]``. Two refinements (see :func:`_patches`): each patch column serves
a few vertically adjacent outputs (:func:`_row_block`: a wider, shorter product that OpenBLAS
runs faster), and a row of ones carries the bias. The kernels also give the pooling layer's delta
(``W.T @ d`` on row blocks of ``d``, then one shifted add per tap) and the forward pass's ``P``
gives the kernel gradient (``P @ d.T``): :meth:`FastEngine.conv_forward` keeps them as a
:class:`ConvCache`, the ``record`` of the maps it returns, for :meth:`FastEngine.conv_grads`.

A padded stride-1 layer over several input maps (the 3x3 'same' convolutions of the tutorial
nets) is computed by :mod:`dltoolbox.engines.rowconv` instead: patches of the kernel columns only,
each kernel row a shift of whole rows, for the forward sum, the kernel gradient and the input
delta; unpadded layers, all a toolbox net has, keep the row-blocked patches and their numbers.

Where numba is installed (``pip install "dltoolbox[fast]"``), these passes run as compiled
loops of :mod:`dltoolbox.engines.kernels` (the patches of a padded input, the 'full'
convolution's scatter of its tap products, the sigmoid after the exponential, mean pooling, a
conv layer's delta), with the very same numbers as the numpy code here, which is the fallback.

Same numbers as the reference engine up to rounding: every value agrees to about 1e-15
relative (sums are taken in a different order). The options of :mod:`dltoolbox.activations`
(relu, tanh) and max pooling are computed on the same stacks; max pooling's delta goes to the
first maximum of each block in column-major order, as in the reference engine.
"""

from __future__ import annotations

import functools
import math
import operator
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..activations import derivative
from ..net import ConvGeometry, MapStack, kernel_array, map_array
from . import blas, rowconv
from . import kernels as compiled
from .blas import matmul

#: Largest patch matrix built at once, in elements (32 MB of float64); bigger batches are done
#: in batch chunks, and a layer done in chunks builds its patches again for the kernel gradient.
#: On numpy's BLAS (an Intel Xeon, model 106) this limit made the rgb and modern nets' steps 4-8 %
#: faster than 1 << 20 at batch 50; on the private OpenBLAS (AMD Zen 5) the step of the modern
#: net was 5-8 % slower with larger chunks than with :data:`PRIVATE_PATCH_CHUNK`.
PATCH_CHUNK = 1 << 22
PRIVATE_PATCH_CHUNK = 1 << 20
#: A batch over the limit (a prediction over a test set) goes in pieces of at most this many
#: patch elements: smaller than the limit, so that each piece's products and exponentials run
#: in the caches (predictions over 2000 samples, 2026-12-04, AMD Zen 4 with numpy's OpenBLAS:
#: 0.79 to 1.02 x the time in pieces of 4 M, most nets 0.8 to 0.93; see docs/performance.md).
#: Where the private OpenBLAS runs, its limit is already this size.
PATCH_PIECE = 1 << 20
#: Vertically adjacent outputs computed from one patch column: fewer, wider products. A layer
#: with a single input map gets the larger block (its products are otherwise very thin).
ROW_BLOCK = 2
ROW_BLOCK_SINGLE_MAP = 4
#: Scratch buffers an engine keeps (a few per conv layer of a net).
KEPT = 16
#: Largest scratch buffer kept for reuse, in elements; larger ones are freed after the call.
KEPT_SIZE = 1 << 20


def _chunk(patch_size: int, batch: int, dtype) -> int:
    """Samples per batch chunk for a patch matrix of ``patch_size`` elements for ``batch``:
    the whole batch within the limit, else pieces of :data:`PATCH_PIECE` (or the limit)."""
    limit = PRIVATE_PATCH_CHUNK if blas.private(dtype) else PATCH_CHUNK
    if patch_size <= limit:
        return batch
    return max(1, min(limit, PATCH_PIECE) // (patch_size // batch))


def _row_block(rows_out: int, maps_in: int) -> int:
    """Output rows per patch column: :data:`ROW_BLOCK` (:data:`ROW_BLOCK_SINGLE_MAP` for one
    input map), or a smaller block that divides ``rows_out``, or 1."""
    preferred = ROW_BLOCK_SINGLE_MAP if maps_in == 1 else ROW_BLOCK
    if rows_out % preferred == 0:
        return preferred
    return ROW_BLOCK if rows_out % ROW_BLOCK == 0 else 1


def _by_rows(maps_in: int, geometry: ConvGeometry) -> bool:
    """Whether a conv layer is computed by :mod:`rowconv`: a padded stride-1 layer over more
    than one input map. There the row blocks' products would multiply the padding zeros of
    their kernels and copy every padded input ``ks (ks + 1) / 2`` times; unpadded layers (all
    a toolbox net has) keep the row-blocked patches and their numbers, and a single input map
    the row blocks that make its thin products wider."""
    return geometry.stride == 1 and 0 < geometry.pad < geometry.ks and maps_in > 1


def _patch_shape(shape: tuple, ks: int, rb: int, stride: int = 1) -> tuple[int, int]:
    """The shape of :func:`_patches` of an array of ``shape`` (maps, rows, cols, batch)."""
    maps, rows, cols, batch = shape
    rows_out, cols_out = (rows - ks) // stride + 1, (cols - ks) // stride + 1
    return maps * (ks + rb - 1) * ks + 1, rows_out // rb * cols_out * batch


def _patches(
    a: np.ndarray, ks: int, rb: int, out: np.ndarray | None = None, stride: int = 1, pad: int = 0
) -> np.ndarray:
    """The patch matrix of ``a`` (maps, rows, cols, batch), zero-padded by ``pad``, for ks x ks
    kernels (below, ``a`` is the padded array; with numba, :func:`compiled.patches` reads the
    unpadded one and writes the zeros itself).

    ``P[(i, u, v), (r, c, b)] = a[i, rb * r + u, c + v, b]`` for ``u < ks + rb - 1`` and
    ``v < ks``: each column holds the inputs of ``rb`` vertically adjacent outputs (with a
    ``stride``, which needs rb = 1: ``a[i, stride * r + u, stride * c + v, b]``). Shape
    (maps * (ks + rb - 1) * ks + 1, rows' / rb * cols' * batch); the last row is all ones: it
    adds the bias in the forward product and sums the delta (the bias gradient) in the
    kernel-gradient product. Written into ``out`` when given (of that shape and ``a``'s dtype).
    """
    if compiled.ENABLED:
        if out is None:
            out = np.empty(_patch_shape(_padded_shape(a.shape, pad), ks, rb, stride), a.dtype)
        compiled.patches(a, ks, rb, stride, pad, out)
        return out
    a = _padded(a, pad)
    maps, rows, cols, batch = a.shape
    rows_out, cols_out = (rows - ks) // stride + 1, (cols - ks) // stride + 1
    shape = (maps, ks + rb - 1, ks, rows_out // rb, cols_out, batch)
    s_map, s_row, s_col, s_batch = a.strides
    strides = (s_map, s_row, s_col, rb * stride * s_row, stride * s_col, s_batch)
    if a.flags.c_contiguous:  # the same view as as_strided's, in an eighth of its time
        windows = np.ndarray(shape, a.dtype, a, 0, strides)
    else:
        windows = as_strided(a, shape, strides, writeable=False)
    if out is None:
        out = np.empty(_patch_shape(a.shape, ks, rb, stride), dtype=a.dtype)
    np.copyto(out[:-1].reshape(shape), windows)
    out[-1] = 1
    return out


@functools.lru_cache(maxsize=64)
def _forward_table(maps_in: int, maps_out: int, ks: int, rb: int) -> np.ndarray:
    """Where :func:`_forward_weights` takes each entry from: an index into the vector of the
    kernels (maps_in, maps_out, ks, ks) flattened, then the biases, then a zero."""
    n_k = maps_in * maps_out * ks * ks
    rotated = np.arange(n_k).reshape(maps_in, maps_out, ks, ks)[:, :, ::-1, ::-1]
    table = np.full((maps_out, rb, maps_in * (ks + rb - 1) * ks + 1), n_k + maps_out)
    taps = table[:, :, :-1].reshape(maps_out, rb, maps_in, ks + rb - 1, ks)
    for dr in range(rb):
        taps[:, dr, :, dr : dr + ks] = rotated.transpose(1, 0, 2, 3)
    table[:, :, -1] = n_k + np.arange(maps_out)[:, None]
    table = table.reshape(maps_out * rb, -1)
    table.flags.writeable = False
    return table


def _forward_weights(kernels: np.ndarray, b: list, rb: int, dtype) -> np.ndarray:
    """``[-W, -b]`` for :func:`_patches` with row block ``rb``, from the kernels (maps_in,
    maps_out, ks, ks): shape (maps_out * rb, maps_in * (ks + rb - 1) * ks + 1); row (j, dr)
    holds ``-rot180(k[i][j])`` shifted down by dr rows (zeros elsewhere) and ``-b[j]``.
    Negated so that the product is ``-z``.
    """
    maps_in, maps_out, ks, _ = kernels.shape
    n_k = kernels.size
    values = np.empty(n_k + maps_out + 1, dtype=dtype)  # [k..., b..., 0]
    values[:n_k] = kernels.reshape(-1)
    values[n_k:-1] = np.asarray(b, dtype=dtype).reshape(-1)
    values[-1] = 0
    np.negative(values, out=values)
    return values.take(_forward_table(maps_in, maps_out, ks, rb))


def _divide(x: np.ndarray, n: int, out: np.ndarray | None = None) -> np.ndarray:
    """``x / n``; a multiplication by ``1 / n`` where n is a power of two, which gives the same
    numbers (both scale x exactly and round once) several times faster."""
    if n & (n - 1) == 0:
        return np.multiply(x, 1 / n, out=out)
    return np.divide(x, n, out=out)


def _block_max(a: np.ndarray, scale: int) -> np.ndarray:
    """(maps, rows / scale, cols / scale, batch): the maximum of each block of ``a``."""
    z = a[:, ::scale, ::scale].copy()
    for q in range(scale):
        for p in range(scale):
            if p or q:
                np.maximum(z, a[:, p::scale, q::scale], out=z)
    return z


def _first_max(act: np.ndarray, scale: int) -> np.ndarray:
    """1 at the first maximum of each scale x scale block of ``act`` (maps, rows, cols, batch),
    0 elsewhere; same shape. Blocks are scanned in column-major order (the row offset p
    fastest) and a position is taken only while its block has none yet."""
    pooled = _block_max(act, scale)
    mask = np.empty(act.shape, dtype=act.dtype)
    free = np.ones(pooled.shape, dtype=bool)
    hit = np.empty(pooled.shape, dtype=bool)
    for q in range(scale):
        for p in range(scale):
            np.equal(act[:, p::scale, q::scale], pooled, out=hit)
            hit &= free
            mask[:, p::scale, q::scale] = hit
            free &= ~hit
    return mask


@functools.lru_cache(maxsize=64)
def _delta_table(maps_in: int, maps_out: int, ks: int, rb: int) -> np.ndarray:
    """Where :func:`pool_delta` takes each entry of its weights ``w[v][(u, i), (j, dr)] =
    rot180(k[i][j])[u - dr, v]`` (0 unless ``0 <= u - dr < ks``) from: an index into the
    kernels (maps_in, maps_out, ks, ks) flattened, or the zero after them."""
    n_k = maps_in * maps_out * ks * ks
    rotated = np.arange(n_k).reshape(maps_in, maps_out, ks, ks)[:, :, ::-1, ::-1]
    table = np.full((ks, ks + rb - 1, maps_in, maps_out, rb), n_k)
    for dr in range(rb):
        table[:, dr : dr + ks, :, :, dr] = rotated.transpose(3, 2, 0, 1)
    table = table.reshape(ks, (ks + rb - 1) * maps_in, maps_out * rb)
    table.flags.writeable = False
    return table


@functools.lru_cache(maxsize=64)
def _grads_table(maps_in: int, maps_out: int, ks: int, rb: int) -> np.ndarray:
    """Where :func:`conv_grads` takes its sums from: shape (rb, maps_in * maps_out * ks * ks +
    maps_out), an index into ``P @ D.T`` (flattened) per row offset dr, for each entry of the
    kernels (maps_in, maps_out, ks, ks) flattened and then of the biases."""
    taps = ks + rb - 1
    cells = np.arange(maps_in * taps * ks * maps_out * rb + maps_out * rb)
    g = cells[: -maps_out * rb].reshape(maps_in, taps, ks, maps_out, rb)
    bias = cells[-maps_out * rb :].reshape(maps_out, rb)
    table = np.empty((rb, maps_in * maps_out * ks * ks + maps_out), dtype=np.intp)
    for dr in range(rb):  # dk[i][j][p, q] is rot180 of tap (u, v) = (ks - 1 - p, ks - 1 - q)
        grid = g[:, dr : dr + ks, :, :, dr][:, ::-1, ::-1].transpose(0, 3, 1, 2)
        table[dr, : grid.size] = grid.reshape(-1)
        table[dr, grid.size :] = bias[:, dr]
    table.flags.writeable = False
    return table


@dataclass(eq=False)
class _Buffer:
    """A patch buffer of one layer slot, and the :class:`ConvCache` whose patches it holds."""

    array: np.ndarray
    writer: ConvCache | None = None


@dataclass(eq=False)
class ConvCache:
    """What :meth:`FastEngine.conv_forward` keeps for :meth:`FastEngine.conv_grads`: the patch
    matrix of its input maps (in a buffer the engine reuses for the next forward pass of the
    same layer). The patches are used only while they are still this cache's and the input
    maps are the very arrays they were built from (engines return read-only maps, so those
    cannot have been changed in place); otherwise they are built again."""

    inputs: tuple = field(repr=False)
    geometry: ConvGeometry
    buffer: _Buffer = field(repr=False)

    def patches_for(self, a_prev: list, geometry: ConvGeometry) -> np.ndarray | None:
        """The patches, if they are those of ``a_prev`` read with ``geometry``."""
        valid = (
            self.buffer.writer is self
            and geometry == self.geometry
            and len(a_prev) == len(self.inputs)
            and all(map(operator.is_, a_prev, self.inputs))
        )
        return self.buffer.array if valid else None


def _read_only(stack: np.ndarray, record: ConvCache | None = None) -> MapStack:
    stack.flags.writeable = False
    return MapStack(stack, record)


class FastEngine:
    """The fast engine (see the module docstring). It owns its scratch buffers: temporaries
    reused from one call to the next (multi-megabyte arrays allocated afresh on every step
    come back from the operating system as new pages, each faulted in on first touch: up to
    15% of a step), and one patch buffer per conv layer slot. One engine serves one thread."""

    name = "fast"

    def __init__(self) -> None:
        self._scratch: dict[tuple, np.ndarray] = {}
        self._patch_buffers: dict[int, _Buffer] = {}

    def scratch(self, role: str, shape: tuple, dtype) -> np.ndarray:
        """An uninitialised (shape, dtype) array for ``role``: the one of the last call with the
        same arguments (the newest :data:`KEPT`, of at most :data:`KEPT_SIZE` elements, are
        kept). Its contents are overwritten by the next call that asks for it."""
        if math.prod(shape) > KEPT_SIZE:
            return np.empty(shape, dtype=dtype)
        key = (role, shape, np.dtype(dtype))
        buf = self._scratch.pop(key, None)
        if buf is None:
            buf = np.empty(shape, dtype=dtype)
        self._scratch[key] = buf  # now the newest
        while len(self._scratch) > KEPT:
            del self._scratch[next(iter(self._scratch))]
        return buf

    def _patch_buffer(self, slot: int, shape: tuple, dtype) -> _Buffer:
        buf = self._patch_buffers.get(slot)
        if buf is None or buf.array.shape != shape or buf.array.dtype != dtype:
            buf = self._patch_buffers[slot] = _Buffer(np.empty(shape, dtype=dtype))
        return buf

    def conv_forward(
        self, a_prev: list, k: list, b: list, activation: str, slot: int, geometry: ConvGeometry
    ) -> MapStack:
        """a[j] = sigm(sum_i convn(a_prev[i], k[i][j], 'valid') + b[j]); each (rows, cols,
        batch), with the :class:`ConvCache` of the patches as its ``record`` (None for a batch
        done in chunks).

        One product ``[-W, -b] @ P`` (see :func:`_patches`) gives ``-z`` for all maps and
        samples; the exponential reads it in the output's order, then ``1 / (1 + exp(-z))`` in
        place. Another ``activation`` (relu, tanh) is applied in place to ``z``. Padding and
        stride (``geometry``): the patches read the zero-padded input, every stride-th position.
        """
        a, pad = map_array(a_prev), geometry.pad
        kernels = kernel_array(k)
        maps_in, maps_out, ks, _ = kernels.shape
        _, rows, cols, batch = _padded_shape(a.shape, pad)
        s = geometry.stride
        if _by_rows(maps_in, geometry):
            return self._conv_forward_rows(a, kernels, b, activation, slot, geometry, a_prev)
        rows_out, cols_out = (rows - ks) // s + 1, (cols - ks) // s + 1
        rb = _row_block(rows_out, maps_in) if s == 1 else 1
        wb = _forward_weights(kernels, b, rb, np.result_type(a, kernels))
        out = np.empty((maps_out, rows_out // rb, rb, cols_out, batch), dtype=wb.dtype)
        rows_p, cols_p = _patch_shape((maps_in, rows, cols, batch), ks, rb, s)
        chunk = _chunk(rows_p * cols_p, batch, wb.dtype)
        cache = None
        if chunk >= batch:
            buf = self._patch_buffer(slot, (rows_p, cols_p), a.dtype)
            patches = _patches(a, ks, rb, buf.array, s, pad)
            cache = buf.writer = ConvCache(tuple(a_prev), geometry, buf)
            z = self.scratch("z", (len(wb), cols_p), wb.dtype)
            parts = [(slice(None), matmul(wb, patches, out=z))]
        else:  # a large batch (e.g. a whole test set): bounded memory, same numbers
            parts = (
                (
                    slice(n, n + chunk),
                    matmul(wb, _patches(a[..., n : n + chunk], ks, rb, None, s, pad)),
                )
                for n in range(0, batch, chunk)
            )
        fused = _fused_sigmoid(activation, out.dtype)
        for samples, z in parts:  # z: (maps_out * rb, rows_out / rb * cols_out * samples)
            _from_product(z, (maps_out, rb, rows_out // rb, cols_out), out[..., samples],
                          activation, fused)  # fmt: skip
        if not fused:
            _activate_in_place(out, activation)
        return _read_only(out.reshape(maps_out, rows_out, cols_out, batch), cache)

    def _conv_forward_rows(
        self, a: np.ndarray, kernels: np.ndarray, b: list, activation: str, slot: int,
        geometry: ConvGeometry, a_prev: list,
    ) -> MapStack:  # fmt: skip
        """:meth:`conv_forward` by :mod:`rowconv` (stride 1): the products start from the
        biases and give ``-z`` (sigm: the exponential in place) or ``z``."""
        maps_in, maps_out, ks, _ = kernels.shape
        pad, batch = geometry.pad, a.shape[-1]
        rows_out, cols_out = (n + 2 * pad - ks + 1 for n in a.shape[1:3])
        dtype = np.result_type(a, kernels)
        negate = activation == "sigm"
        w = rowconv.forward_weights(kernels, negate).astype(dtype, copy=False)
        bias = np.asarray(b, dtype=dtype).reshape(-1, 1)
        out = np.empty((maps_out, rows_out, cols_out, batch), dtype=dtype)
        rows_p, cols_p = rowconv.patch_shape(a.shape, ks, pad)
        chunk = _chunk(rows_p * cols_p, batch, dtype)
        cache = None
        if chunk >= batch:
            buf = self._patch_buffer(slot, (rows_p, cols_p), a.dtype)
            patches = rowconv.row_patches(a, ks, pad, buf.array)
            cache = buf.writer = ConvCache(tuple(a_prev), geometry, buf)
            z = out.reshape(maps_out, -1)
            np.copyto(z, -bias if negate else bias)
            rowconv.correlate(patches, w, rows_out, z)
        else:  # a large batch (e.g. a whole test set): bounded memory, same numbers
            for n in range(0, batch, chunk):
                part = a[..., n : n + chunk]
                z = np.empty((maps_out, rows_out * cols_out * part.shape[-1]), dtype=dtype)
                np.copyto(z, -bias if negate else bias)
                rowconv.correlate(rowconv.row_patches(part, ks, pad), w, rows_out, z)
                out[..., n : n + chunk] = z.reshape(maps_out, rows_out, cols_out, -1)
        fused = _fused_sigmoid(activation, dtype)
        if fused:
            compiled.sigmoid_in_place(out)
        elif negate:
            np.exp(out, out=out)
        if not fused:
            _activate_in_place(out, activation)
        return _read_only(out, cache)

    def pool_forward(self, a_prev: list, scale: int, method: str) -> MapStack:
        """Mean pooling: the mean of each scale x scale block (the block's rows are summed
        first, then its columns: scale^2 - 2 strided adds, the first ones with long contiguous
        runs). ``method="max"``: the maximum of each block (scale^2 strided maxima)."""
        a = map_array(a_prev)
        if method == "max":
            return _read_only(_block_max(a, scale))
        if compiled.ENABLED:  # one pass, the same sums
            return _read_only(compiled.pool_mean(a, scale))
        maps, rows, cols, batch = a.shape
        by_rows = a.reshape(maps, rows // scale, scale, cols * batch)
        z = by_rows[:, :, 0].copy() if scale == 1 else by_rows[:, :, 0] + by_rows[:, :, 1]
        for p in range(2, scale):  # the rows of each block first: runs of a whole row
            z += by_rows[:, :, p]
        by_cols = z.reshape(maps, rows // scale, cols // scale, scale, batch)
        z = by_cols[..., 0, :] + by_cols[..., 1, :] if scale > 1 else by_cols[..., 0, :]
        for q in range(2, scale):  # then the columns
            z += by_cols[..., q, :]
        _divide(z, scale**2, out=z)
        return _read_only(z)

    def unpool(self, d: list, a_prev: list, scale: int, method: str) -> _Unpooled:
        """The pooling layer's delta, to be spread over its input by :meth:`activation_delta`
        (nothing of the expanded size is built there but the result) or :meth:`dense`."""
        return _Unpooled(map_array(d), a_prev, scale, method)

    def running(self):
        """The context of a pass: :func:`blas.numpy_on_one_thread` (numpy's OpenBLAS, which runs
        the output layer's products, on one thread while the private OpenBLAS runs the others)."""
        return blas.numpy_on_one_thread()

    def dense(self, grad) -> list:
        """``grad`` as maps: an :class:`_Unpooled` expanded, anything else as it is."""
        if not isinstance(grad, _Unpooled):
            return grad
        dn, scale = grad.d, grad.scale
        if grad.method == "max":
            mask = _first_max(map_array(grad.a_prev), scale)
        else:
            dn, mask = _divide(dn, scale**2), None
        out = np.repeat(np.repeat(dn, scale, axis=1), scale, axis=2)
        if mask is not None:
            out *= mask
        return MapStack(out)

    def activation_delta(self, a: list, grad, activation: str) -> MapStack:
        """d = f'(z) .* grad, with f'(z) = a .* (1 - a) for sigm (see
        :func:`dltoolbox.activations.derivative`).

        For the delta of a pooling layer above (:meth:`unpool`) this is the toolbox's
        ``a .* (1 - a) .* expand(d_next, [scale, scale, 1]) / scale^2``: the un-pooling is a
        broadcast view of ``d_next``; for max pooling each block's delta goes to its first
        maximum in column-major order (:func:`_first_max`) instead of being spread.
        """
        act = map_array(a)
        unpooled = isinstance(grad, _Unpooled) and grad.a_prev is a
        dense = None if unpooled else map_array(self.dense(grad))
        if compiled.ENABLED:  # one pass, same numbers
            if unpooled:
                return MapStack(compiled.unpool(act, grad.d, grad.scale, grad.method, activation))
            if dense.shape == act.shape and dense.dtype == act.dtype:
                return MapStack(compiled.delta(act, dense, activation))
        if activation == "sigm":
            d = 1 - act
            d *= act
        else:
            d = derivative(act, activation)
        if not unpooled:
            d *= dense
            return MapStack(d)
        maps, rows, cols, batch = act.shape
        scale, dn = grad.scale, grad.d  # dn: (maps, rows / scale, cols / scale, batch)
        if grad.method == "max":
            d *= _first_max(act, scale)
        else:
            dn = _divide(dn, scale**2)
        wide = np.repeat(dn, scale, axis=2)  # expanded along the columns
        # ... and along the rows: a broadcast, with runs of a whole row of every sample
        blocks = d.reshape(maps, rows // scale, scale, cols * batch)
        blocks *= wide.reshape(maps, rows // scale, 1, cols * batch)
        return MapStack(d)

    def _row_blocks(self, d: np.ndarray, rb: int) -> np.ndarray:
        """``D[(j, dr), (r, c, b)] = d[j, rb * r + dr, c, b]`` for ``d`` (maps, rows, cols,
        batch): shape (maps * rb, rows / rb * cols * batch), in a scratch buffer (a view when
        rb is 1)."""
        maps, rows, cols, batch = d.shape
        if rb == 1:
            return d.reshape(maps, -1)
        out = self.scratch("blocks", (maps * rb, rows // rb * cols * batch), d.dtype)
        blocks = d.reshape(maps, rows // rb, rb, cols * batch).transpose(0, 2, 1, 3)
        np.copyto(out.reshape(maps, rb, rows // rb, cols * batch), blocks)
        return out

    def conv_input_grad(
        self, d_next: list, k_next: list, geometry: ConvGeometry, size: tuple[int, int]
    ) -> MapStack:
        """d[i] = sum_j convn(d_next[j], rot180(k_next[i][j]), 'full'), for input maps of
        ``size`` (rows, cols): with padding, that of the padded input cut back; with a stride:
        :meth:`_strided_input_grad`.

        """
        dn = map_array(d_next)
        kernels = kernel_array(k_next)
        if geometry.stride > 1:
            return self._strided_input_grad(dn, kernels, geometry, size)
        if _by_rows(kernels.shape[1], geometry):  # the delta's maps are the correlation's input
            return MapStack(self._input_grad_rows(dn, kernels, geometry.pad))
        return MapStack(self._full_conv(dn, kernels, geometry.pad, size))

    def _input_grad_rows(self, dn: np.ndarray, kernels: np.ndarray, pad: int) -> np.ndarray:
        """The input gradient of a stride-1 layer with ``pad < ks`` by :mod:`rowconv`: the
        'valid' correlation of ``dn`` zero-padded by ``ks - 1 - pad`` with the kernels
        transposed, not turned."""
        maps_in, _, ks, _ = kernels.shape
        _, rows, cols, batch = dn.shape
        grown = ks - 1 - pad
        rows_in, cols_in = rows + 2 * grown - ks + 1, cols + 2 * grown - ks + 1
        dtype = np.result_type(dn, kernels)
        shape = rowconv.patch_shape(dn.shape, ks, grown)
        patches = rowconv.row_patches(dn, ks, grown, self.scratch("delta rows", shape, dn.dtype))
        w = rowconv.delta_weights(kernels).astype(dtype, copy=False)
        out = np.empty((maps_in, rows_in, cols_in, batch), dtype=dtype)
        rowconv.correlate(patches, w, rows_in, out.reshape(maps_in, -1), add=False)
        return out

    def _full_conv(self, dn: np.ndarray, kernels: np.ndarray, pad: int, size: tuple) -> np.ndarray:
        """``d[i] = sum_j convn(dn[j], rot180(k[i][j]), 'full')`` for ``dn`` (maps_out, rows,
        cols, batch) and the kernels (maps_in, maps_out, ks, ks), cut to the window of ``size``
        (rows, cols) that starts at (pad, pad): the gradient of the unpadded input.
        Each kernel tap (u, v) adds ``W[v, u] @ D`` at offset (u, v) of the result, where, as
        in :meth:`conv_grads`, D holds ``rb`` rows of ``d_next`` per column (``D[(j, dr), .] =
        d_next[j][rb * r + dr, c, b]``) and ``W[v, u][i, (j, dr)] = rot180(k_next[i][j])[u -
        dr, v]``. On the private OpenBLAS (:func:`blas.private`), which adds a product into a
        strided window, D's columns are ordered (c, r, b): an offset v is then a plain shift of
        the columns, BLAS sums the ks products of all v itself, and ``ks + rb - 1`` strided adds
        place the rows. With numpy's matmul: one product for all taps, then one strided add per
        tap (numpy's OpenBLAS could add in place too, but these unpadded layers, all a toolbox
        net has, keep the numbers tests/test_pinned.py holds for such machines).
        """
        maps_in, maps_out, ks, _ = kernels.shape
        _, rows, cols, batch = dn.shape
        rb = _row_block(rows, maps_in)
        taps = ks + rb - 1  # tap rows u: a column's rb rows reach ks + rb - 1 rows of the result
        values = np.zeros(kernels.size + 1, dtype=kernels.dtype)  # [k..., 0]
        values[:-1] = kernels.reshape(-1)
        w = values.take(_delta_table(maps_in, maps_out, ks, rb))  # w[v][(u, i), (j, dr)]
        dtype = np.result_type(w, dn)
        if not blas.private(dtype):
            blocks = self._row_blocks(dn, rb)  # columns (r, c, b)
            shape = (ks * taps * maps_in, blocks.shape[1])
            prods = matmul(w.reshape(shape[0], -1), blocks, out=self.scratch("taps", shape, dtype))
            prods = prods.reshape(ks, taps, maps_in, rows // rb, cols, batch)
            if compiled.ENABLED:
                out = np.empty((maps_in, *size, batch), dtype=dtype)
                compiled.scatter_taps(prods, rb, pad, out)
                return out
            d = np.zeros((maps_in, rows + ks - 1, cols + ks - 1, batch), dtype=dtype)
            for v in range(ks):
                for u in range(taps):
                    d[:, u : u + rows - rb + 1 : rb, v : v + cols] += prods[v, u]
            return _cut(d, pad, size)
        d = np.zeros((maps_in, rows + ks - 1, cols + ks - 1, batch), dtype=dtype)
        step = rows // rb * batch  # columns of D per column c of d_next
        blocks = self.scratch("pool blocks", (maps_out * rb, cols * step), dn.dtype)
        by_rows = dn.reshape(maps_out, rows // rb, rb, cols, batch)
        np.copyto(
            blocks.reshape(maps_out, rb, cols, rows // rb, batch), by_rows.transpose(0, 2, 3, 1, 4)
        )
        sums = self.scratch("pool sums", (taps * maps_in, (cols + ks - 1) * step), d.dtype)
        sums.fill(0)
        # sums[(u, i), (c + v, r, b)] += (w[v] @ D)[(u, i), (c, r, b)] for every v
        blas.add_shifted_products(w, blocks, sums, step)
        sums = sums.reshape(taps, maps_in, cols + ks - 1, rows // rb, batch)
        for u in range(taps):
            placed = d[:, u : u + rows - rb + 1 : rb]  # (maps_in, rows / rb, cols + ks - 1, batch)
            placed += sums[u].transpose(0, 2, 1, 3)
        return _cut(d, pad, size)

    def _strided_input_grad(
        self, dn: np.ndarray, kernels: np.ndarray, geometry: ConvGeometry, size: tuple
    ) -> MapStack:
        """The input gradient of a padded or strided convolution: ``G = W.T @ D`` with
        ``W[j, (i, u, v)] = rot180(k[i][j])[u, v]``, each tap (u, v) of G added at its strided
        offset of the padded input, then the padding cut off."""
        maps_in, maps_out, ks, _ = kernels.shape
        _, rows_out, cols_out, batch = dn.shape
        pad, s = geometry.pad, geometry.stride
        w = kernels[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(maps_out, -1)
        taps = matmul(np.ascontiguousarray(w.T), dn.reshape(maps_out, -1))
        taps = taps.reshape(maps_in, ks, ks, rows_out, cols_out, batch)
        rows, cols = size
        out = np.zeros((maps_in, rows + 2 * pad, cols + 2 * pad, batch), dtype=taps.dtype)
        for u in range(ks):
            for v in range(ks):
                out[:, u : u + s * rows_out : s, v : v + s * cols_out : s] += taps[:, u, v]
        return MapStack(out[:, pad : pad + rows, pad : pad + cols])

    def conv_grads(
        self, a_prev: list, d: list, a: list, geometry: ConvGeometry
    ) -> tuple[np.ndarray, list]:
        """dk[i][j] = convn(flipall(a_prev[i]), d[j], 'valid') / batch; db[j] = sum(d[j]) / batch.

        With the forward patches ``P`` and ``D[(j, dr), (r, c, b)] = d[j][rb * r + dr, c, b]``,
        ``sum_dr (P @ D.T)[(i, u + dr, v), (j, dr)]`` is ``rot180(dk[i][j])[u, v]`` times the
        batch size, and the last row of ``P @ D.T`` (from the ones row of ``P``) sums ``d[j]``.
        """
        dd = map_array(d)
        maps_out, rows, cols, batch = dd.shape
        maps_in, ks, s = len(a_prev), geometry.ks, geometry.stride
        rb = _row_block(rows, maps_in) if s == 1 else 1
        cache = getattr(a, "record", None)  # from conv_forward, if ``a`` is still its result
        patches = cache.patches_for(a_prev, geometry) if isinstance(cache, ConvCache) else None
        if _by_rows(maps_in, geometry):
            return self._conv_grads_rows(a_prev, dd, geometry, patches)
        if patches is None or len(patches) != maps_in * (ks + rb - 1) * ks + 1:
            patches = _patches(map_array(a_prev), ks, rb, None, s, geometry.pad)
        blocks = self._row_blocks(dd, rb)
        g = matmul(patches, blocks.T)  # (len(P), maps_out * rb)
        sums = g.reshape(-1).take(_grads_table(maps_in, maps_out, ks, rb)).sum(axis=0)  # dr summed
        sums /= batch
        n_k = maps_in * maps_out * ks * ks
        return sums[:n_k].reshape(maps_in, maps_out, ks, ks), sums[n_k:].tolist()

    def _conv_grads_rows(
        self, a_prev: list, dd: np.ndarray, geometry: ConvGeometry, patches: np.ndarray | None
    ) -> tuple[np.ndarray, list]:
        """:meth:`conv_grads` by :mod:`rowconv`, from the forward pass's patches when given."""
        ks, pad, batch = geometry.ks, geometry.pad, dd.shape[-1]
        if patches is None or patches.shape != rowconv.patch_shape(
            map_array(a_prev).shape, ks, pad
        ):
            patches = rowconv.row_patches(map_array(a_prev), ks, pad)
        dk = rowconv.kernel_sums(patches, dd, ks) / batch
        db = dd.sum(axis=(1, 2, 3)) / batch
        return dk, db.tolist()


@dataclass(eq=False)
class _Unpooled:
    """The un-pooled delta of a pooling layer over its input maps ``a_prev``, not yet built."""

    d: np.ndarray  # (maps, rows / scale, cols / scale, batch)
    a_prev: list
    scale: int
    method: str


def _cut(d: np.ndarray, pad: int, size: tuple) -> np.ndarray:
    """The window of ``size`` (rows, cols) of ``d`` (maps, rows', cols', batch) at (pad, pad)."""
    rows, cols = size
    return d[:, pad : pad + rows, pad : pad + cols] if pad else d


def _padded_shape(shape: tuple, pad: int) -> tuple:
    """The shape (maps, rows, cols, batch) of :func:`_padded` of an array of ``shape``."""
    maps, rows, cols, batch = shape
    return maps, rows + 2 * pad, cols + 2 * pad, batch


def _padded(a: np.ndarray, pad: int) -> np.ndarray:
    """``a`` (maps, rows, cols, batch) with ``pad`` zero rows and columns on every side (``a``
    itself for no padding)."""
    if not pad:
        return a
    maps, rows, cols, batch = a.shape
    out = np.zeros((maps, rows + 2 * pad, cols + 2 * pad, batch), dtype=a.dtype)
    out[:, pad : pad + rows, pad : pad + cols] = a
    return out


def _fused_sigmoid(activation: str, dtype) -> bool:
    """Whether a sigmoid layer's maps are computed from ``-z`` in one compiled pass
    with the compiled exp (:func:`compiled.sigmoid_exp_applies`: where it gives numpy's bits)."""
    return activation == "sigm" and compiled.sigmoid_exp_applies(dtype)


def _from_product(
    z: np.ndarray, blocks: tuple, dest: np.ndarray, activation: str, fused: bool
) -> None:
    """``dest`` (maps_out, rows' / rb, rb, cols', samples) from the contiguous product ``z`` =
    -z, whose rows are (j, dr) and columns (r, c, b) (``blocks``: maps_out, rb, rows' / rb,
    cols'): the sigmoid where ``fused``, else exp(-z) for the sigmoid or z, for
    :func:`_activate_in_place` to finish."""
    zn = z.reshape(*blocks, -1).transpose(0, 2, 1, 3, 4)  # dest's layout
    if fused and z.dtype == np.float32:
        compiled.sigmoid_in_place(z)  # vectorised on the contiguous product, then placed
        np.copyto(dest, zn)
    elif fused:
        compiled.sigmoid_of_negated(zn, dest, compiled.exp_table())
    elif activation == "sigm":
        np.exp(zn, out=dest)
    else:
        np.negative(zn, out=dest)


def _activate_in_place(out: np.ndarray, activation: str) -> None:
    """``out`` holds exp(-z) (sigm) or z: the activation, in place."""
    if activation == "sigm":
        if compiled.ENABLED:
            compiled.sigmoid_of_exp(out)  # the same add and division, in one pass
            return
        out += 1
        np.divide(1, out, out=out)  # vectorised, unlike np.reciprocal for float64
    elif activation == "tanh":
        np.tanh(out, out=out)
    else:
        np.maximum(out, 0, out=out)
