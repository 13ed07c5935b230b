"""Training steps and predictions of the benchmark nets: dltoolbox against the same nets in
PyTorch on the CPU, with each row's distance from its FLOP floor.

    python benchmarks/bench_nets.py                  # every net, both dtypes, batch 50, 1 thread
    python benchmarks/bench_nets.py --batch 10 50 200 --threads 1 all --nets lenet5
    python benchmarks/bench_nets.py --full --markdown   # the whole table (issue 15), long
    python benchmarks/bench_nets.py --nets lenet5 modern --epochs   # whole MNIST epochs

The nets (``--nets``) and the options they cover:

- ``toolbox``: the toolbox example i-6c5-2s-12c5-2s (sigmoid, mean pooling, squared error, SGD);
- ``wide``: i-20c5-2s-50c5-2s, as the toolbox's but wider (sigmoid, mean pooling, squared error);
- ``rgb``: i3-16c5r-2m-32c5r-2m on 32 x 32 x 3 input (channels, relu, max pooling, softmax,
  momentum). Its data is synthetic: uniform [0, 1) pixels and random one-hot labels from a numpy
  generator seeded 0 (timing does not depend on the pixel values);
- ``lenet5``: demos/lenet5.py's LeNet-5 (padding 2, C3 with LeCun's connection table, a
  convolution to 1 x 1 maps, an 'f' layer, tanh, softmax, momentum);
- ``modern``: demos/modern_cnn.py's net (3x3 'same' convolutions two by two, conv after conv,
  relu, max pooling, an 'f' layer with dropout 0.5, softmax, momentum).

Every softmax net trains with momentum 0.9. The others use MNIST's training images.

PyTorch runs the same layers, built from the same spec (C3's table as a masked full
convolution, as dltoolbox computes it; its own Dropout), with the same loss and optimiser on
random batches of the same data. Each round times ``--batches`` steps of every contestant in
turn (every other round in reverse order), so that a change of the machine's load hits them
alike; medians over ``--rounds`` are reported, as seconds per 1000 samples and as the ratio
dltoolbox / PyTorch (below 1: dltoolbox is faster). ``--threads`` sets the threads of both
sides for a row (every BLAS threadpoolctl sees, and PyTorch's own); ``all`` is os.cpu_count().

The FLOP floor of a training step: per sample, twice the multiply-adds of the products that
:func:`dltoolbox.cnnsummary` counts for the conv, 'f' and output layers (pooling, activations
and the loss are not counted) for the forward pass, as many again for the kernel and weight
gradients, and as many again for the input gradients of all but the first such layer (its
input needs none). The machine's matmul peak is measured in the same run (1024 x 1024 products
per dtype and thread count, on numpy's matmul and on the fast engine's products: before the
tables, after each row and at the end); "x floor" is the step's time over FLOPs / peak, at the
best peak seen so far in the rows as they come and at the best of the whole run in the final
tables. ``--forward`` (always in ``--full``) adds a table of predictions: ``cnntest`` over
``--forward-samples`` samples in one call against PyTorch's forward pass of the same samples
under ``torch.no_grad()``.

The machine, BLAS and kernels are printed first: the figures belong to that machine only.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from typing import NamedTuple

import _common  # first: it pins the BLAS threads (threadpoolctl sets them per row)
import numpy as np
from threadpoolctl import threadpool_limits

import dltoolbox as dlt
from dltoolbox.cnnsummary import Summary
from dltoolbox.engines import blas
from dltoolbox.layers import kind_of
from dltoolbox.spec import parse_spec


class NetCase(NamedTuple):
    """A benchmark net: its spec, output function, learning rate and input map size."""

    spec: str
    output: str
    alpha: float
    size: int = 28


NETS = {
    "toolbox": NetCase("i-6c5-2s-12c5-2s", "sigm", 1.0),
    "wide": NetCase("i-20c5-2s-50c5-2s", "sigm", 1.0),
    "rgb": NetCase("i3-16c5r-2m-32c5r-2m", "softmax", 0.01, size=32),
    "lenet5": NetCase("i-6c5tp2-2s-16c5t@lenet5-2s-120c5t-84ft", "softmax", 0.05),
    "modern": NetCase("i-16c3rps-16c3rps-2m-32c3rps-32c3rps-2m-128frd0.5", "softmax", 0.02),
}
CLASSES = 10
FULL = {"batch": [10, 50, 200], "threads": [1, "all"]}
#: Samples of an epoch (``--epochs``): MNIST's training set.
EPOCH = 60000
QUICK = {"batch": [50], "threads": [1]}
COLUMNS = (
    "net", "dtype", "batch", "threads", "dltoolbox s/1000", "PyTorch s/1000", "ratio", "x floor",
)  # fmt: skip


def channels(case: NetCase) -> int:
    """The input channel count of the net's spec."""
    return int(parse_spec(case.spec)[0].get("channels", 1))


