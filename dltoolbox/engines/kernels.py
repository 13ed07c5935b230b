"""Compiled loops for the fast engine's copy, scatter, pooling and delta passes (numba).

Some passes of a training step are chains of numpy calls that each walk a large array: the
patch matrix of a padded input (a zero-padded copy, then a strided copy), the 'full'
convolution's scatter of its tap products (one strided add per tap), the sigmoid after the
exponential (an add, then a division), mean pooling (strided adds, then a scaling), and a conv
layer's delta (the activation's derivative, under a max pooling layer the first maximum of each
block found with ``2 scale^2`` passes, then the expanded delta multiplied in). Each is one loop
here, over the output once, in the order of memory. numba's own exponential rounds differently
from numpy's, so a sigmoid layer's exponential is computed by the algorithm that computes
numpy's: :func:`_expf` is numpy's float32 ``exp`` (its AVX2 / AVX-512 code, operation for
operation), and :func:`_exp_main` GNU libc's float64 ``exp``, which numpy calls where the CPU
has no AVX-512; each is used only after a check that it gives numpy's bits here
(:func:`exp_matches_numpy`), and numpy's exp otherwise. They compute the very same numbers as
the numpy code they replace (which stays in :mod:`dltoolbox.engines.fast` as the fallback):
copies are copies, and every sum adds the same terms in the same order, so the results agree
bit for bit (tests/test_kernels.py).

``pip install numba`` (the ``fast`` extra) enables them; ``DLTOOLBOX_NUMBA=0`` (before
dltoolbox is imported) keeps the numpy code. The first call of each kernel compiles it (about
a second per kernel and dtype), or loads it from numba's cache in ``__pycache__``.
"""

from __future__ import annotations

import decimal
import functools
import math
import os

import numpy as np

numba = None
if os.environ.get("DLTOOLBOX_NUMBA", "1") != "0":
    try:
        import llvmlite.ir
        import numba
        import numba.extending
    except ImportError:  # the numpy code runs instead
        pass

#: Whether the compiled kernels are used.
ENABLED = numba is not None
#: Activation codes of :func:`max_unpool_delta` (the kernels take no strings).
ACTIVATION_CODES = {"sigm": 0, "tanh": 1, "relu": 2}


def _jit(function=None, **options):
    """``function`` compiled by numba (cached on disk), or as it is without numba; as
    ``@_jit(**options)``, with more options of ``numba.njit``."""
    if function is None:
        return functools.partial(_jit, **options)
    if numba is None:
        return function
    return numba.njit(cache=True, nogil=True, error_model="numpy", **options)(function)


