"""Seconds per MNIST training epoch: dltoolbox (fast engine, float64 and float32; the reference
engine extrapolated from a few batches) against the same net in PyTorch on the CPU.

    python benchmarks/bench_epoch.py            # 3 interleaved rounds of whole epochs
    python benchmarks/bench_epoch.py --quick    # 2 rounds of 200 batches, extrapolated
    python benchmarks/bench_epoch.py --against ../before --no-torch   # this tree against another

``--against DIR`` also times the dltoolbox package of another checkout (a worktree of the previous
commit, say), imported beside this one, in the same rounds: cnntrain, and the toolbox's own loop
of cnnff, cnnbp and cnnapplygrads per batch (which pays the argument checks on every call), and
prints what this tree costs more or less.

The net is the toolbox example (i-6c5-2s-12c5-2s, sigmoid, mean pooling, batch 50, alpha 1,
60000 images). PyTorch (``pip install torch``, only needed for this comparison) runs Conv2d,
Sigmoid, AvgPool2d, Conv2d, Sigmoid, AvgPool2d, Linear, Sigmoid with the loss
0.5 * sum((o - y)^2) / batch and plain SGD with learning rate 1, one batch of 50 random samples
at a time. Both sides use one thread; the contestants take turns within each round so that a
change in the machine's load hits them alike. Medians are reported.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _common  # first: it pins the BLAS threads before numpy is loaded
import numpy as np

import dltoolbox as dlt

BATCH = 50


def dltoolbox_runner(x, y, dtype, engine="fast", lib=dlt):
    """A function running ``n`` batches of cnntrain on ``x``, ``y`` in ``dtype``; returns s.
    ``lib``: the dltoolbox package to time (this one, or that of :func:`load_tree`)."""
    x, y = x.astype(dtype, copy=False), y.astype(dtype, copy=False)
    rng = lib.OctaveRandom(0)
    net = lib.cnnsetup({"layers": _common.example_layers(), "engine": engine}, x, y, rng)
    opts = {"alpha": 1.0, "batchsize": BATCH, "numepochs": 1}

    def run(n: int) -> float:
        xs, ys = (x, y) if n * BATCH == x.shape[2] else (x[:, :, : n * BATCH], y[:, : n * BATCH])
        start = time.perf_counter()
        lib.cnntrain(net, xs, ys, opts, rng)
        return time.perf_counter() - start

    return run


def loop_runner(x, y, dtype, lib=dlt):
    """As :func:`dltoolbox_runner`, with the toolbox's loop of public calls per batch instead
    of cnntrain: ``cnnff``, ``cnnbp``, ``cnnapplygrads`` (each checking its arguments)."""
    x, y = x.astype(dtype, copy=False), y.astype(dtype, copy=False)
    rng = lib.OctaveRandom(0)
    net = lib.cnnsetup({"layers": _common.example_layers()}, x, y, rng)
    opts = {"alpha": 1.0}

    def run(n: int) -> float:
        kk = np.asarray(rng.randperm(x.shape[2])) - 1
        start = time.perf_counter()
        for b in range(n):
            idx = kk[b * BATCH : (b + 1) * BATCH]
            lib.cnnff(net, x[:, :, idx])
            lib.cnnbp(net, y[:, idx])
            lib.cnnapplygrads(net, opts)
        return time.perf_counter() - start

    return run


def call_cost(x, y, lib=dlt, repeat: int = 7) -> float:
    """Seconds of one cnntrain call that trains nothing (``numepochs`` 0): its checks of the
    net and of all of ``x`` and ``y``, made once per call (best of ``repeat``)."""
    net = lib.cnnsetup({"layers": _common.example_layers()}, x, y, lib.OctaveRandom(0))
    opts = {"alpha": 1.0, "batchsize": BATCH, "numepochs": 0}
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        lib.cnntrain(net, x, y, opts, lib.OctaveRandom(0))
        best = min(best, time.perf_counter() - start)
    return best


def load_tree(path: str):
    """The dltoolbox package of another checkout, imported beside this one as
    ``dltoolbox_against`` (its imports are relative, so it runs on its own modules)."""
    init = Path(path) / "dltoolbox" / "__init__.py"
    if not init.is_file():
        raise SystemExit(f"--against: no dltoolbox package in {path}")
    spec = importlib.util.spec_from_file_location(
        "dltoolbox_against", init, submodule_search_locations=[str(init.parent)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def torch_runner(x, y, dtype):
    """The same net and loop in PyTorch; None when torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    tdtype = {np.float64: torch.float64, np.float32: torch.float32}[dtype]
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5), torch.nn.Sigmoid(), torch.nn.AvgPool2d(2),
        torch.nn.Conv2d(6, 12, 5), torch.nn.Sigmoid(), torch.nn.AvgPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(192, 10), torch.nn.Sigmoid(),
    ).to(tdtype)  # fmt: skip
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    tx = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1), dtype=dtype))[:, None]
    ty = torch.from_numpy(np.ascontiguousarray(y.T, dtype=dtype))

    def run(n: int) -> float:
        start = time.perf_counter()
        perm = torch.randperm(tx.shape[0])
        for b in range(n):
            idx = perm[b * BATCH : (b + 1) * BATCH]
            opt.zero_grad()
            o = net(tx[idx])
            loss = 0.5 * ((o - ty[idx]) ** 2).sum() / BATCH
            loss.backward()
            opt.step()
        return time.perf_counter() - start

    return run


