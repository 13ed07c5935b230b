"""What the bad-input and damaged-file tests share: a tiny net, exact net equality, a picture
of a folder's files, and the damaged or foreign files they read."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import scipy.io

import dltoolbox as dlt
from dltoolbox.netio.npzfile import META_KEY, read_arrays
from dltoolbox.spec import parse_spec

SPEC, F_SPEC = "i-2c3-2s", "i-2c3-2s-4f"
OPTS = {"alpha": 1.0, "batchsize": 2, "numepochs": 1}


def data(dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """x (8, 8, 4) and one-hot y (3, 4)."""
    x = dlt.OctaveRandom(1).rand(8, 8, 4).astype(dtype)
    return x, np.eye(3, dtype=dtype)[:, [0, 1, 2, 0]]


def make_net(spec: str = SPEC, dtype=np.float64, passes: bool = False) -> dict:
    """A set-up net for :func:`data` (after cnnff and cnnbp when ``passes``)."""
    x, y = data(dtype)
    net = dlt.cnnsetup({"layers": parse_spec(spec)}, x, y, dlt.OctaveRandom(0))
    return dlt.cnnbp(dlt.cnnff(net, x), y) if passes else net


def identical(a, b) -> bool:
    """Whether two nets (or values of one) are the same: keys in the same order, arrays of the
    same dtype, shape and numbers (NaN equal to NaN), scalars of the same type."""
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(identical(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(identical, a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        nan = a.dtype.kind in "fc"  # NaN equal to NaN where there can be any
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=nan)
    if hasattr(a, "get_state"):  # a random stream: the same state
        return type(a) is type(b) and identical(a.get_state(), b.get_state())
    if hasattr(a, "__dict__") and not callable(a):  # another object: the same attributes
        return type(a) is type(b) and identical(vars(a), vars(b))
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return type(a) is type(b) and a == b


def snapshot(folder: Path) -> dict:
    """Every file and folder under ``folder``: its size, mode, modification time and digest."""
    out = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        out[str(path.relative_to(folder))] = (st.st_size, st.st_mode, st.st_mtime_ns, digest)
    return out


def deep_copy(value):
    return copy.deepcopy(value)


# --------------------------------------------------------------------------- files


def _resave(src: Path, dst: Path, change) -> None:
    """``dst``: the arrays of the .npz ``src`` after ``change(arrays, info)`` (info: the
    checkpoint's JSON, written back)."""
    arrays = read_arrays(src)
    original = arrays.get("checkpoint.info")
    info = None if original is None else json.loads(str(original))
    change(arrays, info)
    if info is not None and arrays["checkpoint.info"] is original:  # not replaced by change
        arrays["checkpoint.info"] = np.array(json.dumps(info))
    np.savez(dst, **arrays)


def _checkpoints(store: Path) -> None:
    x, y = data()
    net, rng = make_net(), dlt.OctaveRandom(5)
    dlt.cnntrain(net, x, y, dict(OPTS, checkpoint=store / "ckpt.npz"), rng)
    good = store / "ckpt.npz"
    changes = {
        "epochs_neg": lambda a, i: i.update(epochs_done=-1),
        "epochs_str": lambda a, i: i.update(epochs_done="1"),
        "epochs_big": lambda a, i: i.update(epochs_done=10**9),
        "rng_pos": lambda a, i: i.update(rng=[9999, 0, 0.0]),
        "rng_kind": lambda a, i: i.update(rng="MT19937"),
        "rng_key": lambda a, i: a.update({"checkpoint.rng_key": a["checkpoint.rng_key"][:5]}),
        "no_run": lambda a, i: i.pop("run"),
        "rL": lambda a, i: a.update({"rL": a["rL"][:-1]}),
        "nan": lambda a, i: a.update(ffW=np.full_like(a["ffW"], np.nan)),
        "kshape": lambda a, i: a.update({"layers.1.k.0.0": np.zeros((2, 2))}),
        "meta": lambda a, i: a.update({META_KEY: np.array("{not json")}),
        "info": lambda a, i: a.update({"checkpoint.info": np.array("[1, 2")}),
    }
    for name, change in changes.items():
        _resave(good, store / f"ckpt_{name}.npz", change)
    net32, rng32 = make_net(dtype=np.float32), dlt.OctaveRandom(5)
    dlt.cnntrain(net32, *data(np.float32), dict(OPTS, checkpoint=store / "ckpt32.npz"), rng32)
    v5 = dlt.MatlabRandom(5)
    dlt.cnntrain(make_net(), x, y, dict(OPTS, checkpoint=store / "ckpt_v5.npz"), v5)
    _resave(store / "ckpt_v5.npz", store / "ckpt_v5_words.npz", _short_words)


def _short_words(arrays: dict, info: dict) -> None:
    info["rng"]["v5uniform"] = info["rng"]["v5uniform"][:3]


def _foreign_files(store: Path) -> None:
    (store / "text.mat").write_text("hello")
    (store / "hdf5.mat").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(600))
    (store / "octave.mat").write_text("# Created by Octave 7.3.0\n# name: cnn\n")
    (store / "octave_binary.mat").write_bytes(b"Octave-1-L\x00" + bytes(40))
    (store / "gzip.mat").write_bytes(gzip.compress(b"x" * 100))
    (store / "empty.npz").write_bytes(b"")
    (store / "text.npz").write_text("not a zip")
    np.savez(store / "plain.npz", a=np.ones(3))
    np.savez(store / "pickled.npz", a=np.array([{"x": 1}], dtype=object))
    scipy.io.savemat(store / "nostruct.mat", {"a": np.ones(2)})
    scipy.io.savemat(store / "notcell.mat", {"cnn": {"layers": np.ones(2)}})
    scipy.io.savemat(store / "notype.mat", {"cnn": {"layers": np.array([[{"x": 1.0}]], object)}})