def summary(case: NetCase) -> Summary:
    """:func:`dltoolbox.cnnsummary` of the net for one (size, size) input of its channels."""
    net = {"layers": parse_spec(case.spec), "output": case.output}
    return dlt.cnnsummary(net, (case.size, case.size), classes=CLASSES, channels=channels(case))


def product_macs(rows) -> list[int]:
    """Multiply-adds per sample of each layer with parameters (conv, 'f', output), in order;
    ``rows``: :class:`dltoolbox.cnnsummary.LayerSummary` rows."""
    return [r.macs for r in rows if r.params]


def step_flops(rows, batch: int) -> int:
    """FLOPs of the products of one training step of ``batch`` samples: the forward pass, the
    kernel gradients and the input gradients of all product layers but the first, 2 per
    multiply-add."""
    macs = product_macs(rows)
    return 2 * batch * (3 * sum(macs) - macs[0])


def forward_flops(rows, samples: int) -> int:
    """FLOPs of the products of a forward pass over ``samples`` samples."""
    return 2 * samples * sum(product_macs(rows))


def over_floor(seconds: float, flops: int, peak: float) -> float:
    """``seconds`` over the time of ``flops`` at ``peak`` FLOP/s."""
    return seconds * peak / flops


def matmul_peak(dtype, n: int = 1024, repeat: int = 5) -> float:
    """FLOP/s of the best of ``repeat`` (n, n) @ (n, n) products in ``dtype`` at the current
    thread count, on numpy's matmul and (where it is another library) the fast engine's."""
    rng = np.random.default_rng(0)
    a, b = (rng.random((n, n)).astype(dtype) for _ in range(2))
    out = np.empty((n, n), dtype=dtype)
    products = [lambda: np.matmul(a, b, out=out)]
    if blas.backend() != "numpy.matmul":
        products.append(lambda: blas.matmul(a, b, out=out))
    best = float("inf")
    for product in products:
        product()  # warm up: threads, buffers
        for _ in range(repeat):
            start = time.perf_counter()
            product()
            best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def make_data(name: str, samples: int, mnist) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of ``samples`` float64 samples for net ``name``: x (rows, cols, batch) or (rows,
    cols, channels, batch), y (classes, batch). MNIST's first training images (``mnist``:
    (train_x, train_y)), or for ``rgb`` uniform [0, 1) pixels and random one-hot labels from a
    generator seeded 0."""
    case = NETS[name]
    if channels(case) == 1 and case.size == 28:
        return mnist[0][..., :samples], mnist[1][:, :samples]
    rng = np.random.default_rng(0)
    x = rng.random((case.size, case.size, channels(case), samples))
    y = np.zeros((CLASSES, samples))
    y[rng.integers(0, CLASSES, samples), np.arange(samples)] = 1.0
    return x, y


def dltoolbox_net(name: str, x, y) -> dict:
    """Net ``name`` set up for ``x``, ``y`` (their dtype) from OctaveRandom(0)."""
    case = NETS[name]
    net = {"layers": parse_spec(case.spec), "output": case.output}
    return dlt.cnnsetup(net, x, y, dlt.OctaveRandom(0))


def train_opts(name: str, batch: int) -> dict:
    """cnntrain's opts for one epoch of net ``name`` at ``batch`` (momentum 0.9 with softmax)."""
    case = NETS[name]
    opts = {"alpha": case.alpha, "batchsize": batch, "numepochs": 1}
    if case.output == "softmax":
        opts["momentum"] = 0.9
    return opts