def octave_epoch(toolbox: str, data: str | None, batches: int) -> float:
    """Seconds per epoch of the original toolbox in ``octave-cli``, from ``batches`` batches.

    ``toolbox`` is a DeepLearnToolbox checkout (its ``CNN/`` and ``util/`` are put on the path).
    """
    mat = Path(data) if data else _common.SHARED / "data" / "mnist_uint8.mat"
    script = f"""
        addpath('{Path(toolbox) / "CNN"}'); addpath('{Path(toolbox) / "util"}');
        load('{mat}');
        m = {batches * BATCH};
        x = double(reshape(train_x(1:m, :)', 28, 28, m)) / 255;
        y = double(train_y(1:m, :)');
        rand('state', 0);
        c = @(maps) struct('type', 'c', 'outputmaps', maps, 'kernelsize', 5);
        s = struct('type', 's', 'scale', 2);
        cnn.layers = {{struct('type', 'i'), c(6), s, c(12), s}};
        cnn = cnnsetup(cnn, x, y);
        opts.alpha = 1; opts.batchsize = {BATCH}; opts.numepochs = 1;
        tic; cnn = cnntrain(cnn, x, y, opts); printf('seconds %.6f\\n', toc);
    """
    out = subprocess.run(
        ["octave-cli", "--no-gui", "--quiet", "--eval", script],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    seconds = float(out.split("seconds")[-1])
    return seconds * 60000 / (batches * BATCH)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 200 batches")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3; quick 2)")
    parser.add_argument("--batches", type=int, help="batches per run (default: a whole epoch)")
    parser.add_argument(
        "--reference-batches",
        type=int,
        default=5,
        help="batches of the reference engine, extrapolated (default 5; 0: not timed)",
    )
    parser.add_argument(
        "--data", help="mnist_uint8.mat or a folder of MNIST files (default: ../shared/data)"
    )
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    parser.add_argument(
        "--octave",
        metavar="TOOLBOX",
        help="also time the original toolbox (a DeepLearnToolbox checkout) in "
        "octave-cli, on --octave-batches batches, extrapolated",
    )
    parser.add_argument(
        "--octave-batches", type=int, default=100, help="batches for --octave (default 100)"
    )
    parser.add_argument(
        "--against",
        metavar="DIR",
        help="also time the dltoolbox of another checkout (e.g. a worktree of the previous "
        "commit) in the same rounds, and print the difference",
    )
    return parser


def _runners(args, x, y) -> dict:
    """The contestants of each round, by name."""
    runners = {
        "dltoolbox float64 (fast)": dltoolbox_runner(x, y, np.float64),
        "dltoolbox float32 (fast)": dltoolbox_runner(x, y, np.float32),
    }
    if args.against:
        before = load_tree(args.against)
        runners["against float64 (fast)"] = dltoolbox_runner(x, y, np.float64, lib=before)
        runners["against float32 (fast)"] = dltoolbox_runner(x, y, np.float32, lib=before)
        runners["dltoolbox float64, public calls"] = loop_runner(x, y, np.float64)
        runners["against float64, public calls"] = loop_runner(x, y, np.float64, lib=before)
    if not args.no_torch:
        for dtype, name in ((np.float64, "float64"), (np.float32, "float32")):
            run = torch_runner(x, y, dtype)
            if run is None:
                print("PyTorch not installed (pip install torch): no comparison")
                break
            runners[f"PyTorch {name}"] = run
    return runners


