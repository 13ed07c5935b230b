"""The fast engine's row-tap convolutions (dltoolbox.engines.rowconv), against scipy's convolve
of each map and sample (MATLAB's convn): the patches, the forward sum, the input delta ('full'
convolution with the kernels turned) and the kernel gradient (convn of flipall(a) with d); and
which layers the engine sends through them, batch chunks included."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import convolve
from test_engines import assert_same, with_engine
from test_options import make

import dltoolbox as dlt
from dltoolbox.engines import fast, rowconv
from dltoolbox.net import ConvGeometry

#: (maps_in, maps_out, rows, cols, ks, pad)
SHAPES = [(2, 3, 6, 5, 3, 1), (3, 2, 7, 7, 5, 2), (2, 2, 5, 6, 3, 2), (4, 1, 6, 6, 5, 1)]


def padded(a, pad):
    return np.pad(a, ((0, 0), (pad, pad), (pad, pad), (0, 0)))


def out_size(shape):
    """(rows, cols) of a layer's output for a SHAPES entry."""
    _, _, rows, cols, ks, pad = shape
    return rows + 2 * pad - ks + 1, cols + 2 * pad - ks + 1


def delta(shape, seed):
    """A random delta of the layer's output maps (maps_out, rows', cols', 3)."""
    return np.random.default_rng(seed).standard_normal((shape[1], *out_size(shape), 3))