def _net_files(store: Path) -> None:
    net = make_net(passes=True)
    dlt.save_net(store / "good.npz", net)
    dlt.save_net(store / "good.mat", net)
    for name, change in {
        "version": lambda a, i: a.update(
            {META_KEY: np.array(json.dumps({"format": "x", "version": 1}))}
        ),
        "entry": lambda a, i: a.pop("layers.1.k.0.0"),
        "meta": lambda a, i: a.update({META_KEY: np.array("{not json")}),
        "layers_str": lambda a, i: a.update({META_KEY: np.array(_meta_with(a, layers="ab"))}),
    }.items():
        _resave(store / "good.npz", store / f"npz_{name}.npz", change)
    dlt.save_net(store / "noffb.mat", {k: v for k, v in net.items() if k != "ffb"})
    bad = dict(net, ffW=np.full_like(net["ffW"], np.nan))
    dlt.save_net(store / "nan.npz", bad, allow_nonfinite=True)
    mnist_like = dlt.cnnsetup(
        {"layers": parse_spec(SPEC)}, np.zeros((28, 28, 1)), np.eye(10)[:, :1]
    )
    mnist_like["layers"][1]["b"][1] = np.inf
    dlt.save_net(store / "inf28.npz", mnist_like, allow_nonfinite=True)
    dlt.save_net(store / "small.mat", dlt.cnnsetup({"layers": parse_spec("2c3-2s")}, *data()))
    mat = scipy.io.loadmat(store / "good.mat", squeeze_me=False)
    scipy.io.savemat(store / "two.mat", {"a": mat["cnn"], "b": mat["cnn"]})
    raw = (store / "good.mat").read_bytes()
    (store / "trunc.mat").write_bytes(raw[: len(raw) // 2])
    zipped = bytearray((store / "good.npz").read_bytes())
    zipped[zipped.rfind(b"PK\x01\x02") + 10] ^= 0xFF  # the compression method, in the directory
    (store / "flip.npz").write_bytes(bytes(zipped))
    os.mkdir(store / "folder.npz")


def _meta_with(arrays: dict, **changes) -> str:
    meta = json.loads(str(arrays[META_KEY]))
    meta.update(changes)
    return json.dumps(meta)


def make_store(store: Path) -> Path:
    """Every file the bad-input table reads, made once."""
    _net_files(store)
    _foreign_files(store)
    _checkpoints(store)
    return store
