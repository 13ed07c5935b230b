"""Matrix products of the fast engine: numpy's, or a private OpenBLAS where numpy's is slow.

numpy's bundled OpenBLAS picks its kernels by CPU model. Some releases do not know newer CPUs
that have AVX-512 (AMD Zen 5, for one: OpenBLAS issue #6029, numpy 2.4's OpenBLAS 0.3.31) and
fall back to their AVX2 ("Haswell") kernels, which run the engine's products 30-40% slower.
On such a machine (the CPU has AVX-512, numpy's OpenBLAS reports a kernel set without it) the
fast engine runs its products on its own copy of OpenBLAS, from the ``scipy-openblas32`` wheel
(the build numpy and SciPy are made with), loaded privately with its AVX-512 ("SkylakeX")
kernels. numpy, SciPy and every other library keep their own BLAS, untouched.

Elsewhere the products are ``numpy.matmul``, but those that add into an array
(``accumulate=True``) call the cblas gemm of numpy's own OpenBLAS (the library numpy.matmul
runs on, already loaded, with its threads) with beta = 1: ``out += a @ b`` would write the
product into a temporary and read it back, about a third more time for the thin products of
:mod:`~dltoolbox.engines.rowconv`.

Set ``DLTOOLBOX_BLAS=numpy`` (before the first product) to always use ``numpy.matmul``. The
private copy reads ``OPENBLAS_NUM_THREADS`` as numpy's does, and threadpoolctl sees and limits
it like any other BLAS. Two thread pools on the same cores fight: numpy's OpenBLAS, which still
runs the output layer's products (kept there for their bits), leaves its threads spinning after
each product, and a 2-thread step beside the private copy's threads took 2 to 3 times its
1-thread time. So the fast engine's passes run inside :func:`numpy_on_one_thread`, which puts
numpy's OpenBLAS on one thread while the private one runs the products (the way scikit-learn
limits BLAS threads around its own threaded loops); the products' bits do not depend on it.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import importlib.metadata
import importlib.util
import os
import sys
import threading

import numpy as np

#: OpenBLAS kernel sets that use AVX-512.
AVX512_CORES = ("skylakex", "cooperlake", "sapphirerapids")
#: The CPU flags (Linux ``/proc/cpuinfo``) that OpenBLAS's SkylakeX kernels need.
AVX512_FLAGS = ("avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl")
#: cblas constants.
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_INT_MAX = 2**31 - 1

_lock = threading.Lock()
#: "gemm": {dtype: cblas gemm} of the private OpenBLAS (all products), or None; "add": numpy's
#: own OpenBLAS's, for products added into an array where the private one is not used, or None;
#: "pool": threadpoolctl's controller of numpy's OpenBLAS where the private one runs, or None;
#: "backend": str
_state: dict = {}
#: :func:`numpy_on_one_thread`: how many passes are inside it, numpy's threads before the first
_held = {"depth": 0, "threads": 1}
_held_lock = threading.Lock()
#: The cblas gemm symbols of numpy's OpenBLAS builds ({} the type letter), with their integers.
_NUMPY_SYMBOLS = (
    ("scipy_cblas_{}gemm64_", ctypes.c_int64),  # numpy >= 2.0 wheels (scipy-openblas64)
    ("cblas_{}gemm64_", ctypes.c_int64),  # numpy 1.22 - 1.26 wheels (openblas64_)
    ("scipy_cblas_{}gemm", ctypes.c_int),
    ("cblas_{}gemm", ctypes.c_int),
)
_LETTERS = {np.dtype(np.float64): "d", np.dtype(np.float32): "s"}


def cpu_has_avx512(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU has AVX-512 F, CD, BW, DQ and VL, as Linux reports it (so OS-enabled)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return all(flag in flags for flag in AVX512_FLAGS)
    except OSError:
        pass
    return False


def numpy_blas() -> dict | None:
    """threadpoolctl's description of numpy's BLAS (``internal_api``, ``architecture``, ...), or
    None when it cannot tell."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    package = os.path.realpath(os.path.dirname(np.__file__))
    homes = (package + ".libs" + os.sep, package + os.sep)  # numpy.libs/ beside numpy/, or in it
    infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    for info in infos:  # numpy's own, else the only one loaded
        if os.path.realpath(info["filepath"]).startswith(homes):
            return info
    return infos[0] if len(infos) == 1 else None