def _rounds(runners: dict, rounds: int, batches: int, per_epoch: int) -> dict[str, list]:
    """Seconds per epoch of each runner in each round; the runners take turns."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    for run in runners.values():  # warm-up: first-touch memory, caches, lazy imports
        run(min(20, batches))
    for r in range(rounds):  # every other round in reverse order: no one always goes first
        for name, run in list(runners.items())[:: -1 if r % 2 else 1]:
            times[name].append(run(batches) * per_epoch / batches)
        last = ", ".join(f"{n} {t[-1]:.2f} s" for n, t in times.items())
        print(f"round {r + 1}/{rounds}: {last}")
    return times


def _print_against(times: dict, med: dict, costs: tuple[float, float]) -> None:
    """This tree's time against the other's: medians, the median of the rounds' ratios, and
    the cost of a cnntrain call's checks (``costs``: this tree's and the other's, in s)."""
    extra = costs[0] - costs[1]
    print(
        f"checks of one cnntrain call (numepochs 0, all 60000 images): {costs[0] * 1e3:.1f} ms "
        f"here, {costs[1] * 1e3:.1f} ms against: {extra * 1e3:+.2f} ms, "
        f"{extra / med['dltoolbox float64 (fast)']:+.4%} of a float64 epoch"
    )
    for mine, theirs in (
        ("dltoolbox float64 (fast)", "against float64 (fast)"),
        ("dltoolbox float32 (fast)", "against float32 (fast)"),
        ("dltoolbox float64, public calls", "against float64, public calls"),
    ):
        ratios = [a / b for a, b in zip(times[mine], times[theirs])]
        each = " ".join(f"{r - 1:+.1%}" for r in ratios)
        print(
            f"{mine} / against: medians {med[mine] / med[theirs] - 1:+.2%}, rounds "
            f"{statistics.median(ratios) - 1:+.2%} (each {each})"
        )


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 3)
    x, y, _, _ = _common.load_mnist(args.data)
    per_epoch = x.shape[2] // BATCH
    batches = args.batches or (200 if args.quick else per_epoch)
    if not 0 < batches <= per_epoch:
        _parser().error(f"--batches: expected 1 to {per_epoch}, got {batches}")

    print(f"machine: {_common.machine()}")
    times = _rounds(_runners(args, x, y), rounds, batches, per_epoch)
    if args.reference_batches:
        ref = dltoolbox_runner(x, y, np.float64, engine="reference")
        times["dltoolbox float64 (reference engine)"] = [
            ref(args.reference_batches) * per_epoch / args.reference_batches
        ]
    octave = _common.OCTAVE_EPOCH_S
    octave_what = "measured separately"
    if args.octave:
        octave = octave_epoch(args.octave, args.data, args.octave_batches)
        octave_what = f"{args.octave_batches} batches here, extrapolated"
    med = {name: statistics.median(t) for name, t in times.items()}
    what = "whole epochs" if batches == per_epoch else f"{batches} batches, extrapolated"
    print(
        f"\nseconds per epoch (60000 images, batch 50; median of {rounds} rounds of {what}; "
        f"reference engine: {args.reference_batches} batches, extrapolated)\n"
    )
    print("| run | s/epoch | rounds |")
    print("| --- | ---: | --- |")
    for name, t in times.items():
        print(f"| {name} | {med[name]:.2f} | {' '.join(f'{v:.2f}' for v in t)} |")
    print(f"| original toolbox in Octave ({octave_what}) | {octave:.1f} | |")
    print()
    _print_ratios(args, med, octave, octave_what)
    if args.against:
        before = sys.modules["dltoolbox_against"]
        costs = call_cost(x, y), call_cost(x, y, lib=before)
        _print_against(times, med, costs)
    print(f"machine after: {_common.machine()}")
    return 0


def _print_ratios(args, med: dict, octave: float, octave_what: str) -> None:
    f64, f32 = med["dltoolbox float64 (fast)"], med["dltoolbox float32 (fast)"]
    for ours, theirs, dtype in (
        (f64, "PyTorch float64", "float64"),
        (f32, "PyTorch float32", "float32"),
    ):
        if theirs in med:
            print(f"{dtype}: dltoolbox / PyTorch = {ours / med[theirs]:.2f} (target <= 0.6)")
    print(f"float64: Octave ({octave_what}) / dltoolbox = {octave / f64:.1f}x (target >= 20x)")
    if args.octave:  # the figure too: the target may be read against either
        print(
            f"float64: Octave (the {_common.OCTAVE_EPOCH_S:.0f} s figure) / dltoolbox = "
            f"{_common.OCTAVE_EPOCH_S / f64:.1f}x (target >= 20x)"
        )
    reference = med.get("dltoolbox float64 (reference engine)")
    if reference is not None:
        print(f"float64: reference engine / fast engine = {reference / f64:.1f}x")


if __name__ == "__main__":
    raise SystemExit(main())
