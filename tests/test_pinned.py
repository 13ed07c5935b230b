"""Trained nets pinned bit for bit: the digests in ``data/pinned.json`` were made by the code of
main before the layer-kind redesign (commit dea9465), so any change of a single bit in any
parameter, velocity, loss or output of these short runs fails here.

Each case trains on data drawn from ``OctaveRandom`` (no files needed), in both engines and
both dtypes. The bits of a matrix product depend on the BLAS kernels that compute it, so the
file holds one set of digests per platform (numpy's version, numpy's OpenBLAS kernel set, and
which library runs the fast engine's products); on a platform with no set the test skips and
says so. The runs use one BLAS thread (threadpoolctl), whatever the machine's setting: with
more, numpy's OpenBLAS on Haswell kernels gives some of the toolbox net's products other bits
(seen on an AMD Zen 3 with 2 threads, with the pinned commit's code too). A set for a new
platform is made by the pinned commit's code, never by the code under test: ``git worktree add
/tmp/pinned dea9465`` then, from that folder, ``PYTHONPATH=. python <this
checkout>/tests/test_pinned.py``, which prints the set to add.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import dltoolbox as dlt
from dltoolbox.engines import blas

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # no threadpoolctl (no pinned platform lacks it): the BLAS as configured
    threadpool_limits = None

PINNED = Path(__file__).parent / "data" / "pinned.json"

#: name -> (spec or layers, input shape without batch, classes, samples, net options, opts)
CASES = {
    "toolbox": ("i-6c5-2s-12c5-2s", (28, 28), 10, 60, {}, {"alpha": 1, "batchsize": 10}),
    "scale3_conv_last": ("i-2c5-3s-3c3", (22, 16), 4, 24, {}, {"alpha": 0.5, "batchsize": 6}),
    "pool_first": ("i-2s-3c3-2s", (20, 16), 3, 20, {}, {"alpha": 1, "batchsize": 5}),
    "options": (
        "i3-4c3r-2m-5c3t-2s",
        (14, 14, 3),
        5,
        24,
        {"output": "softmax"},
        {"alpha": 0.1, "batchsize": 4, "momentum": 0.9, "weight_decay": 1e-3, "lr_decay": 0.8},
    ),
}


def _train(name: str, engine: str, dtype) -> dict:
    """The trained net of case ``name``, on one BLAS thread."""
    with threadpool_limits(1) if threadpool_limits else contextlib.nullcontext():
        return _train_threads_as_set(name, engine, dtype)


def _train_threads_as_set(name: str, engine: str, dtype) -> dict:
    spec, shape, classes, m, extra, opts = CASES[name]
    data = dlt.OctaveRandom(7)
    x = np.asarray(data.rand(*shape, m)).astype(dtype)
    y = np.zeros((classes, m), dtype=dtype)
    y[np.asarray(data.randperm(m)) % classes, np.arange(m)] = 1
    rng = dlt.OctaveRandom(0)
    net = dlt.cnnsetup({"layers": dlt.spec.parse_spec(spec), **extra}, x, y, rng)
    return dlt.cnntrain(net, x, y, {**opts, "numepochs": 2, "engine": engine}, rng)


#: The net's numeric fields as they were before the redesign (fields added later are not pinned).
TOP_FIELDS = ("ffb", "ffW", "rL", "fv", "o", "e", "L", "od", "fvd", "dffW", "dffb", "vffW", "vffb")
LAYER_FIELDS = ("channels", "outputmaps", "kernelsize", "scale", "a", "d", "k", "dk", "vk")
LAYER_FIELDS += ("b", "db", "vb")


def _digest(net: dict) -> str:
    """SHA-256 over every array and number of the net's pinned fields, in a fixed order."""
    h = hashlib.sha256()

    def add(tag: str, value) -> None:
        arr = np.ascontiguousarray(np.asarray(value))
        h.update(f"{tag}:{arr.dtype.str}:{arr.shape}".encode())
        h.update(arr.tobytes())

    for key in sorted(k for k in net if k in TOP_FIELDS):
        add(key, net[key])
    for l, layer in enumerate(net["layers"]):
        for key in sorted(k for k in layer if k in LAYER_FIELDS):
            value = layer[key]
            if isinstance(value, list) and value and isinstance(value[0], list):  # k{i}{j}
                for i, row in enumerate(value):
                    for j, item in enumerate(row):
                        add(f"{l}.{key}.{i}.{j}", item)
            elif isinstance(value, list):
                for j, item in enumerate(value):
                    add(f"{l}.{key}.{j}", item)
            else:
                add(f"{l}.{key}", value)
    return h.hexdigest()


def _key(name: str, engine: str, dtype) -> str:
    return f"{name}/{engine}/{np.dtype(dtype).name}"


PARAMS = [
    (name, engine, dtype)
    for name in CASES
    for engine in ("fast", "reference")
    for dtype in (np.float64, np.float32)
]


def _platform() -> dict:
    """What decides the bits here: numpy's version (major.minor), the kernel set of numpy's
    BLAS, and whether the fast engine's products run on the private OpenBLAS or numpy's."""
    info = blas.numpy_blas() or {}
    return {
        "numpy": ".".join(np.__version__.split(".")[:2]),
        "numpy_blas": info.get("architecture", "unknown"),
        "fast_blas": "private" if blas.backend().startswith("private") else "numpy",
    }


def _pinned_digests() -> dict:
    here = _platform()
    for entry in json.loads(PINNED.read_text())["platforms"]:
        if all(entry[key] == value for key, value in here.items()):
            return entry["digests"]
    pytest.skip(f"no digests pinned for this platform {here} (see this module's docstring)")


@pytest.mark.parametrize(("name", "engine", "dtype"), PARAMS, ids=lambda p: str(p))
def test_trained_net_is_bit_identical_to_before(name, engine, dtype):
    pinned = _pinned_digests()
    net = _train(name, engine, dtype)
    assert _digest(net) == pinned[_key(name, engine, dtype)]


if __name__ == "__main__":
    digests = {_key(*p): _digest(_train(*p)) for p in PARAMS}
    entry = {"made_on": "<CPU model, BLAS versions>", **_platform(), "digests": digests}
    json.dump(entry, sys.stdout, indent=1, sort_keys=False)
    print()
