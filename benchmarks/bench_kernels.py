"""Training steps with one of the fast engine's optional paths against the same steps without it.

    python benchmarks/bench_kernels.py                   # numba's kernels, every net, both dtypes
    python benchmarks/bench_kernels.py --nets modern --dtypes float32 --rounds 9
    python benchmarks/bench_kernels.py --switch rows --nets modern lenet5   # row-tap convolutions
    python benchmarks/bench_kernels.py --switch inplace --nets modern rgb   # products added in BLAS
    python benchmarks/bench_kernels.py --switch chunk --nets modern rgb     # fast.PATCH_CHUNK
    python benchmarks/bench_kernels.py --switch piece --predict 2000        # fast.PATCH_PIECE
    python benchmarks/bench_kernels.py --switch exp --nets toolbox wide     # the sigmoid's exp

``--switch kernels`` (the default): the compiled kernels of :mod:`dltoolbox.engines.kernels`
against the numpy code (the same bits, tests/test_kernels.py). ``--switch rows``: padded layers
over several maps by :mod:`dltoolbox.engines.rowconv` against the row-blocked patches that the
engine used for them before (the same numbers up to rounding). ``--switch inplace`` (where the
products run on numpy.matmul): the products that add into an array called on numpy's own
OpenBLAS with beta = 1 against ``out += a @ b`` with a temporary. ``--switch chunk``: patch
matrices of up to ``fast.PATCH_CHUNK`` elements (and ``fast.PRIVATE_PATCH_CHUNK``) against 1 M,
the former limit. ``--switch piece``: a batch over that limit in pieces of ``fast.PATCH_PIECE``
elements against pieces as large as the limit (the former rule). ``--switch exp``: sigmoid
layers computed in one compiled pass with the algorithm of numpy's exponential (GNU libc's for
float64, numpy's own for float32; where it gives numpy's bits) against numpy's exp, then the
sigmoid kernel (the two sides are the same code where it does not apply). The same net (same
weights, same batches) trains ``--batches`` steps with the path and ``--batches`` without it,
in alternating rounds; medians of each side's CPU time per step (``time.process_time``: one
BLAS thread, so it is the step's own time even when other processes share the cores) and their
ratio. ``--predict N``: ``cnntest`` over N samples instead of the steps (CPU ms per call). The
machine is printed first.
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common  # first: it pins the BLAS threads
import bench_nets
import numpy as np

import dltoolbox as dlt
from dltoolbox.engines import blas, fast, kernels

_BY_ROWS = fast._by_rows
blas.backend()
_ADDING = blas._state["add"]
_CHUNKS = fast.PATCH_CHUNK, fast.PRIVATE_PATCH_CHUNK
_PIECE = fast.PATCH_PIECE
_EXP_APPLIES = kernels.sigmoid_exp_applies


def _set_kernels(on: bool) -> None:
    kernels.ENABLED = on


def _set_rows(on: bool) -> None:
    fast._by_rows = _BY_ROWS if on else (lambda maps_in, geometry: False)


def _set_inplace(on: bool) -> None:
    blas._state["add"] = _ADDING if on else None


def _set_chunk(on: bool) -> None:
    fast.PATCH_CHUNK, fast.PRIVATE_PATCH_CHUNK = _CHUNKS if on else (1 << 20, 1 << 20)


def _set_piece(on: bool) -> None:
    fast.PATCH_PIECE = _PIECE if on else 1 << 62


def _set_exp(on: bool) -> None:
    kernels.sigmoid_exp_applies = _EXP_APPLIES if on else (lambda dtype: False)


#: --switch: turns the path on (True) or off (False)
SWITCHES = {"kernels": _set_kernels, "rows": _set_rows, "inplace": _set_inplace}
SWITCHES["chunk"] = _set_chunk
SWITCHES["piece"] = _set_piece
SWITCHES["exp"] = _set_exp
#: --switch: the names of its two sides
LABELS = {"kernels": ("kernels", "numpy"), "rows": ("row taps", "row blocks")}
LABELS["inplace"] = ("in BLAS", "temporary")
LABELS["chunk"] = ("chunk limit", "1 M limit")
LABELS["piece"] = ("pieces", "limit pieces")
LABELS["exp"] = ("compiled exp", "numpy exp")


def _on_and_off(run, rounds: int, switch: str, per: int) -> dict:
    """Median CPU milliseconds per unit of ``run(r)`` (``per`` units: steps or calls) with the
    ``switch`` path on and off, in alternating order, after a warm-up round (compilation,
    buffers)."""
    times: dict[str, list[float]] = {"on": [], "off": []}
    for r in range(rounds + 1):
        for side in times if r % 2 else reversed(times):
            SWITCHES[switch](side == "on")
            start = time.process_time()
            run(r)
            if r:
                times[side].append((time.process_time() - start) / per * 1000)
    SWITCHES[switch](True)
    return {side: statistics.median(t) for side, t in times.items()}


def step_times(
    name: str, mnist, dtype, batch: int, batches: int, rounds: int, switch: str = "kernels"
) -> dict:
    """Median CPU milliseconds per training step of net ``name``, the ``switch`` path on and
    off, on ``batches`` batches of its data (:func:`bench_nets.make_data` of ``mnist``)."""
    x, y, net = bench_nets.steps_data(name, batch * batches, mnist, dtype)
    opts = bench_nets.train_opts(name, batch)
    return _on_and_off(
        lambda r: dlt.cnntrain(net, x, y, opts, dlt.OctaveRandom(r)), rounds, switch, batches
    )


def predict_times(name: str, mnist, dtype, samples: int, calls: int, rounds: int, switch: str):
    """Median CPU milliseconds per ``cnntest`` of net ``name`` over ``samples`` samples, the
    ``switch`` path on and off, ``calls`` calls per round."""
    x, y, net = bench_nets.steps_data(name, samples, mnist, dtype)

    def run(r: int) -> None:
        for _ in range(calls):
            dlt.cnntest(net, x, y)

    return _on_and_off(run, rounds, switch, calls)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nets", nargs="+", default=list(bench_nets.NETS), choices=bench_nets.NETS)
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--batch", type=int, default=50, help="batch size (50)")
    parser.add_argument("--batches", type=int, default=20, help="steps per round (20)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each side (5)")
    parser.add_argument("--switch", choices=SWITCHES, default="kernels", help="(kernels)")
    parser.add_argument("--predict", type=int, metavar="N", help="cnntest over N samples")
    parser.add_argument("--data", help="MNIST (default: ../shared/data, else the usual search)")
    args = parser.parse_args(argv)
    if args.switch == "kernels" and kernels.numba is None:
        parser.error("numba is not installed (pip install 'dltoolbox[fast]'): nothing to compare")
    if args.switch == "inplace" and not _ADDING:
        parser.error(f"the products run on {blas.backend()}: no in-place switch to compare")
    train_x, train_y, _, _ = _common.load_mnist(args.data)
    mnist = (train_x, train_y)
    numba = f"numba {kernels.numba.__version__}" if kernels.numba else "no numba"
    print(_common.machine(), numba, sep="; ")
    on, off = LABELS[args.switch]
    what = f"cnntest of {args.predict} samples" if args.predict else "step"
    print(f"{'net':<8} {'dtype':<8} {on + ' ms':>12} {off + ' ms':>14}  ratio  (CPU ms per {what})")
    for name in args.nets:
        for dtype in args.dtypes:
            if args.predict:
                got = predict_times(
                    name, mnist, np.dtype(dtype), args.predict, 2, args.rounds, args.switch
                )
            else:
                got = step_times(
                    name, mnist, np.dtype(dtype), args.batch, args.batches, args.rounds, args.switch
                )
            ratio = got["on"] / got["off"]
            print(f"{name:<8} {dtype:<8} {got['on']:12.2f} {got['off']:14.2f}  {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
