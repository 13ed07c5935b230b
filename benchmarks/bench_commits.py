"""Training steps of two commits of dltoolbox, interleaved: the A/B of a change to the engines.

    python benchmarks/bench_commits.py c237aab HEAD --nets lenet5 modern toolbox --batch 10
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_commits.py HEAD~1 HEAD

Each commit's ``dltoolbox/`` is extracted (``git archive``) into a temporary folder; then, for
``--rounds`` rounds, one fresh process per commit in turn imports that tree, sets up the net of
``benchmarks/bench_nets.py`` (this tree's, with the same data and options for both) and times
``--repeats`` cnntrain calls of ``--batches`` steps after one to warm up. Printed per net,
dtype and batch: the best CPU milliseconds per step of each commit (process time: the VMs here
are noisy) and their ratio, with the CPU and the BLAS of the machine. One BLAS thread.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import _common  # first: it pins the BLAS threads
import bench_nets

ROOT = _common.ROOT

#: Run in each process: the best CPU ms per step of ``repeats`` cnntrain calls.
_TIMER = """
import sys, time
sys.path.insert(0, {bench!r})
import _common, bench_nets, numpy as np
import dltoolbox as dlt
assert dlt.__file__.startswith({tree!r}), dlt.__file__
name, dtype, batch, batches, repeats = sys.argv[1], np.dtype(sys.argv[2]), *map(int, sys.argv[3:])
mnist = None if name == "rgb" else _common.load_mnist(None)  # rgb: synthetic images
x, y, net = bench_nets.steps_data(name, batch * batches, mnist, dtype)
opts = bench_nets.train_opts(name, batch)
dlt.cnntrain(net, x, y, opts, dlt.OctaveRandom(1))
best = float("inf")
for _ in range(repeats):
    start = time.process_time()
    dlt.cnntrain(net, x, y, opts, dlt.OctaveRandom(1))
    best = min(best, time.process_time() - start)
print(best / batches * 1e3)
"""


def extract(commit: str, into: Path) -> Path:
    """The ``dltoolbox/`` package of ``commit`` written under ``into``; returns the folder."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "dltoolbox"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    into.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def step_ms(tree: Path, name: str, dtype: str, batch: int, batches: int, repeats: int) -> float:
    """The best CPU ms per training step of net ``name`` with the package in ``tree``."""
    code = _TIMER.format(bench=str(ROOT / "benchmarks"), tree=str(tree))
    env = {**os.environ, "PYTHONPATH": str(tree)}
    args = [sys.executable, "-c", code, name, dtype, str(batch), str(batches), str(repeats)]
    done = subprocess.run(args, env=env, cwd=tree, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{tree}: {name} {dtype} batch {batch} failed:\n{done.stderr}")
    return float(done.stdout)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="the commit before (A)")
    parser.add_argument("b", help="the commit after (B)")
    parser.add_argument("--nets", nargs="+", default=["lenet5"], choices=bench_nets.NETS)
    parser.add_argument("--dtypes", nargs="+", default=["float32"])
    parser.add_argument("--batch", nargs="+", type=int, default=[10], help="batch sizes (10)")
    parser.add_argument("--batches", type=int, default=100, help="steps per call (100)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per process (3)")
    parser.add_argument("--rounds", type=int, default=4, help="processes per commit (4)")
    args = parser.parse_args(argv)
    print(_common.machine())
    with tempfile.TemporaryDirectory() as tmp:
        trees = {c: extract(c, Path(tmp) / side) for c, side in ((args.a, "a"), (args.b, "b"))}
        print(f"{'net':8} {'dtype':8} {'batch':>5}  {'A ms':>8} {'B ms':>8}  B/A")
        for name in args.nets:
            for dtype in args.dtypes:
                for batch in args.batch:
                    best = {c: float("inf") for c in trees}
                    for _ in range(args.rounds):
                        for c, tree in trees.items():
                            ms = step_ms(tree, name, dtype, batch, args.batches, args.repeats)
                            best[c] = min(best[c], ms)
                    a, b = best[args.a], best[args.b]
                    print(f"{name:8} {dtype:8} {batch:5d}  {a:8.3f} {b:8.3f}  {b / a:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