def steps_data(name: str, samples: int, mnist, dtype) -> tuple[np.ndarray, np.ndarray, dict]:
    """(x, y, net): :func:`make_data` in ``dtype`` and net ``name`` set up for it."""
    x, y = make_data(name, samples, mnist)
    x, y = x.astype(dtype), y.astype(dtype)
    return x, y, dltoolbox_net(name, x, y)


def dltoolbox_runner(name: str, x, y, batch: int):
    """A function running ``n`` training steps of net ``name`` (cnntrain over the samples of
    ``x``, again as often as needed); returns the seconds."""
    net, rng = dltoolbox_net(name, x, y), dlt.OctaveRandom(0)
    opts = train_opts(name, batch)
    per_call = x.shape[-1] // batch

    def run(n: int) -> float:
        start = time.perf_counter()
        while n > 0:
            k = min(n, per_call)
            dlt.cnntrain(net, x[..., : k * batch], y[:, : k * batch], opts, rng)
            n -= k
        return time.perf_counter() - start

    return run


def _mask(weight, mask) -> None:
    """Zero the unconnected kernels before each forward pass (a forward pre-hook: None)."""
    weight.data.mul_(mask.to(weight.dtype))


def _torch_conv(layer: dict, inmaps: int, torch):
    """PyTorch's Conv2d for a conv layer of dltoolbox, masked by its connection table."""
    g = kind_of(layer).geometry(layer)
    conv = torch.nn.Conv2d(inmaps, layer["outputmaps"], g.ks, stride=g.stride, padding=g.pad)
    table = layer.get("connections")
    if table is not None:
        mask = torch.from_numpy(np.asarray(table).T.copy())[:, :, None, None]
        conv.register_forward_pre_hook(lambda m, _: _mask(m.weight, mask))
    return conv


def _torch_layer(layer: dict, shape_in: tuple, torch) -> list:
    """PyTorch's modules for one dltoolbox layer whose input has ``shape_in`` (a summary
    row's shape, (maps, rows, cols)); an 'f' layer's input is flattened before it."""
    nn, kind = torch.nn, kind_of(layer)
    act = {"sigm": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}
    if layer["type"] == "c":
        return [_torch_conv(layer, shape_in[0], torch), act[kind.get(layer, "activation")]()]
    if layer["type"] == "s":
        pool = nn.MaxPool2d if kind.get(layer, "method") == "max" else nn.AvgPool2d
        return [pool(layer["scale"])]
    mods = [nn.Linear(int(np.prod(shape_in)), layer["outputs"])]
    mods.append(act[kind.get(layer, "activation")]())
    q = kind.get(layer, "dropout")
    return mods + ([nn.Dropout(q)] if q else [])


def torch_net(name: str, torch):
    """Net ``name`` in PyTorch: the same layers as dltoolbox's, from the same spec."""
    nn, case = torch.nn, NETS[name]
    rows, mods = summary(case).rows, []
    for layer, before in zip(parse_spec(case.spec)[1:], rows):
        if layer["type"] == "f" and nn.Flatten not in map(type, mods):
            mods.append(nn.Flatten())
        mods += _torch_layer(layer, before.shape, torch)
    mods += [] if nn.Flatten in map(type, mods) else [nn.Flatten()]
    mods.append(nn.Linear(int(np.prod(rows[-2].shape)), CLASSES))
    mods += [nn.Sigmoid()] if case.output == "sigm" else []
    return nn.Sequential(*mods)


def _torch_data(x, y, torch):
    """x as PyTorch's (batch, channels, rows, cols) tensor, y as (batch, classes)."""
    x4 = x if x.ndim == 4 else x[:, :, None, :]
    tx = torch.from_numpy(np.ascontiguousarray(x4.transpose(3, 2, 0, 1)))
    return tx, torch.from_numpy(np.ascontiguousarray(y.T))


