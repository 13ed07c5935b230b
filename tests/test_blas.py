"""dltoolbox.engines.blas: its products against numpy.matmul; when it uses a private OpenBLAS."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from dltoolbox.engines import blas

SHAPES = [(24, 41, 7200), (180, 24, 1600), (1, 1, 1), (7, 1, 3), (1, 9, 1), (33, 17, 65)]
TOL = {np.float64: 1e-13, np.float32: 1e-5}


def private_gemms():
    """The private OpenBLAS's gemms, loaded here whatever numpy's BLAS is; skips where it
    cannot be (no AVX-512, not Linux, the wheel not installed)."""
    if not sys.platform.startswith("linux") or not blas.cpu_has_avx512():
        pytest.skip("the private OpenBLAS is only loaded on Linux CPUs with AVX-512")
    path = blas._private_library()
    if path is None:
        pytest.skip("scipy-openblas32 is not installed")
    loaded = blas._load_private(path)
    assert loaded is not None, f"{path} did not load with AVX-512 kernels"
    return loaded[0]


def operands(m, k, n, dtype, layout_a, layout_b, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    if layout_a == "F":
        a = np.asfortranarray(a)
    if layout_b == "F":
        b = np.asfortranarray(b)
    return a, b


def check_products(monkeypatch, gemms):
    monkeypatch.setitem(blas._state, "gemm", gemms)
    monkeypatch.setitem(blas._state, "backend", "test")
    for dtype in (np.float64, np.float32):
        for m, k, n in SHAPES:
            for la in "CF":
                for lb in "CF":
                    a, b = operands(m, k, n, dtype, la, lb)
                    want = a.astype(np.float64) @ b.astype(np.float64)
                    scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
                    got = blas.matmul(a, b)
                    assert got.dtype == dtype and got.shape == (m, n)
                    assert np.all(np.abs(got - want) <= TOL[dtype] * scale), (
                        dtype,
                        m,
                        k,
                        n,
                        la,
                        lb,
                    )
                    out = np.full((m, n), np.nan, dtype=dtype)
                    assert blas.matmul(a, b, out=out) is out
                    np.testing.assert_array_equal(out, got)


def test_private_products_equal_numpy_matmul(monkeypatch):
    gemms = private_gemms()
    check_products(monkeypatch, gemms)


def test_numpy_products_are_numpy_matmul(monkeypatch):
    check_products(monkeypatch, None)


def test_private_library_calls_are_the_cblas_ones(monkeypatch):
    """Every product the operands allow goes to the private gemm (counted), the rest to numpy."""
    gemms = private_gemms()
    calls = []

    def counting(gemm):
        return lambda *args: calls.append(args[:6]) or gemm(*args)

    monkeypatch.setitem(blas._state, "gemm", {t: counting(g) for t, g in gemms.items()})
    a, b = operands(5, 4, 3, np.float64, "C", "F")
    blas.matmul(a, b)
    assert calls == [(101, 111, 112, 5, 3, 4)]  # row-major, a as is, b transposed
    calls.clear()
    rows = np.arange(40.0).reshape(8, 5)[::2, 1:]  # evenly spaced contiguous rows: cblas's
    np.testing.assert_array_equal(blas.matmul(rows, b), np.matmul(rows, b))
    np.testing.assert_array_equal(blas.matmul(rows.T, rows), np.matmul(rows.T, rows))
    assert [c[1:3] for c in calls] == [(111, 112), (112, 111)]
    calls.clear()
    strided = np.ones((4, 8))[:, ::2]  # neither rows nor columns contiguous
    mixed = np.ones((4, 3), dtype=np.float32)
    ints = np.ones((4, 3), dtype=np.int64)
    for x, y in ((strided, b), (a, mixed), (a.astype(np.int64), ints)):
        np.testing.assert_array_equal(blas.matmul(x, y), np.matmul(x, y))
    out = np.zeros((5, 5))
    np.testing.assert_array_equal(blas.matmul(out, np.eye(5), out=out), np.zeros((5, 5)))
    assert calls == []  # all of them numpy's (overlapping out included)


def numpy_gemms():
    """numpy's own OpenBLAS's cblas gemms; skips where numpy's BLAS is not such an OpenBLAS."""
    gemms = blas._numpy_gemms(blas.numpy_blas())
    if gemms is None:
        pytest.skip(f"numpy's BLAS has no cblas gemm to call: {blas.numpy_blas()}")
    return gemms


def set_libraries(monkeypatch, library: str) -> None:
    """Products on ``library``: "private" (all), "in place" (numpy.matmul, but the added ones
    on numpy's own OpenBLAS) or "numpy" (numpy.matmul, added through a temporary)."""
    blas.backend()
    monkeypatch.setitem(blas._state, "gemm", private_gemms() if library == "private" else None)
    monkeypatch.setitem(blas._state, "add", numpy_gemms() if library == "in place" else None)


