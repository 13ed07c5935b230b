"""cnntest time on the 10000 MNIST test images, and the peak memory of a training epoch.

    python benchmarks/bench_test_memory.py           # cnntest 5 times; a whole epoch per dtype
    python benchmarks/bench_test_memory.py --quick   # cnntest 3 times; 200 batches per dtype

cnntest runs the fast engine on one BLAS thread; the first call also pays for fresh memory
pages (this machine's first touch of a page is slow), so it is shown apart from the median of
the others. The memory of an epoch is measured in a child process holding only the training
data: its peak resident size while training (Linux ``VmHWM``, reset after loading) against the
training data's own size plus 300 MB.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _common  # first: it pins the BLAS threads before numpy is loaded
import numpy as np

import dltoolbox as dlt

MB = 2**20


def time_cnntest(data: str | None, dtype, repeats: int) -> list[float]:
    train_x, train_y, test_x, test_y = _common.load_mnist(data, dtype)
    net = dlt.cnnsetup({"layers": _common.example_layers()}, train_x, train_y, dlt.OctaveRandom(0))
    del train_x, train_y
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        dlt.cnntest(net, test_x, test_y)
        times.append(time.perf_counter() - start)
    return times


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def epoch_memory(data: str | None, dtype_name: str, batches: int) -> dict:
    """Run in the child: train ``batches`` batches, report sizes in bytes."""
    dtype = np.dtype(dtype_name).type
    x, y, test_x, test_y = _common.load_mnist(data, dtype)
    del test_x, test_y
    gc.collect()
    rng = dlt.OctaveRandom(0)
    net = dlt.cnnsetup({"layers": _common.example_layers()}, x, y, rng)
    before = _status_kb("VmRSS") * 1024
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    m = batches * 50
    xs, ys = (x, y) if m == x.shape[2] else (x[:, :, :m], y[:, :m])
    dlt.cnntrain(net, xs, ys, {"alpha": 1, "batchsize": 50, "numepochs": 1}, rng)
    return {
        "data": x.nbytes + y.nbytes,
        "before": before,
        "peak": _status_kb("VmHWM") * 1024,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, 200 batches")
    parser.add_argument(
        "--data", help="mnist_uint8.mat or a folder of MNIST files (default: ../shared/data)"
    )
    parser.add_argument("--child", nargs=2, metavar=("DTYPE", "BATCHES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(epoch_memory(args.data, args.child[0], int(args.child[1]))))
        return 0

    print(f"machine: {_common.machine()}")
    repeats = 3 if args.quick else 5
    print(f"\ncnntest on 10000 test images (target <= 0.7 s in float64), {repeats} calls:")
    for dtype in (np.float64, np.float32):
        t = time_cnntest(args.data, dtype, repeats)
        print(
            f"  {np.dtype(dtype).name}: first call {t[0]:.3f} s, then median "
            f"{statistics.median(t[1:]):.3f} s ({' '.join(f'{v:.3f}' for v in t)})"
        )

    batches = 200 if args.quick else 1200
    print(f"\npeak memory of training ({batches} batches of 50; target <= data + 300 MB):")
    for name in ("float64", "float32"):
        cmd = [sys.executable, __file__, "--child", name, str(batches)]
        if args.data:
            cmd += ["--data", args.data]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"  {name}: training data {r['data'] / MB:.0f} MB, process before training "
            f"{r['before'] / MB:.0f} MB, peak while training {r['peak'] / MB:.0f} MB "
            f"= data + {(r['peak'] - r['data']) / MB:.0f} MB "
            f"(training itself added {(r['peak'] - r['before']) / MB:.0f} MB)"
        )
    print(f"machine after: {_common.machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