def data(maps_in, maps_out, rows, cols, ks, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((maps_in, rows, cols, batch))
    k = rng.standard_normal((maps_in, maps_out, ks, ks))
    return a, k


@pytest.mark.parametrize("shape", SHAPES)
def test_row_patches_hold_the_column_taps_of_every_padded_row(shape):
    maps, _, rows, cols, ks, pad = shape
    a, _ = data(maps, 1, rows, cols, ks)
    p = rowconv.row_patches(a, ks, pad)
    assert p.shape == rowconv.patch_shape(a.shape, ks, pad)
    ap = padded(a, pad)
    cols_out = cols + 2 * pad - ks + 1
    want = np.empty((maps, ks, rows + 2 * pad, cols_out, a.shape[-1]))
    for i in range(maps):
        for v in range(ks):
            for c in range(cols_out):
                want[i, v, :, c] = ap[i, :, c + v]
    np.testing.assert_array_equal(p, want.reshape(p.shape))
    out = np.full(p.shape, np.nan)  # into a given buffer, every entry written; a strided input
    rowconv.row_patches(np.concatenate([a, a], axis=3)[..., ::2], ks, pad, out)
    np.testing.assert_array_equal(
        out, rowconv.row_patches(np.concatenate([a, a], 3)[..., ::2], ks, pad)
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_correlate_is_the_sum_of_valid_convolutions(shape):
    maps_in, maps_out, rows, cols, ks, pad = shape
    a, k = data(*shape[:5])
    ap = padded(a, pad)
    rows_out, cols_out = out_size(shape)
    out = np.zeros((maps_out, rows_out * cols_out * a.shape[-1]))
    patches = rowconv.row_patches(a, ks, pad)
    rowconv.correlate(patches, rowconv.forward_weights(k), rows_out, out)
    want = np.zeros((maps_out, rows_out, cols_out, a.shape[-1]))
    for j in range(maps_out):
        for i in range(maps_in):
            want[j] += convolve(ap[i], k[i, j][:, :, None], mode="valid")
    np.testing.assert_allclose(out.reshape(want.shape), want, rtol=0, atol=1e-12)
    fresh, cleared = np.full_like(out, np.nan), np.zeros_like(out)  # written, not added to
    for start in (fresh, cleared):
        rowconv.correlate(patches, rowconv.forward_weights(k), rows_out, start, add=False)
    np.testing.assert_array_equal(fresh, cleared)
    # the same sums, though maybe not the same bits: a first product written by numpy.matmul
    # (a matrix-vector product for one output map) and one added within BLAS differ in rounding
    np.testing.assert_allclose(fresh.reshape(want.shape), want, rtol=0, atol=1e-12)
    negated = np.zeros_like(out)
    w = rowconv.forward_weights(k, negate=True)
    rowconv.correlate(patches, w, rows_out, negated)
    np.testing.assert_array_equal(negated, -out)


@pytest.mark.parametrize("shape", SHAPES)
def test_the_input_delta_is_the_full_convolution_cut_to_the_input(shape):
    maps_in, maps_out, rows, cols, ks, pad = shape
    _, k = data(*shape[:5])
    d = delta(shape, 1)
    grown = ks - 1 - pad
    out = np.zeros((maps_in, rows * cols * 3))
    w = rowconv.delta_weights(k)
    rowconv.correlate(rowconv.row_patches(d, ks, grown), w, rows, out)
    want = np.zeros((maps_in, rows + 2 * pad, cols + 2 * pad, 3))
    for i in range(maps_in):
        for j in range(maps_out):  # convn(d, rot180(k), 'full')
            want[i] += convolve(d[j], k[i, j][::-1, ::-1, None], mode="full")[:, :, :3]
    want = want[:, pad : pad + rows, pad : pad + cols]
    np.testing.assert_allclose(out.reshape(want.shape), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_kernel_sums_are_convn_of_the_flipped_input_with_the_delta(shape):
    maps_in, maps_out, rows, cols, ks, pad = shape
    a, _ = data(*shape[:5])
    ap = padded(a, pad)
    d = delta(shape, 2)
    got = rowconv.kernel_sums(rowconv.row_patches(a, ks, pad), d, ks)
    assert got.shape == (maps_in, maps_out, ks, ks)
    for i in range(maps_in):
        for j in range(maps_out):  # the toolbox's convn(flipall(a), d, 'valid')
            want = convolve(ap[i][::-1, ::-1, ::-1], d[j], mode="valid")[:, :, 0]
            np.testing.assert_allclose(got[i, j], want, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("maps_in", "geometry", "used"),
    [
        (2, ConvGeometry(3, 1, 1), True),
        (2, ConvGeometry(5, 4, 1), True),
        (2, ConvGeometry(3, 0, 1), False),  # unpadded: the toolbox's layers keep their numbers
        (1, ConvGeometry(3, 1, 1), False),  # one input map: the row blocks widen its products
        (2, ConvGeometry(3, 1, 2), False),  # a stride
        (2, ConvGeometry(3, 3, 1), False),  # pad >= ks: the delta would be cut, not padded
    ],
)
def test_which_layers_are_convolved_by_rows(maps_in, geometry, used):
    assert fast._by_rows(maps_in, geometry) is used


def test_a_padded_net_runs_through_rowconv_and_matches_the_reference(monkeypatch):
    net, x, y = make("i-2c3ps-3c3p1-2s-2c5ps", (10, 10), 3, 7)
    calls = []
    correlate = rowconv.correlate
    monkeypatch.setattr(
        rowconv, "correlate", lambda *args, **kw: calls.append(1) or correlate(*args, **kw)
    )
    got = dlt.cnnbp(dlt.cnnff(with_engine(net, "fast"), x), y)
    assert len(calls) == 4  # two forward (layers 2 and 4), two input deltas (of layers 2 and 4)
    assert_same(got, dlt.cnnbp(dlt.cnnff(with_engine(net, "reference"), x), y))


def test_large_padded_batches_are_done_in_chunks_with_the_same_numbers(monkeypatch):
    net, x, y = make("i-2c3ps-3c3p1-2s", (10, 10), 3, 11)
    whole = dlt.cnnbp(dlt.cnnff(with_engine(net, "fast"), x), y)
    monkeypatch.setattr(fast, "PATCH_CHUNK", 2 * 3 * 12 * 10 * 4)  # layer 2: 4 samples at a time
    monkeypatch.setattr(fast, "PRIVATE_PATCH_CHUNK", 2 * 3 * 12 * 10 * 4)
    assert_same(dlt.cnnbp(dlt.cnnff(with_engine(net, "fast"), x), y), whole, tol=0)