def needs_private(numpy_info: dict | None, avx512: bool) -> bool:
    """Whether the private OpenBLAS should run the products: the CPU has AVX-512 and numpy's
    BLAS is an OpenBLAS with a kernel set without it."""
    if not avx512 or numpy_info is None or numpy_info.get("internal_api") != "openblas":
        return False
    return str(numpy_info.get("architecture", "")).lower() not in AVX512_CORES


def _private_library() -> str | None:
    """The shared library file of the installed ``scipy-openblas32`` wheel, or None."""
    spec = importlib.util.find_spec("scipy_openblas32")  # found, never imported: importing
    if spec is None or not spec.submodule_search_locations:  # it loads the library globally
        return None
    lib_dir = os.path.join(spec.submodule_search_locations[0], "lib")
    found = sorted(glob.glob(os.path.join(lib_dir, "libscipy_openblas*.so*")))
    return found[0] if found else None


def _load_private(path: str) -> tuple[dict, str] | None:
    """Load OpenBLAS from ``path`` with its SkylakeX kernels, privately (RTLD_LOCAL): the cblas
    gemm of each dtype and its kernel name; None if it does not load or not with AVX-512."""
    had = os.environ.get("OPENBLAS_CORETYPE")
    os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"  # read once, while the library initialises
    try:
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
    except OSError:
        return None
    finally:
        if had is None:
            del os.environ["OPENBLAS_CORETYPE"]
        else:
            os.environ["OPENBLAS_CORETYPE"] = had
    gemms = _bind_gemms(lib, "scipy_cblas_{}gemm", ctypes.c_int)
    corename = getattr(lib, "scipy_openblas_get_corename", None)
    if gemms is None or corename is None:
        return None
    corename.restype = ctypes.c_char_p
    core = corename().decode()
    if core.lower() not in AVX512_CORES:
        return None
    try:
        version = " " + importlib.metadata.version("scipy-openblas32")
    except importlib.metadata.PackageNotFoundError:
        version = ""
    return gemms, f"private OpenBLAS (scipy-openblas32{version}), {core} kernels"


def _bind_gemms(lib: ctypes.CDLL, pattern: str, integer) -> dict | None:
    """The cblas gemms of ``lib`` named by ``pattern`` ("d", then "s" for {}), with their
    argument types (``integer`` for sizes), by dtype; None if it lacks them."""
    try:
        found = {t: getattr(lib, pattern.format(letter)) for t, letter in _LETTERS.items()}
    except AttributeError:
        return None
    ci, cp = ctypes.c_int, ctypes.c_void_p
    for dtype, gemm in found.items():
        real = ctypes.c_double if dtype == np.float64 else ctypes.c_float
        gemm.argtypes = [ci, ci, ci, integer, integer, integer, real, cp, integer, cp, integer]
        gemm.argtypes += [real, cp, integer]
        gemm.restype = None
    return found


def _numpy_gemms(info: dict | None) -> dict | None:
    """The cblas gemms of numpy's own OpenBLAS (described by ``info``, already loaded by
    numpy), or None where numpy's BLAS is not an OpenBLAS whose gemms can be found."""
    if info is None or info.get("internal_api") != "openblas" or not info.get("filepath"):
        return None
    try:
        lib = ctypes.CDLL(info["filepath"], mode=ctypes.RTLD_LOCAL)  # the loaded one, not a copy
    except OSError:
        return None
    for pattern, integer in _NUMPY_SYMBOLS:
        gemms = _bind_gemms(lib, pattern, integer)
        if gemms is not None:
            return gemms
    return None