@_jit
def patches(a, ks, rb, stride, pad, out):  # pragma: no cover - compiled
    """The patch matrix of ``a`` (maps, rows, cols, batch) zero-padded by ``pad``, into ``out``
    (maps * (ks + rb - 1) * ks + 1, rows' / rb * cols' * batch), without the padded copy:
    ``out[(i, u, v), (r, c, b)] = a[i, rb * stride * r + u - pad, stride * c + v - pad, b]``
    (0 outside ``a``), and a last row of ones (see :func:`dltoolbox.engines.fast._patches`)."""
    maps, rows, cols, batch = a.shape
    taps = ks + rb - 1
    rows_out = (rows + 2 * pad - ks) // stride + 1
    cols_out = (cols + 2 * pad - ks) // stride + 1
    for i in range(maps):
        for u in range(taps):
            for v in range(ks):
                row = out[(i * taps + u) * ks + v]
                for r in range(rows_out // rb):
                    y = rb * stride * r + u - pad
                    for c in range(cols_out):
                        x = stride * c + v - pad
                        start = (r * cols_out + c) * batch
                        if 0 <= y < rows and 0 <= x < cols:
                            for b in range(batch):
                                row[start + b] = a[i, y, x, b]
                        else:
                            for b in range(batch):
                                row[start + b] = 0
    out[-1] = 1


@_jit
def scatter_taps(prods, rb, pad, out):  # pragma: no cover - compiled
    """The 'full' convolution's tap products placed and summed, cut to ``out``.

    ``prods`` (ks, taps, maps, rows / rb, cols, batch) holds, for tap column v and tap row u,
    the product to add at rows ``u + rb * r`` and columns ``v + c`` of the full result
    (rows + ks - 1, cols + ks - 1); ``out`` (maps, rows', cols', batch) receives the window of
    it that starts at (pad, pad). Every element sums its terms with v outer and u inner, from
    zero: the order of the numpy code's strided adds, one map at a time (which stays in cache).
    """
    ks, taps, maps, blocks, cols, batch = prods.shape
    _, rows_o, cols_o, _ = out.shape
    out[:] = 0
    for i in range(maps):
        for v in range(ks):
            for u in range(taps):
                for r in range(blocks):
                    y = u + rb * r - pad
                    if y < 0 or y >= rows_o:
                        continue
                    for c in range(cols):
                        x = v + c - pad
                        if 0 <= x < cols_o:
                            for b in range(batch):
                                out[i, y, x, b] += prods[v, u, i, r, c, b]


@_jit
def _slope(a, code, one, zero):  # pragma: no cover - compiled
    """f'(z) from a = f(z) for activation ``code``, as :func:`dltoolbox.activations.derivative`
    computes it (and the sigmoid's ``(1 - a) * a`` as the engine does)."""
    if code == 0:
        return (one - a) * a
    if code == 1:
        return one - a * a
    return one if a > 0 else zero


@_jit
def sigmoid_of_exp(e):  # pragma: no cover - compiled
    """``e = 1 / (1 + e)`` in place for ``e`` = exp(-z), a contiguous array: the sigmoid, the
    numpy code's add and division in one pass."""
    flat = e.reshape(-1)
    one = np.ones(1, e.dtype)[0]
    for k in range(flat.size):
        flat[k] = one / (flat[k] + one)


if numba is not None:

    @numba.extending.intrinsic
    def _fma(typingctx, a, b, c):
        """``a * b + c`` rounded once (LLVM's fma), for three arguments of one float type."""

        def codegen(context, builder, signature, args):
            t = args[0].type
            fma = builder.module.declare_intrinsic(
                "llvm.fma", [t], llvmlite.ir.FunctionType(t, [t] * 3)
            )
            return builder.call(fma, args)

        return a(a, b, c), codegen

else:  # the kernels are then plain Python, never called by the engine

    def _fma(a, b, c):
        return a * b + c


#: numpy's float32 exp: x = k ln2 + r (k rounded by adding and taking away EXPF_ROUND, ln2 in
#: two parts), exp(r) as a rational function of degrees 5 and 2, then times 2^k; inputs at or
#: above EXPF_MAX give inf, at or below EXPF_MIN 0, NaN numpy's NaN.
F32 = np.float32


def _f32(bits: int) -> np.float32:
    """The float32 of these bits (numpy's constants, exactly as its C compiler rounds them)."""
    return np.uint32(bits).view(np.float32)


EXPF_MAX, EXPF_MIN = _f32(0x42B17218), _f32(0xC2CFF1B5)  # 88.7228..., -103.972...
EXPF_LOG2E, EXPF_ROUND = _f32(0x3FB8AA3B), _f32(0x4B400000)  # log2(e), 1.5 * 2^23
EXPF_LN2_HI, EXPF_LN2_LO = _f32(0xBF317200), _f32(0xB5BFBE8E)  # -ln 2 in two parts
EXPF_P = tuple(map(_f32, (0x3F800000, 0x3F39CBD5, 0x3E7D4C58, 0x3D517D8C, 0x3BDD7159, 0x3A053DD8)))
EXPF_Q = tuple(map(_f32, (0x3F800000, 0xBE8C6857, 0x3CB0E832)))
EXPF_NAN = _f32(0x7FC00000)


@_jit(inline="always")
def _expf(x):  # pragma: no cover - compiled
    """exp(x) for a float32 ``x`` as numpy computes it, every operation rounded where numpy's
    rounds (its products and sums fused only where it fuses them: :func:`_fma`), with numpy's
    scaling by 2^k: an add to the exponent (for k <= -125, of -125, then a product with
    2^(k + 125), rounded once, as numpy's division by 2^-(k + 125) rounds)."""
    zero, p, q_ = F32(0), EXPF_P, EXPF_Q
    nan, big, small = x != x, x >= EXPF_MAX, x <= EXPF_MIN
    x = zero if nan | big | small else x
    k = x * EXPF_LOG2E
    k = (k + EXPF_ROUND) - EXPF_ROUND  # rounded to an integer
    r = _fma(k, zero, _fma(k, EXPF_LN2_LO, _fma(k, EXPF_LN2_HI, x)))
    num = _fma(_fma(_fma(_fma(_fma(p[5], r, p[4]), r, p[3]), r, p[2]), r, p[1]), r, p[0])
    poly = num / _fma(_fma(q_[2], r, q_[1]), r, q_[0])
    low = k <= F32(-125)
    shift = F32(-125) if low else k
    scaled = np.int32(np.float32(poly).view(np.int32) + (np.int32(shift) << 23)).view(np.float32)
    rest = np.int32(zero - (k - F32(-125))) if low else np.int32(0)  # 2^-rest, exactly:
    y = scaled * np.int32((127 - rest) << 23).view(np.float32)
    y = EXPF_NAN if nan else y
    y = F32(np.inf) if big else y
    return zero if small else y


@_jit
def sigmoid_of_negated32(z):  # pragma: no cover - compiled
    """``z = 1 / (1 + exp(z))`` in place for a contiguous float32 ``z`` holding -z, with numpy's
    exp (:func:`_expf`), add and division (one loop over contiguous values: vectorised)."""
    flat = z.reshape(-1)
    one = F32(1)
    for k in range(flat.size):
        flat[k] = one / (_expf(flat[k]) + one)


#: exp's reduction: x = k ln2 / 128 + r (k rounded by adding SHIFT), and the polynomial of
#: exp(r) - 1 past r (GNU libc's constants for its 128-entry table, polynomial of order 5).
EXP_N = 128
EXP_INV_LN2_N = float.fromhex("0x1.71547652b82fep0") * EXP_N
EXP_SHIFT = float.fromhex("0x1.8p52")
EXP_NEG_LN2_HI_N = -float.fromhex("0x1.62e42fefa0000p-8")
EXP_NEG_LN2_LO_N = -float.fromhex("0x1.cf79abc9e3b3ap-47")
EXP_C2, EXP_C3, EXP_C4, EXP_C5 = map(
    float.fromhex,
    (
        "0x1.ffffffffffdbdp-2",
        "0x1.555555555543cp-3",
        "0x1.55555cf172b91p-5",
        "0x1.1111167a4d017p-7",
    ),
)


@functools.lru_cache(maxsize=1)
def exp_table() -> np.ndarray:
    """exp's table, uint64 (256,): for k < 128, ``2^(k/128) = H (1 + T)``, H the double nearest
    to it and T the double nearest to the rest, ``(2^(k/128) - H) / H``; entry 2k holds T's
    bits, entry 2k + 1 H's bits less ``k << 45`` (the k / 128 that the exponent adds back)."""
    table = np.empty(2 * EXP_N, dtype=np.uint64)
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        ln2 = decimal.Decimal(2).ln()
        for k in range(EXP_N):
            exact = (ln2 * k / EXP_N).exp()
            h = float(exact)  # rounded to nearest, as is the rest below
            t = float((exact - decimal.Decimal(h)) / decimal.Decimal(h))
            table[2 * k] = np.float64(t).view(np.uint64)
            table[2 * k + 1] = np.float64(h).view(np.uint64) - np.uint64(k << 45)
    return table


@_jit(fastmath={"contract"}, inline="always")
def _exp_main(x, table):  # pragma: no cover - compiled
    """exp(x) for a float64 ``x`` with |x| < 512 (:data:`EXP_MAIN_HI`), as GNU
    libc computes it on CPUs with FMA: ``2^(k/128) exp(r)`` from the table and the polynomial,
    products and sums fused where its compiler fuses them."""
    kd = EXP_INV_LN2_N * x + EXP_SHIFT  # k in its low bits
    ki = np.float64(kd).view(np.uint64)
    kd -= EXP_SHIFT
    r = x + kd * EXP_NEG_LN2_HI_N + kd * EXP_NEG_LN2_LO_N
    idx = 2 * (ki % np.uint64(EXP_N))
    tail = np.uint64(table[idx]).view(np.float64)
    scale = np.uint64(table[idx + 1] + (ki << np.uint64(45))).view(np.float64)
    r2 = r * r
    tmp = tail + r + r2 * (EXP_C2 + r * EXP_C3) + r2 * r2 * (EXP_C4 + r * EXP_C5)
    return scale + scale * tmp


#: |x| below which :func:`_exp_main` computes exp(x) as GNU libc does: its main path for
#: |x| >= 2^-54, and below that libc's 1 + x, which the same operations give (r = x, exactly 1
#: after rounding).
EXP_MAIN_HI = 512.0


@_jit(fastmath={"contract"})  # _exp_main's fused products (inlined, it takes these flags)
def sigmoid_of_negated(zn, out, table):  # pragma: no cover - compiled
    """``out = 1 / (1 + exp(zn))`` for float64 ``zn`` = -z (any strides) and ``out`` of its
    shape (5 axes each; ``out`` may be ``zn``): the numpy code's exponential, add and division;
    exp by :func:`_exp_main`, and by the C library's for the elements outside its range
    (large, infinite or NaN), if a row has any. Each row of ``zn`` is read before its row of
    ``out`` is written."""
    n0, n1, n2, n3, n4 = zn.shape
    one = np.float64(1)
    e = np.empty(n4)
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                for m in range(n3):
                    src, dest = zn[i, j, k, m], out[i, j, k, m]
                    outside = 0
                    for b in range(n4):  # loops of their own: this one and the division
                        a = abs(src[b])  # vectorise
                        outside += (a >= EXP_MAIN_HI) | (a != a)
                    for b in range(n4):  # scalar code (the table's reads)
                        e[b] = _exp_main(src[b], table)
                    if outside:
                        for b in range(n4):
                            if not abs(src[b]) < EXP_MAIN_HI:
                                e[b] = math.exp(src[b])
                    for b in range(n4):
                        dest[b] = one / (e[b] + one)


def sigmoid_in_place(z: np.ndarray) -> None:
    """``z = 1 / (1 + exp(z))`` in place for a contiguous float32 or float64 ``z`` holding -z:
    :func:`sigmoid_of_negated32` or :func:`sigmoid_of_negated`."""
    if z.dtype == np.float32:
        sigmoid_of_negated32(z)
    else:
        flat = z.reshape(1, 1, 1, 1, -1)
        sigmoid_of_negated(flat, flat, exp_table())


@functools.lru_cache(maxsize=4)
def exp_matches_numpy(dtype) -> bool:
    """Whether :func:`sigmoid_in_place` gives numpy's bits here for ``dtype`` (float32:
    numpy's exp is its own AVX2 / AVX-512 code; float64: the C library's): checked once, on
    values across exp's whole range and its special cases."""
    dtype = np.dtype(dtype)
    if numba is None or dtype not in (np.float32, np.float64):
        return False
    rng = np.random.default_rng(0)
    bits = np.uint32 if dtype == np.float32 else np.uint64
    probe = np.concatenate(
        [
            np.linspace(-40, 40, 1 << 15),
            rng.uniform(-800, 800, 1 << 14),
            [0.0, -0.0, 5e-324, -5e-324, 1e-17, -1e-17, 709.8, -745.2, np.inf, -np.inf, np.nan],
        ]
    ).astype(dtype)
    random = rng.integers(0, np.iinfo(bits).max, 1 << 15, dtype=bits, endpoint=True)
    probe = np.concatenate([probe, random.view(dtype)])
    got = probe.copy()
    sigmoid_in_place(got)
    with np.errstate(all="ignore"):
        want = 1 / (np.exp(probe) + 1)
    return got.tobytes() == want.tobytes()


def sigmoid_exp_applies(dtype) -> bool:
    """Whether the fast engine computes a sigmoid of ``dtype`` with the compiled exp."""
    return ENABLED and exp_matches_numpy(np.dtype(dtype))


@_jit
def slope_times(act, grad, code, out):  # pragma: no cover - compiled
    """``out = f'(act) * grad`` for contiguous arrays of one shape (the delta of a conv layer
    whose grad is not a pooling layer's): :func:`_slope`, then the one product."""
    a, g, o = act.reshape(-1), grad.reshape(-1), out.reshape(-1)
    one, zero = np.ones(1, act.dtype)[0], np.zeros(1, act.dtype)[0]
    for k in range(o.size):
        o[k] = _slope(a[k], code, one, zero) * g[k]


@_jit
def mean_pool(a, scale, factor, power_of_two, out):  # pragma: no cover - compiled
    """The mean of each scale x scale block of ``a`` (maps, rows, cols, batch), into ``out``
    (maps, rows / scale, cols / scale, batch), summed as the numpy code sums: each column of
    the block down its rows, those sums left to right, then times ``factor[0]`` (1 / scale^2,
    where that is a power of two: ``power_of_two``) or divided by it (scale^2)."""
    maps, rows_out, cols_out, batch = out.shape
    f = factor[0]
    acc = np.empty(batch, out.dtype)
    col = np.empty(batch, out.dtype)
    for i in range(maps):
        for r in range(rows_out):
            for c in range(cols_out):
                for q in range(scale):
                    x = c * scale + q
                    for b in range(batch):
                        col[b] = a[i, r * scale, x, b]
                    for p in range(1, scale):
                        for b in range(batch):
                            col[b] = col[b] + a[i, r * scale + p, x, b]
                    for b in range(batch):
                        acc[b] = col[b] if q == 0 else acc[b] + col[b]
                for b in range(batch):
                    out[i, r, c, b] = acc[b] * f if power_of_two else acc[b] / f


@_jit
def mean_unpool_delta(act, dn, scale, code, factor, power_of_two, out):  # pragma: no cover
    """The delta of a conv layer under a mean pooling layer, into ``out`` (act's shape):
    ``f'(act) * expand(dn / scale^2)``, with ``dn / scale^2`` computed as the numpy code does
    (times ``factor[0]`` = 1 / scale^2 where ``power_of_two``, else divided by it, scale^2),
    then the one product."""
    maps, rows, cols, batch = act.shape
    one, zero = np.ones(1, act.dtype)[0], np.zeros(1, act.dtype)[0]
    f = factor[0]
    for i in range(maps):
        for y in range(rows):
            for x in range(cols):
                for b in range(batch):
                    share = dn[i, y // scale, x // scale, b]
                    share = share * f if power_of_two else share / f
                    out[i, y, x, b] = _slope(act[i, y, x, b], code, one, zero) * share


@_jit
def max_unpool_delta(act, dn, scale, code, out):  # pragma: no cover - compiled
    """The delta of a conv layer under a max pooling layer, into ``out`` (act's shape).

    ``act`` (maps, rows, cols, batch) is the conv layer's output, ``dn`` (maps, rows / scale,
    cols / scale, batch) the pooling layer's delta, ``code`` the activation
    (:data:`ACTIVATION_CODES`). Each block's delta goes to its first maximum in column-major
    order (the row offset fastest): ``out = (f'(act) * mask) * expand(dn)``, the products of
    the numpy code in its order (so a non-maximum gets its signed zero, ``(f' * 0) * dn``).
    One row of blocks at a time: the positions of its maxima are found reading whole rows of
    ``act`` (every block of the row and every sample at once), then the row is written."""
    maps, rows, cols, batch = act.shape
    blocks = cols // scale
    best = np.empty((blocks, batch), act.dtype)
    first = np.empty((blocks, batch), np.int32)  # k = p + scale * q of the block's maximum
    one, zero = np.ones(1, act.dtype)[0], np.zeros(1, act.dtype)[0]  # act's dtype, not float64
    for i in range(maps):
        for bi in range(rows // scale):
            y0 = bi * scale
            best[:] = act[i, y0, ::scale]
            first[:] = 0
            for q in range(scale):
                for p in range(scale):
                    k = p + scale * q
                    if k == 0:
                        continue
                    row = act[i, y0 + p]
                    for bj in range(blocks):
                        x = bj * scale + q
                        for b in range(batch):
                            value = row[x, b]
                            taken = value > best[bj, b]
                            best[bj, b] = value if taken else best[bj, b]
                            first[bj, b] = k if taken else first[bj, b]
            share = dn[i, bi]
            for p in range(scale):
                row, dest = act[i, y0 + p], out[i, y0 + p]
                for x in range(blocks * scale):
                    bj = x // scale
                    k = p + scale * (x - bj * scale)
                    for b in range(batch):
                        slope = _slope(row[x, b], code, one, zero)
                        hit = one if first[bj, b] == k else zero
                        dest[x, b] = slope * hit * share[bj, b]


@_jit
def take_columns(x, idx, out):  # pragma: no cover - compiled
    """``out[p, b] = x[p, idx[b]]`` for x (rows, m), idx (n,) in [0, m) and out (rows, n)."""
    for p in range(x.shape[0]):
        row, dest = x[p], out[p]
        for b in range(idx.shape[0]):
            dest[b] = row[idx[b]]


def samples(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``x[..., idx]``: the samples ``idx`` (n,) of ``x`` (..., m), a new array. Compiled
    (about twice as fast on large ``x``, where each sample's values are a cache line apart)
    for integer indices in [0, m) and an ``x`` whose leading axes merge into one without a
    copy (a C-contiguous array, or a slice of one along its last axis); numpy's fancy indexing
    otherwise."""
    rows = _as_rows(x)
    if not (
        ENABLED
        and rows is not None
        and idx.ndim == 1
        and idx.dtype.kind in "iu"
        and idx.size
        and 0 <= idx.min()
        and idx.max() < x.shape[-1]
    ):
        return x[..., idx]
    out = np.empty((*x.shape[:-1], idx.size), dtype=x.dtype)
    take_columns(rows, idx, out.reshape(-1, idx.size))
    return out


def _as_rows(x: np.ndarray) -> np.ndarray | None:
    """``x`` (..., m) as a (rows, m) view, if its leading axes merge into one (else None)."""
    if x.ndim < 2:
        return None
    shape, strides = x.shape[:-1], x.strides[:-1]
    if any(strides[k] != strides[k + 1] * shape[k + 1] for k in range(len(shape) - 1)):
        return None
    return np.lib.stride_tricks.as_strided(
        x, (math.prod(shape), x.shape[-1]), (strides[-1], x.strides[-1]), writeable=False
    )


def delta(act: np.ndarray, grad: np.ndarray, activation: str) -> np.ndarray:
    """:func:`slope_times` into a new array (``act`` and ``grad`` of one shape and dtype)."""
    act, grad = np.ascontiguousarray(act), np.ascontiguousarray(grad)
    out = np.empty_like(act)
    slope_times(act, grad, ACTIVATION_CODES[activation], out)
    return out


def unpool(act: np.ndarray, dn: np.ndarray, scale: int, method: str, activation: str):
    """:func:`max_unpool_delta` (``method="max"``) or :func:`mean_unpool_delta` into a new
    array of ``act``'s shape and dtype."""
    out = np.empty_like(act)
    code = ACTIVATION_CODES[activation]
    if method == "max":
        max_unpool_delta(act, dn, scale, code, out)
    else:
        mean_unpool_delta(act, dn, scale, code, *_scaling(scale, dn.dtype), out)
    return out


def pool_mean(a: np.ndarray, scale: int) -> np.ndarray:
    """:func:`mean_pool` of ``a`` (maps, rows, cols, batch) into a new array."""
    maps, rows, cols, batch = a.shape
    out = np.empty((maps, rows // scale, cols // scale, batch), dtype=a.dtype)
    mean_pool(a, scale, *_scaling(scale, a.dtype), out)
    return out


def _scaling(scale: int, dtype) -> tuple[np.ndarray, bool]:
    """(factor, whether to multiply by it) for a mean over scale^2 values in ``dtype``, as
    :func:`dltoolbox.engines.fast._divide` scales: times 1 / n for a power of two n, else / n."""
    n = scale * scale
    power_of_two = n & (n - 1) == 0
    return np.array([1 / n if power_of_two else n], dtype=dtype), power_of_two