LIBRARIES = ["numpy", "in place", "private"]


@pytest.mark.parametrize("library", LIBRARIES)
def test_products_added_into_a_strided_view(monkeypatch, library):
    """``accumulate=True`` adds the product into ``out``, which may be a window of a wider
    array (rows evenly spaced): the rest of the array is left alone."""
    set_libraries(monkeypatch, library)
    for dtype in (np.float64, np.float32):
        a, b = operands(6, 5, 7, dtype, "C", "F", seed=3)
        wide = np.random.default_rng(4).standard_normal((6, 12)).astype(dtype)
        want = wide.copy()
        want[:, 2:9] += a.astype(np.float64) @ b.astype(np.float64)
        got = blas.matmul(a, b, out=wide[:, 2:9], accumulate=True)
        assert got.base is wide or got.base is wide.base
        np.testing.assert_allclose(wide, want, rtol=TOL[dtype], atol=TOL[dtype] * 10)
        blas.matmul(a, b, out=wide[:, 2:9])  # without accumulate: overwritten
        np.testing.assert_allclose(wide[:, 2:9], a @ b, rtol=TOL[dtype], atol=TOL[dtype] * 10)
        np.testing.assert_array_equal(wide[:, :2], want[:, :2])
    with pytest.raises(ValueError, match="accumulate"):
        blas.matmul(a, b, accumulate=True)


@pytest.mark.parametrize("library", LIBRARIES)
def test_shifted_products_are_added_at_their_shifts(monkeypatch, library):
    """``add_shifted_products`` adds ``a[s] @ b`` at column ``s * shift`` of ``out``, the
    windows overlapping or not, in every library; bad shapes are refused by name."""
    set_libraries(monkeypatch, library)
    rng = np.random.default_rng(5)
    for dtype in (np.float64, np.float32):
        for steps, m, k, n, shift in [(5, 36, 24, 320, 40), (3, 4, 2, 6, 6), (2, 3, 5, 4, 7)]:
            a = rng.standard_normal((steps, m, k)).astype(dtype)
            b = rng.standard_normal((k, n)).astype(dtype)
            out = rng.standard_normal((m, (steps - 1) * shift + n)).astype(dtype)
            want = out.astype(np.float64)
            for s in range(steps):
                want[:, s * shift : s * shift + n] += a[s].astype(np.float64) @ b
            blas.add_shifted_products(a, b, out, shift)
            np.testing.assert_allclose(out, want, rtol=TOL[dtype], atol=TOL[dtype] * 100)
    with pytest.raises(ValueError, match="a, b, out: expected shapes"):
        blas.add_shifted_products(np.ones((2, 3, 4)), np.ones((4, 5)), np.ones((3, 9)), 3)


def test_added_products_run_in_place_on_numpys_openblas(monkeypatch):
    """Where numpy.matmul runs the products, those added into an array call numpy's own
    OpenBLAS with beta = 1 (no temporary), with the numbers of ``out += a @ b``; the others
    stay numpy.matmul's, and so keep their bits."""
    gemms = numpy_gemms()
    calls = []

    def counting(gemm):
        return lambda *args: calls.append(args[:6] + args[11:12]) or gemm(*args)

    set_libraries(monkeypatch, "numpy")
    monkeypatch.setitem(blas._state, "add", {t: counting(g) for t, g in gemms.items()})
    assert blas.accumulates(np.float32) and blas.accumulates(np.float64)
    assert not blas.private(np.float32)
    for dtype in (np.float64, np.float32):
        for m, k, n in SHAPES:
            a, b = operands(m, k, n, dtype, "C", "F", seed=m)
            out = np.random.default_rng(n).standard_normal((m, n)).astype(dtype)
            want = out + np.matmul(a, b)
            calls.clear()
            assert blas.matmul(a, b, out=out, accumulate=True) is out
            assert [(c[:1] + c[3:]) for c in calls] == [(101, m, n, k, 1.0)]  # one, beta 1
            np.testing.assert_allclose(out, want, rtol=TOL[dtype], atol=TOL[dtype] * k)
            calls.clear()
            np.testing.assert_array_equal(blas.matmul(a, b), np.matmul(a, b))
            assert calls == []


