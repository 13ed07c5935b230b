"""Training steps with the fast engine's compiled kernels (numba) against its numpy code.

    python benchmarks/bench_kernels.py                   # every net of bench_nets, both dtypes
    python benchmarks/bench_kernels.py --nets modern --dtypes float32 --rounds 9

The same net (same weights, same batches) trains ``--batches`` steps with the kernels of
:mod:`dltoolbox.engines.kernels` and ``--batches`` with them switched off, in alternating
rounds; medians of each side's CPU time per step (``time.process_time``: one BLAS thread, so it
is the step's own time even when other processes share the cores) and their ratio. Both sides
compute the same bits (tests/test_kernels.py). The machine is printed first.
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common  # first: it pins the BLAS threads
import bench_nets
import numpy as np

import dltoolbox as dlt
from dltoolbox.engines import kernels


def step_times(name: str, mnist, dtype, batch: int, batches: int, rounds: int) -> dict:
    """Median CPU milliseconds per training step of net ``name``, kernels on and off, on
    ``batches`` batches of its data (:func:`bench_nets.make_data` of ``mnist``)."""
    case = bench_nets.NETS[name]
    x, y = bench_nets.make_data(name, batch * batches, mnist)
    x, y = x.astype(dtype), y.astype(dtype)
    net = bench_nets.dltoolbox_net(name, x, y)
    opts = {"alpha": case.alpha, "batchsize": batch, "numepochs": 1}
    if case.output == "softmax":
        opts["momentum"] = 0.9
    times: dict[str, list[float]] = {"kernels": [], "numpy": []}
    for r in range(rounds + 1):  # round 0 warms up (compilation, buffers)
        for side in times:
            kernels.ENABLED = side == "kernels"
            start = time.process_time()
            dlt.cnntrain(net, x, y, opts, dlt.OctaveRandom(r))
            if r:
                times[side].append((time.process_time() - start) / batches * 1000)
    kernels.ENABLED = True
    return {side: statistics.median(t) for side, t in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nets", nargs="+", default=list(bench_nets.NETS), choices=bench_nets.NETS)
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--batch", type=int, default=50, help="batch size (50)")
    parser.add_argument("--batches", type=int, default=20, help="steps per round (20)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each side (5)")
    parser.add_argument("--data", help="MNIST (default: ../shared/data, else the usual search)")
    args = parser.parse_args(argv)
    if kernels.numba is None:
        parser.error("numba is not installed (pip install 'dltoolbox[fast]'): nothing to compare")
    train_x, train_y, _, _ = _common.load_mnist(args.data)
    mnist = (train_x, train_y)
    print(_common.machine(), f"numba {kernels.numba.__version__}", sep="; ")
    print(f"{'net':<8} {'dtype':<8} {'kernels ms':>10} {'numpy ms':>9}  ratio  (CPU ms per step)")
    for name in args.nets:
        for dtype in args.dtypes:
            got = step_times(name, mnist, np.dtype(dtype), args.batch, args.batches, args.rounds)
            ratio = got["kernels"] / got["numpy"]
            print(f"{name:<8} {dtype:<8} {got['kernels']:10.2f} {got['numpy']:9.2f}  {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
