"""Where a training step's matrix products go: each product shape of a net, its time and rate.

    python benchmarks/bench_products.py --nets modern --dtypes float32
    python benchmarks/bench_products.py --nets rgb lenet5 --batch 10

Every call of the fast engine's :func:`dltoolbox.engines.blas.matmul` (the convolutions, the
'f' layers; not the output layer's, which multiply with numpy, nor the 'full' convolution's
shifted products, which :func:`~dltoolbox.engines.blas.add_shifted_products` runs) during
``--batches`` training steps of a net of ``benchmarks/bench_nets.py`` is timed (wall clock,
one BLAS thread), grouped by the operands' shapes and layouts (C: rows contiguous, T: a
transposed view, S: other strides; "+": added into its output), and printed with its calls per step,
milliseconds per step and GFLOP/s, beside the whole step's time and the matmul peak of a 1024 x
1024 product measured in the same run. The timer adds about a microsecond per call.
"""

from __future__ import annotations

import argparse
import collections
import time

import _common  # first: it pins the BLAS threads
import bench_nets
import numpy as np

import dltoolbox as dlt
from dltoolbox.engines import blas, fast, rowconv
from dltoolbox.layers import fc

#: The modules that call blas.matmul by the name ``matmul``.
CALLERS = (fast, rowconv, fc)


def _layout(x: np.ndarray) -> str:
    """'C' (rows contiguous), 'T' (columns contiguous: a transposed view) or 'S' (strided)."""
    op = blas._operand(x)
    return "S" if op is None else ("C" if op[0] == blas._NO_TRANS else "T")


def product_times(name: str, mnist, dtype, batch: int, batches: int) -> tuple[dict, float]:
    """({(shape a, shape b, layouts, accumulate): [calls, seconds]}, seconds per step) of
    ``batches`` training steps of net ``name``, after as many to warm up."""
    x, y, net = bench_nets.steps_data(name, batch * batches, mnist, dtype)
    opts = bench_nets.train_opts(name, batch)
    dlt.cnntrain(net, x, y, opts, dlt.OctaveRandom(0))  # compilation, buffers
    stats: dict = collections.defaultdict(lambda: [0, 0.0])
    plain = blas.matmul

    def timed(a, b, out=None, accumulate=False):
        start = time.perf_counter()
        result = plain(a, b, out=out, accumulate=accumulate)
        entry = stats[(a.shape, b.shape, _layout(a) + _layout(b), accumulate)]
        entry[0] += 1
        entry[1] += time.perf_counter() - start
        return result

    for module in CALLERS:
        module.matmul = timed
    try:
        start = time.perf_counter()
        dlt.cnntrain(net, x, y, opts, dlt.OctaveRandom(1))
        step = (time.perf_counter() - start) / batches
    finally:
        for module in CALLERS:
            module.matmul = plain
    return dict(stats), step


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nets", nargs="+", default=["modern"], choices=bench_nets.NETS)
    parser.add_argument("--dtypes", nargs="+", default=["float32"])
    parser.add_argument("--batch", type=int, default=50, help="batch size (50)")
    parser.add_argument("--batches", type=int, default=20, help="timed steps (20)")
    parser.add_argument("--data", help="MNIST (default: ../shared/data, else the usual search)")
    args = parser.parse_args(argv)
    train_x, train_y, _, _ = _common.load_mnist(args.data)
    print(_common.machine())
    for dtype in map(np.dtype, args.dtypes):
        peaks: dict = {}
        bench_nets.update_peak(peaks, dtype, 1)
        peak = peaks[(dtype.name, 1)]
        print(f"\n{dtype.name}: matmul peak {peak / 1e9:.1f} GFLOP/s (1024 x 1024, 1 thread)")
        for name in args.nets:
            stats, step = product_times(name, (train_x, train_y), dtype, args.batch, args.batches)
            total = sum(seconds for _, seconds in stats.values()) / args.batches
            print(f"{name} batch {args.batch}: step {step * 1e3:.2f} ms, products "
                  f"{total * 1e3:.2f} ms")  # fmt: skip
            print(f"  {'a':>12} {'b':>14} lay add  calls/step  ms/step  GFLOP/s")
            for (sa, sb, lay, add), (calls, seconds) in sorted(
                stats.items(), key=lambda item: -item[1][1]
            ):
                rate = 2 * sa[0] * sa[1] * sb[1] * calls / seconds / 1e9
                print(f"  {str(sa):>12} {str(sb):>14} {lay:>3} {'+' if add else ' ':>3} "
                      f"{calls / args.batches:10.1f} {seconds / args.batches * 1e3:8.2f} "
                      f"{rate:8.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