def test_numpy_blas_is_numpys_own_library():
    """With SciPy's OpenBLAS loaded too (as dltoolbox loads it), the BLAS described is the one
    numpy ships and calls (in numpy.libs/ beside numpy's package, or inside it)."""
    pytest.importorskip("threadpoolctl")
    import scipy.linalg  # noqa: F401  (loads SciPy's own OpenBLAS)
    from threadpoolctl import threadpool_info

    package = os.path.realpath(os.path.dirname(np.__file__))
    homes = (package + ".libs" + os.sep, package + os.sep)
    own = [
        i["filepath"]
        for i in threadpool_info()
        if i.get("user_api") == "blas" and os.path.realpath(i["filepath"]).startswith(homes)
    ]
    if not own:
        pytest.skip("numpy's BLAS is not a library of its own package (not a wheel's)")
    assert blas.numpy_blas()["filepath"] == own[0]


@pytest.mark.parametrize("info", [None, {"internal_api": "mkl", "filepath": "x"}, {}])
def test_numpy_gemms_only_of_an_openblas(info):
    assert blas._numpy_gemms(info) is None


def test_shape_errors_are_numpys(monkeypatch):
    monkeypatch.setitem(blas._state, "gemm", {np.dtype(np.float64): lambda *a: None})
    with pytest.raises(ValueError, match="mismatch"):
        blas.matmul(np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError):
        blas.matmul(np.ones((2, 3)), np.ones((3, 2)), out=np.empty((3, 3)))


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nflags\t\t: sse avx2 avx512f avx512cd avx512bw avx512dq avx512vl\n"
    )
    assert blas.cpu_has_avx512(str(info))
    info.write_text("processor\t: 0\nflags\t\t: sse avx2 avx512f\n")
    assert not blas.cpu_has_avx512(str(info))
    assert not blas.cpu_has_avx512(str(tmp_path / "missing"))


@pytest.mark.parametrize(
    ("info", "avx512", "private"),
    [
        ({"internal_api": "openblas", "architecture": "Haswell"}, True, True),  # numpy mis-detects
        ({"internal_api": "openblas", "architecture": "Zen"}, True, True),
        ({"internal_api": "openblas", "architecture": "SkylakeX"}, True, False),  # already right
        ({"internal_api": "openblas", "architecture": "SapphireRapids"}, True, False),
        ({"internal_api": "openblas", "architecture": "Haswell"}, False, False),  # no AVX-512
        ({"internal_api": "mkl"}, True, False),  # not OpenBLAS: left alone
        (None, True, False),  # numpy's BLAS unknown
    ],
)
def test_private_library_only_where_numpys_lacks_the_cpus_kernels(info, avx512, private):
    assert blas.needs_private(info, avx512) is private


def backend_in_subprocess(**env) -> str:
    code = "from dltoolbox.engines import blas; print(blas.backend())"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def test_dltoolbox_blas_numpy_turns_the_private_library_off():
    assert backend_in_subprocess(DLTOOLBOX_BLAS="numpy") == "numpy.matmul"


def test_dltoolbox_blas_other_values_are_an_error():
    with pytest.raises(subprocess.CalledProcessError) as err:
        backend_in_subprocess(DLTOOLBOX_BLAS="mkl")
    assert "DLTOOLBOX_BLAS: expected 'auto' or 'numpy', got 'mkl'" in err.value.stderr


def test_backend_says_what_runs_the_products():
    expected = blas.needs_private(blas.numpy_blas(), blas.cpu_has_avx512())
    expected = expected and blas._private_library() is not None and sys.platform == "linux"
    name = backend_in_subprocess(DLTOOLBOX_BLAS="auto")
    assert name.startswith("private OpenBLAS") == expected, name
    if expected:
        assert "SkylakeX kernels" in name
    elif sys.platform == "linux" and blas._numpy_gemms(blas.numpy_blas()) is not None:
        assert name == "numpy.matmul, products added in place on numpy's OpenBLAS (cblas gemm)"


def test_loading_leaves_openblas_coretype_as_it_was(monkeypatch):
    private_gemms()
    path = blas._private_library()
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    blas._load_private(path)
    assert "OPENBLAS_CORETYPE" not in os.environ
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    blas._load_private(path)
    assert os.environ["OPENBLAS_CORETYPE"] == "Haswell"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_training_gives_the_same_net_with_either_library(monkeypatch, dtype):
    """A few steps of the toolbox example with the products on numpy.matmul and on the private
    OpenBLAS: the same net up to rounding."""
    import dltoolbox as dlt

    private = private_gemms()
    rng = np.random.default_rng(0)
    x = rng.random((28, 28, 40)).astype(dtype)
    y = np.eye(10)[:, rng.integers(0, 10, 40)]
    layers = [{"type": "i"}, {"type": "c", "outputmaps": 6, "kernelsize": 5},
              {"type": "s", "scale": 2}, {"type": "c", "outputmaps": 12, "kernelsize": 5},
              {"type": "s", "scale": 2}]  # fmt: skip
    nets = []
    for gemms in (None, private):
        monkeypatch.setitem(blas._state, "gemm", gemms)
        net = dlt.cnnsetup({"layers": [dict(l) for l in layers]}, x, y, dlt.OctaveRandom(0))
        nets.append(dlt.cnntrain(net, x, y, {"alpha": 1, "batchsize": 10, "numepochs": 2}, 1))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for a, b in zip(nets[0]["layers"][1::2], nets[1]["layers"][1::2]):
        np.testing.assert_allclose(np.array(a["k"]), np.array(b["k"]), rtol=tol, atol=tol)
    np.testing.assert_allclose(nets[0]["ffW"], nets[1]["ffW"], rtol=tol, atol=tol)
    np.testing.assert_allclose(nets[0]["rL"], nets[1]["rL"], rtol=tol)


