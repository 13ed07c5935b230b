"""The cost of each option beyond the toolbox against the toolbox example net, per training step.

    python benchmarks/bench_options.py [--steps N] [--rounds R] [--engine fast|reference]

Each variant is the toolbox example (i-6c5-2s-12c5-2s, batch 50 of MNIST-shaped random data)
with one option changed; "all" combines them. A step is cnnff + cnnbp + cnnapplygrads. The
variants take turns within each round (so that the machine's load hits them alike) and the
median over rounds is reported as ms per step, s per 60000-image epoch (1200 steps) and the
ratio to the default net. One BLAS thread.
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common  # noqa: F401  (first: it pins the BLAS threads before numpy is loaded)
import numpy as np

import dltoolbox as dlt
from dltoolbox.spec import parse_spec

BATCH = 50
EXAMPLE = "i-6c5-2s-12c5-2s"
#: name -> (spec, output, extra opts, channels)
VARIANTS = {
    "default (toolbox)": (EXAMPLE, "sigm", {}, 1),
    "relu": ("i-6c5r-2s-12c5r-2s", "sigm", {}, 1),
    "tanh": ("i-6c5t-2s-12c5t-2s", "sigm", {}, 1),
    "max pooling": ("i-6c5-2m-12c5-2m", "sigm", {}, 1),
    "softmax output": (EXAMPLE, "softmax", {}, 1),
    "momentum 0.9": (EXAMPLE, "sigm", {"momentum": 0.9}, 1),
    "weight decay": (EXAMPLE, "sigm", {"weight_decay": 1e-4}, 1),
    "momentum + weight decay": (EXAMPLE, "sigm", {"momentum": 0.9, "weight_decay": 1e-4}, 1),
    "3 input channels": (EXAMPLE, "sigm", {}, 3),
    "all": ("i-6c5r-2m-12c5r-2m", "softmax", {"momentum": 0.9, "weight_decay": 1e-4}, 3),
}


def runner(spec, output, extra, channels, engine):
    rng = np.random.default_rng(0)
    shape = (28, 28) + ((channels,) if channels > 1 else ()) + (BATCH,)
    x = rng.random(shape)
    y = np.eye(10)[:, rng.integers(0, 10, BATCH)]
    net = {"layers": parse_spec(spec), "engine": engine}
    if output != "sigm":
        net["output"] = output
    net = dlt.cnnsetup(net, x, y, rng=0)
    opts = {"alpha": 0.01, **extra}

    def run(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            dlt.cnnapplygrads(dlt.cnnbp(dlt.cnnff(net, x), y), opts)
        return (time.perf_counter() - start) / n

    run(3)  # warm-up
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="steps per variant and round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--engine", default="fast", choices=("fast", "reference"))
    args = parser.parse_args()
    runs = {name: runner(*v, args.engine) for name, v in VARIANTS.items()}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            times[name].append(run(args.steps))
    base = statistics.median(times["default (toolbox)"])
    print(f"{args.engine} engine, batch {BATCH}, median of {args.rounds} rounds x {args.steps}")
    print("| variant | ms/step | s/epoch | / default |\n| --- | ---: | ---: | ---: |")
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f"| {name} | {t * 1e3:.2f} | {t * 1200:.2f} | {t / base:.2f} |")


if __name__ == "__main__":
    main()