def _numpy_pool(info: dict | None):
    """threadpoolctl's controller of the library ``info`` describes (numpy's BLAS), or None."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    for lib in ThreadpoolController().lib_controllers:
        if info is not None and lib.filepath == info.get("filepath"):
            return lib
    return None


def _setup() -> None:
    """Decide, once, which library runs the products (see the module's docstring)."""
    choice = os.environ.get("DLTOOLBOX_BLAS", "auto")
    if choice not in ("auto", "numpy"):
        raise ValueError(f"DLTOOLBOX_BLAS: expected 'auto' or 'numpy', got {choice!r}")
    loaded = adding = pool = None
    if choice == "auto" and sys.platform.startswith("linux"):
        info = numpy_blas()
        path = _private_library() if needs_private(info, cpu_has_avx512()) else None
        loaded = _load_private(path) if path else None
        adding = None if loaded else _numpy_gemms(info)
        pool = _numpy_pool(info) if loaded else None
    gemm, name = loaded or (None, "numpy.matmul")
    if adding:
        name += ", products added in place on numpy's OpenBLAS (cblas gemm)"
    _state.update(gemm=gemm, add=adding, pool=pool, backend=name)  # at once: read unlocked


def backend() -> str:
    """Which library runs the fast engine's products, in words."""
    if not _state:
        with _lock:
            if not _state:
                _setup()
    return _state["backend"]


def private(dtype) -> bool:
    """Whether the private OpenBLAS runs this dtype's products (see the module docstring)."""
    if not _state:
        backend()
    return bool(_state["gemm"]) and np.dtype(dtype) in _state["gemm"]


@contextlib.contextmanager
def numpy_on_one_thread():
    """A context in which numpy's own OpenBLAS runs on one thread, where the private OpenBLAS
    runs the products (elsewhere it changes nothing); numpy's thread count is restored when the
    last such context (of any thread) ends. The fast engine runs its passes in it (see the
    module docstring): the few products left to numpy are small, and its idle threads no longer
    spin on the cores the private copy's threads need."""
    if not _state:
        backend()
    pool = _state.get("pool")
    if pool is None:
        yield
        return
    with _held_lock:
        if not _held["depth"]:
            _held["threads"] = pool.get_num_threads()
            if _held["threads"] > 1:
                pool.set_num_threads(1)
        _held["depth"] += 1
    try:
        yield
    finally:
        with _held_lock:
            _held["depth"] -= 1
            if not _held["depth"] and _held["threads"] > 1:
                pool.set_num_threads(_held["threads"])


def _gemm(dtype, accumulate: bool):
    """The cblas gemm for a product of this dtype (added into ``out`` with ``accumulate``), or
    None for numpy.matmul."""
    if not _state:
        backend()
    gemms = _state["gemm"] or (_state.get("add") if accumulate else None)
    return gemms.get(dtype) if gemms else None


def accumulates(dtype) -> bool:
    """Whether :func:`matmul` adds ``a @ b`` into ``out`` within BLAS for this dtype
    (``accumulate=True`` without a temporary): on the private OpenBLAS, or on numpy's own."""
    return _gemm(np.dtype(dtype), True) is not None


def _operand(x: np.ndarray) -> tuple[int, int] | None:
    """(cblas transpose flag, leading dimension) of a 2-D ``x`` whose rows (or columns) are
    contiguous and evenly spaced, as cblas takes it; None for any other layout."""
    size = x.itemsize
    (rows, cols), (s_row, s_col) = x.shape, x.strides
    if (s_col == size or cols == 1) and s_row % size == 0 and s_row >= max(cols, 1) * size:
        return _NO_TRANS, s_row // size
    if (s_row == size or rows == 1) and s_col % size == 0 and s_col >= max(rows, 1) * size:
        return _TRANS, s_col // size
    return None


def _address(x: np.ndarray) -> int:
    """The address of the first element of ``x`` (as ``x.ctypes.data``, in a third of its time
    where x, or x.T, is contiguous and writable)."""
    flags = x.flags
    if flags.writeable and (flags.c_contiguous or flags.f_contiguous):
        return ctypes.addressof(ctypes.c_char.from_buffer(x if flags.c_contiguous else x.T))
    return x.ctypes.data


def matmul(
    a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, accumulate: bool = False
) -> np.ndarray:
    """``a @ b`` for 2-D arrays a (m, k) and b (k, n), written into ``out`` when given, or added
    to it (``out += a @ b``) with ``accumulate``.

    Runs on the private OpenBLAS where :func:`backend` chose it (else, with ``accumulate``, on
    numpy's own OpenBLAS through cblas) and the operands suit cblas
    (both float32 or both float64, with contiguous, evenly spaced rows or columns; ``out`` with
    contiguous rows, of that dtype and apart from both); anything else is ``numpy.matmul``, with
    its errors.
    """
    if accumulate and out is None:
        raise ValueError("out: accumulate=True needs the array to add the product to, got None")
    gemm = _gemm(a.dtype, accumulate)
    fits = gemm and b.dtype == a.dtype and a.ndim == 2 and b.ndim == 2
    if fits and a.shape[1] == b.shape[0]:
        (m, k), n = a.shape, b.shape[1]
        if out is None:
            out = np.empty((m, n), dtype=a.dtype)
        op_a, op_b, op_out = _operand(a), _operand(b), _operand(out)
        if (
            op_a is not None
            and op_b is not None
            and op_out is not None
            and op_out[0] == _NO_TRANS
            and out.shape == (m, n)
            and out.dtype == a.dtype
            and 0 < min(m, n, k)
            and max(m, n, k, op_a[1], op_b[1], op_out[1]) <= _INT_MAX
            and not np.may_share_memory(out, a)
            and not np.may_share_memory(out, b)
        ):
            gemm(
                _ROW_MAJOR, op_a[0], op_b[0], m, n, k, 1.0, _address(a), op_a[1],
                _address(b), op_b[1], 1.0 if accumulate else 0.0, _address(out), op_out[1],
            )  # fmt: skip
            return out
    if accumulate:
        out += np.matmul(a, b)
        return out
    return np.matmul(a, b, out=out)


def add_shifted_products(a: np.ndarray, b: np.ndarray, out: np.ndarray, shift: int) -> None:
    """``out[:, s * shift : s * shift + n] += a[s] @ b`` for every s, with a (s, m, k), b (k, n)
    and out (m, (len(a) - 1) * shift + n) of one dtype.

    Where BLAS adds them (:func:`accumulates`) and the arrays are C-contiguous, the checks are
    made once and each product is added within BLAS; otherwise one :func:`matmul` per s.
    """
    steps, m, k = a.shape
    n = b.shape[1]
    if b.shape[0] != k or out.shape != (m, (steps - 1) * shift + n) or shift < 0:
        raise ValueError(
            f"a, b, out: expected shapes (s, m, k), (k, n), (m, (s - 1) * shift + n) with "
            f"shift >= 0, got {a.shape}, {b.shape}, {out.shape} and shift {shift}"
        )
    if not accumulates(a.dtype) or not (
        a.dtype == b.dtype == out.dtype
        and a.flags.c_contiguous
        and b.flags.c_contiguous
        and out.flags.c_contiguous
        and out.flags.writeable
        and 0 < min(m, n, k)
        and max(out.shape[1], k, n) <= _INT_MAX
        and not np.may_share_memory(out, a)
        and not np.may_share_memory(out, b)
    ):
        for s in range(steps):
            matmul(a[s], b, out=out[:, s * shift : s * shift + n], accumulate=True)
        return
    gemm = _gemm(a.dtype, True)
    size = a.itemsize
    addr_a, addr_b, addr_out = _address(a), _address(b), _address(out)
    for s in range(steps):
        gemm(
            _ROW_MAJOR, _NO_TRANS, _NO_TRANS, m, n, k, 1.0, addr_a + s * m * k * size, k,
            addr_b, n, 1.0, addr_out + s * shift * size, out.shape[1],
        )  # fmt: skip
