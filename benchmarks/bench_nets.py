"""Training steps of the tutorial nets: dltoolbox against the same nets in PyTorch on the CPU.

    python benchmarks/bench_nets.py                  # every net, both dtypes, batch 50
    python benchmarks/bench_nets.py --batch 10 50 200 --threads 1 2 --nets lenet5

The nets (``--nets``):

- ``toolbox``: the toolbox example i-6c5-2s-12c5-2s (sigmoid, mean pooling, squared error, SGD);
- ``lenet5``: demos/lenet5.py's LeNet-5 (C1 padded by 2, C3 with LeCun's connection table,
  C5, F6, tanh, softmax, momentum);
- ``modern``: demos/modern_cnn.py's net (3x3 'same' convolutions two by two, relu, max pooling,
  an 'f' layer with dropout 0.5, softmax, momentum).

PyTorch runs the same layers (C3's table as a masked full convolution, as dltoolbox computes it;
its own Dropout) with the same loss and optimiser on the same random batches of MNIST. Each
round times ``--batches`` steps of every contestant in turn, so that a change of the machine's
load hits them alike; medians over ``--rounds`` are reported, as seconds per 1000 samples and
as the ratio dltoolbox / PyTorch (below 1: dltoolbox is faster). ``--threads`` sets the threads
of both sides (BLAS and PyTorch's own). The machine, BLAS and kernels are printed first: the
figures belong to that machine only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

NETS = {
    "toolbox": ("i-6c5-2s-12c5-2s", "sigm", {"alpha": 1.0}),
    "lenet5": ("i-6c5tp2-2s-16c5t@lenet5-2s-120c5t-84ft", "softmax", {"alpha": 0.05}),
    "modern": ("i-16c3rps-16c3rps-2m-32c3rps-32c3rps-2m-128frd0.5", "softmax", {"alpha": 0.01}),
}


def _threads_first(argv: list[str]) -> int:
    """The first ``--threads`` value, set for BLAS before numpy loads (later values: runtime)."""
    if "--threads" in argv:
        return int(argv[argv.index("--threads") + 1])
    return 1


os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(
    _threads_first(sys.argv[1:])
)

import _common  # noqa: E402
import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import dltoolbox as dlt  # noqa: E402
from dltoolbox.spec import parse_spec  # noqa: E402


def dltoolbox_runner(name: str, x, y, dtype, batch: int):
    """A function running ``n`` training steps of net ``name``; returns the seconds."""
    spec, output, opts = NETS[name]
    x, y = x.astype(dtype, copy=False), y.astype(dtype, copy=False)
    rng = dlt.OctaveRandom(0)
    net = dlt.cnnsetup({"layers": parse_spec(spec), "output": output}, x, y, rng)
    opts = dict(opts, batchsize=batch, numepochs=1)
    if output == "softmax":
        opts["momentum"] = 0.9

    def run(n: int) -> float:
        start = time.perf_counter()
        dlt.cnntrain(net, x[..., : n * batch], y[:, : n * batch], opts, rng)
        return time.perf_counter() - start

    return run


def _mask(weight, mask) -> None:
    """Zero C3's unconnected kernels before each forward pass (a forward pre-hook: None)."""
    weight.data.mul_(mask.to(weight.dtype))


def _torch_net(name: str, torch):
    nn = torch.nn
    if name == "toolbox":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.Sigmoid(), nn.AvgPool2d(2),
            nn.Conv2d(6, 12, 5), nn.Sigmoid(), nn.AvgPool2d(2),
            nn.Flatten(), nn.Linear(192, 10), nn.Sigmoid(),
        )  # fmt: skip
    if name == "lenet5":
        c3 = nn.Conv2d(6, 16, 5)
        mask = torch.from_numpy(dlt.LENET5_C3.T.copy())[:, :, None, None]
        c3.register_forward_pre_hook(lambda m, _: _mask(m.weight, mask))
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2), c3, nn.Tanh(),
            nn.AvgPool2d(2), nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(),
            nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
        )  # fmt: skip
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10),
    )  # fmt: skip


def torch_runner(name: str, x, y, dtype, batch: int):
    """The same net, loss and optimiser in PyTorch; None when torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    tdtype = {np.float64: torch.float64, np.float32: torch.float32}[dtype]
    torch.manual_seed(0)
    net = _torch_net(name, torch).to(tdtype)
    _, output, opts = NETS[name]
    momentum = 0.9 if output == "softmax" else 0.0
    opt = torch.optim.SGD(net.parameters(), lr=opts["alpha"], momentum=momentum)
    tx = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1), dtype=dtype))[:, None]
    ty = torch.from_numpy(np.ascontiguousarray(y.T, dtype=dtype))
    labels = ty.argmax(dim=1)

    def run(n: int) -> float:
        start = time.perf_counter()
        perm = torch.randperm(tx.shape[0])
        for b in range(n):
            idx = perm[b * batch : (b + 1) * batch]
            opt.zero_grad()
            o = net(tx[idx])
            if output == "softmax":
                loss = torch.nn.functional.cross_entropy(o, labels[idx])
            else:
                loss = 0.5 * ((o - ty[idx]) ** 2).sum() / batch
            loss.backward()
            opt.step()
        return time.perf_counter() - start

    return run


def measure(name: str, data, dtype, batch: int, threads: int, args) -> dict[str, float]:
    """Median seconds per 1000 samples of each contestant, interleaved rounds."""
    x, y = data
    runners = {"dltoolbox": dltoolbox_runner(name, x, y, dtype, batch)}
    theirs = torch_runner(name, x, y, dtype, batch)
    if theirs is not None:
        runners["PyTorch"] = theirs
    times: dict[str, list[float]] = {who: [] for who in runners}
    with threadpool_limits(threads):
        _set_torch_threads(threads)
        for run in runners.values():
            run(2)  # warm up: first-call costs, buffers
        for _ in range(args.rounds):
            for who, run in runners.items():
                times[who].append(run(args.batches) / (args.batches * batch) * 1000)
    return {who: statistics.median(t) for who, t in times.items()}


def _set_torch_threads(threads: int) -> None:
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--batch", nargs="+", type=int, default=[50], help="batch sizes (50)")
    parser.add_argument("--threads", nargs="+", type=int, default=[1], help="threads (1)")
    parser.add_argument("--batches", type=int, default=100, help="steps per round (100)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--data", help="MNIST (default: ../shared/data, else the usual search)")
    args = parser.parse_args(argv)
    train_x, train_y, _, _ = _common.load_mnist(args.data)
    needed = max(args.batch) * (args.batches + 2)
    data = (train_x[..., :needed], train_y[:, :needed])
    print(_common.machine())
    head = f"{'net':<8} {'dtype':<8} {'batch':>5} {'threads':>7}  {'dltoolbox':>10} "
    print(head + f"{'PyTorch':>10}  ratio   (s / 1000 samples, medians of {args.rounds} rounds)")
    for name in args.nets:
        for dtype in args.dtypes:
            for batch in args.batch:
                for threads in args.threads:
                    got = measure(name, data, np.dtype(dtype).type, batch, threads, args)
                    ours, theirs = got["dltoolbox"], got.get("PyTorch")
                    ratio = f"{ours / theirs:.2f}" if theirs else "-"
                    theirs_text = f"{theirs:10.3f}" if theirs else f"{'-':>10}"
                    print(f"{name:<8} {dtype:<8} {batch:>5} {threads:>7}  {ours:10.3f} "
                          f"{theirs_text}  {ratio}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