def test_the_f_layers_products_run_on_the_engines_blas(monkeypatch):
    """An 'f' layer multiplies on blas.matmul (the fast engine's BLAS): with numpy's OpenBLAS
    beside the private one, both thread pools spun on a 2-core machine and a 2-thread step of
    the modern net took 2.8 x its 1-thread time."""
    import dltoolbox as dlt
    from dltoolbox.layers import fc

    calls = []

    def counted(a, b, out=None, accumulate=False):
        calls.append((a.shape, b.shape))
        return matmul(a, b, out=out, accumulate=accumulate)

    matmul = blas.matmul
    monkeypatch.setattr(fc, "matmul", counted)
    rng = np.random.default_rng(0)
    x, y = rng.random((6, 6, 4)), np.eye(3)[:, rng.integers(0, 3, 4)]
    net = dlt.cnnsetup({"layers": dlt.spec.parse_spec("i-2c3-5f")}, x, y, rng=0)
    dlt.cnnbp(dlt.cnnff(net, x), y)
    assert calls == [((5, 32), (32, 4)), ((5, 4), (4, 32)), ((32, 5), (5, 4))]


class _Pool:
    """A stand-in for threadpoolctl's controller of numpy's OpenBLAS: its thread count."""

    def __init__(self, threads: int) -> None:
        self.threads, self.seen = threads, []

    def get_num_threads(self) -> int:
        return self.threads

    def set_num_threads(self, threads: int) -> None:
        self.threads = threads
        self.seen.append(threads)


def test_numpy_on_one_thread_while_the_private_library_runs(monkeypatch):
    """numpy's OpenBLAS (the output layer's products) on one thread inside the fast engine's
    passes, its count restored when the outermost one ends: with its threads spinning beside
    the private one's, a 2-thread step of the wide and rgb nets at batch 200 took 2.5 to 3 x its
    1-thread time on a 2-core AMD Zen 5."""
    import dltoolbox as dlt

    blas.backend()  # the state set up before it is patched
    pool = _Pool(2)
    monkeypatch.setitem(blas._state, "pool", pool)
    with blas.numpy_on_one_thread():
        assert pool.threads == 1
        with blas.numpy_on_one_thread():
            assert pool.threads == 1
        assert pool.threads == 1
    assert pool.threads == 2 and pool.seen == [1, 2]
    with pytest.raises(RuntimeError, match="inside"), blas.numpy_on_one_thread():
        raise RuntimeError("inside")
    assert pool.threads == 2

    counts = []
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 8, 4)), np.eye(3)[:, rng.integers(0, 3, 4)]
    net = dlt.cnnsetup({"layers": dlt.spec.parse_spec("i-2c3-2s")}, x, y, rng=0)
    monkeypatch.setattr(pool, "get_num_threads", lambda: counts.append(pool.threads) or 2)
    pool.seen.clear()
    dlt.cnnbp(dlt.cnnff(net, x), y)
    assert len(counts) == 2 and pool.seen == [1, 2, 1, 2]  # forward, then backward
    net["engine"] = "reference"  # its numpy products keep numpy's threads
    dlt.cnnbp(dlt.cnnff(net, x), y)
    assert len(counts) == 2 and pool.threads == 2


def test_numpy_keeps_its_threads_without_the_private_library(monkeypatch):
    blas.backend()
    monkeypatch.setitem(blas._state, "pool", None)
    with blas.numpy_on_one_thread():
        pass
    pool = _Pool(1)  # one thread already: nothing to set
    monkeypatch.setitem(blas._state, "pool", pool)
    with blas.numpy_on_one_thread():
        assert pool.threads == 1
    assert pool.seen == []


def test_the_numpy_pool_is_numpys_openblas():
    """Where the private library runs the products, the controller found is numpy's own."""
    info = blas.numpy_blas()
    pool = blas._numpy_pool(info)
    if info is None or pool is None:
        pytest.skip("threadpoolctl does not describe numpy's BLAS here")
    assert pool.filepath == info["filepath"] and pool.get_num_threads() >= 1
    assert blas._numpy_pool(None) is None