def _import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_runner(name: str, x, y, batch: int):
    """The same net, loss and optimiser in PyTorch (dtype of ``x``); None without torch."""
    torch = _import_torch()
    if torch is None:
        return None
    torch.manual_seed(0)
    case = NETS[name]
    tx, ty = _torch_data(x, y, torch)
    net = torch_net(name, torch).to(tx.dtype)
    momentum = 0.9 if case.output == "softmax" else 0.0
    opt = torch.optim.SGD(net.parameters(), lr=case.alpha, momentum=momentum)
    labels, per_call = ty.argmax(dim=1), tx.shape[0] // batch

    def run(n: int) -> float:
        start = time.perf_counter()
        for b in range(n):
            if b % per_call == 0:
                perm = torch.randperm(per_call * batch)
            idx = perm[(b % per_call) * batch : (b % per_call + 1) * batch]
            opt.zero_grad()
            o = net(tx[idx])
            if case.output == "softmax":
                loss = torch.nn.functional.cross_entropy(o, labels[idx])
            else:
                loss = 0.5 * ((o - ty[idx]) ** 2).sum() / batch
            loss.backward()
            opt.step()
        return time.perf_counter() - start

    return run


def forward_runners(name: str, x, y) -> dict:
    """Functions running ``n`` predictions over all of ``x``: cnntest, and PyTorch's forward
    pass under no_grad (where torch is installed); each returns the seconds."""
    net = dltoolbox_net(name, x, y)

    def ours(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            dlt.cnntest(net, x, y)
        return time.perf_counter() - start

    runners = {"dltoolbox": ours}
    torch = _import_torch()
    if torch is not None:
        torch.manual_seed(0)
        tx, ty = _torch_data(x, y, torch)
        tnet = torch_net(name, torch).to(tx.dtype).eval()
        labels = ty.argmax(dim=1)

        def theirs(n: int) -> float:
            start = time.perf_counter()
            with torch.no_grad():
                for _ in range(n):
                    (tnet(tx).argmax(dim=1) != labels).sum().item()
            return time.perf_counter() - start

        runners["PyTorch"] = theirs
    return runners


def interleaved(runners: dict, rounds: int, n: int, warm: int) -> dict[str, float]:
    """Median seconds of ``run(n)`` of each runner over ``rounds`` rounds, taking turns (every
    other round in reverse order), after ``run(warm)`` each."""
    for run in runners.values():
        run(warm)  # first-call costs, buffers, first-touch memory
    times: dict[str, list[float]] = {who: [] for who in runners}
    for r in range(rounds):
        for who, run in list(runners.items())[:: -1 if r % 2 else 1]:
            times[who].append(run(n))
    return {who: statistics.median(t) for who, t in times.items()}


def set_torch_threads(threads: int) -> None:
    """PyTorch's intra-op threads, where torch is installed."""
    torch = _import_torch()
    if torch is not None:
        torch.set_num_threads(threads)


def update_peak(peaks: dict, dtype, threads: int, repeat: int = 3) -> None:
    """Measure the matmul peak at the current thread count (``threads``: its key) and keep
    the best seen in ``peaks``, FLOP/s by (dtype name, threads)."""
    key = (np.dtype(dtype).name, threads)
    peaks[key] = max(peaks.get(key, 0.0), matmul_peak(dtype, repeat=repeat))


def timed(runners: dict, threads: int, rounds: int, n: int, warm: int, peak: tuple) -> dict:
    """:func:`interleaved` at ``threads`` threads on both sides, then the matmul peak of
    ``peak`` = (peaks, dtype) measured again at that thread count (:func:`update_peak`)."""
    with threadpool_limits(threads):
        set_torch_threads(threads)
        got = interleaved(runners, rounds, n, warm)
        update_peak(*peak, threads)
    return got


def train_row(name: str, data, dtype, batch: int, threads: int, args, peaks: dict) -> dict:
    """One row of the training table (see :func:`_row`); measures the peak again after it."""
    pool = (args.samples // batch) * batch
    steps = pool // batch if args.epochs else args.batches
    x, y = (a[..., :pool].astype(dtype) for a in data)
    runners = {"dltoolbox": dltoolbox_runner(name, x, y, batch)}
    theirs = torch_runner(name, x, y, batch)
    if theirs is not None:
        runners["PyTorch"] = theirs
    got = timed(runners, threads, args.rounds, steps, 2, (peaks, dtype))
    per_1000 = {who: s / (steps * batch) * 1000 for who, s in got.items()}
    flops = step_flops(summary(NETS[name]).rows, batch)
    return _row(name, dtype, batch, threads, per_1000, got["dltoolbox"] / steps, flops)


def forward_row(name: str, data, dtype, threads: int, args, peaks: dict) -> dict:
    """One row of the prediction table (``batch``: the samples of one call)."""
    samples = args.forward_samples
    x, y = (a[..., :samples].astype(dtype) for a in data)
    runners = forward_runners(name, x, y)
    got = timed(runners, threads, args.rounds, args.forward_calls, 1, (peaks, dtype))
    per_1000 = {who: s / (args.forward_calls * samples) * 1000 for who, s in got.items()}
    flops = forward_flops(summary(NETS[name]).rows, samples)
    call = got["dltoolbox"] / args.forward_calls
    return _row(name, dtype, samples, threads, per_1000, call, flops)


def _row(name, dtype, batch, threads, per_1000: dict, seconds: float, flops: int) -> dict:
    """A table row: s / 1000 samples of each side, their ratio, and dltoolbox's ``seconds``
    per step (or prediction) with its ``flops``, for the x floor."""
    ours, theirs = per_1000["dltoolbox"], per_1000.get("PyTorch")
    return {
        "net": name, "dtype": np.dtype(dtype).name, "batch": batch, "threads": threads,
        "ours": ours, "theirs": theirs, "ratio": ours / theirs if theirs else None,
        "seconds": seconds, "flops": flops,
    }  # fmt: skip


def row_floor(row: dict, peaks: dict) -> float:
    """The row's x floor at the best peak in ``peaks`` for its dtype and threads."""
    return over_floor(row["seconds"], row["flops"], peaks[row["dtype"], row["threads"]])


def _num(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def plain_line(row: dict | None, peaks: dict) -> str:
    """A fixed-width line of the table for a row, or its header for None."""
    if row is None:
        return (
            f"{'net':<8} {'dtype':<8} {'batch':>5} {'threads':>7}  {'dltoolbox':>10} "
            f"{'PyTorch':>10} {'ratio':>6} {'x floor':>8}"
        )
    return (
        f"{row['net']:<8} {row['dtype']:<8} {row['batch']:>5} {row['threads']:>7}  "
        f"{row['ours']:10.3f} {_num(row['theirs'], '10.3f'):>10} {_num(row['ratio'], '.2f'):>6} "
        f"{row_floor(row, peaks):8.1f}"
    )


def markdown(rows: list[dict], peaks: dict) -> str:
    """The rows as a Markdown table (the columns of docs/performance.md)."""
    lines = ["| " + " | ".join(COLUMNS) + " |"]
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        numbers = (r["ours"], ".3f"), (r["theirs"], ".3f"), (r["ratio"], ".2f")
        numbers += ((row_floor(r, peaks), ".1f"),)
        cells = (r["net"], r["dtype"], r["batch"], r["threads"], *(_num(*n) for n in numbers))
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def thread_count(text: str) -> int:
    """A ``--threads`` value: a positive integer, or ``all`` for os.cpu_count()."""
    if text == "all":
        return os.cpu_count() or 1
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'all', got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--full", action="store_true", help="every net and dtype, batches 10 50 200, threads "
        "1 and all, and --forward (the table of issue 15)")  # fmt: skip
    add("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    add("--dtypes", nargs="+", default=["float64", "float32"], choices=["float64", "float32"])
    add("--batch", nargs="+", type=int, help="batch sizes (50; --full: 10 50 200)")
    add("--threads", nargs="+", type=thread_count, help="threads, or 'all' (1; --full: 1 all)")
    add("--batches", type=int, default=100, help="training steps per round (100)")
    add("--rounds", type=int, default=3, help="interleaved rounds (3)")
    add("--samples", type=int, default=6000, help="samples the steps draw from (6000)")
    add(
        "--epochs",
        action="store_true",
        help=f"whole epochs: the steps of each round draw "
        f"every one of {EPOCH} samples once (sets --samples, and --batches per batch size)",
    )
    add("--forward", action="store_true", help="also the table of predictions")
    add("--forward-samples", type=int, default=2000, help="samples per prediction (2000)")
    add("--forward-calls", type=int, default=5, help="predictions per round (5)")
    add("--markdown", action="store_true", help="print the final tables in Markdown")
    add("--data", help="MNIST (default: ../shared/data, else the usual search)")
    return parser


def parse_args(argv=None) -> argparse.Namespace:
    """The options, with the defaults of ``--full`` or of the quick table filled in."""
    args = _parser().parse_args(argv)
    defaults = FULL if args.full else QUICK
    args.batch = args.batch or defaults["batch"]
    args.threads = args.threads or [thread_count(str(t)) for t in defaults["threads"]]
    args.forward = args.forward or args.full
    if args.epochs:
        args.samples = EPOCH
    if min(args.batch) < 1 or args.samples < max(args.batch):
        _parser().error(f"--samples ({args.samples}) must be at least the largest --batch")
    return args


def measure_peaks(dtypes, threads, peaks: dict, repeat: int = 5) -> None:
    """Update ``peaks`` (see :func:`update_peak`) for every dtype name and thread count."""
    for t in threads:
        with threadpool_limits(t):
            for name in dtypes:
                update_peak(peaks, np.dtype(name).type, t, repeat)


def peaks_line(peaks: dict) -> str:
    """The peaks, GFLOP/s, in words."""
    shown = ", ".join(f"{d} {t} thr {p / 1e9:.1f}" for (d, t), p in peaks.items())
    return f"matmul peak, best so far (1024 x 1024 products; GFLOP/s): {shown}"


def _table(title: str, rows_of, peaks: dict) -> list[dict]:
    """Print ``title``, the header and each row as it comes from the iterable ``rows_of``."""
    print(f"\n{title}\n{plain_line(None, peaks)}", flush=True)
    rows = []
    for row in rows_of:
        print(plain_line(row, peaks), flush=True)
        rows.append(row)
    return rows


def _final(titles, tables: list[list[dict]], peaks: dict, as_markdown: bool) -> None:
    """The tables again, their x floor at the best peak measured over the whole run."""
    print(f"\n{peaks_line(peaks)}; the x floor below is at these")
    for title, rows in zip(titles, tables):
        if as_markdown:
            print(f"\n{title}:\n\n{markdown(rows, peaks)}")
        else:
            print(f"\n{title}\n" + "\n".join(plain_line(r, peaks) for r in (None, *rows)))


def _sections(args, data: dict, peaks: dict) -> list[tuple[str, object]]:
    """(title, iterable of rows measured as it is read) of each table asked for."""
    dtypes = [np.dtype(d).type for d in args.dtypes]
    train = itertools.product(args.nets, dtypes, args.batch, args.threads)
    sections = [(
        f"Training: s / 1000 samples, medians of {args.rounds} rounds of "
        + (f"one epoch ({EPOCH} samples)" if args.epochs else f"{args.batches} steps"),
        (train_row(n, data[n], d, b, t, args, peaks) for n, d, b, t in train),
    )]  # fmt: skip
    if args.forward:
        forward = itertools.product(args.nets, dtypes, args.threads)
        sections.append((
            f"Predictions: cnntest over {args.forward_samples} samples (the batch column), "
            f"medians of {args.rounds} rounds of {args.forward_calls} calls",
            (forward_row(n, data[n], d, t, args, peaks) for n, d, t in forward),
        ))  # fmt: skip
    return sections


def main(argv=None) -> int:
    args = parse_args(argv)
    # machine() loads the fast engine's products (blas.backend()) before any thread limit
    print(f"machine: {_common.machine(threads='threads as in each row')}", flush=True)
    peaks: dict = {}
    measure_peaks(args.dtypes, args.threads, peaks)
    print(peaks_line(peaks), flush=True)
    mnist = _common.load_mnist(args.data)[:2]
    data = {n: make_data(n, max(args.samples, args.forward_samples), mnist) for n in args.nets}
    sections = _sections(args, data, peaks)
    tables = [_table(title, rows, peaks) for title, rows in sections]
    measure_peaks(args.dtypes, args.threads, peaks)
    _final([title for title, _ in sections], tables, peaks, args.markdown)
    print(f"\nmachine after: {_common.machine(threads='threads as in each row')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
