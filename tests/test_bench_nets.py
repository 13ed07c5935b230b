"""The pure parts of benchmarks/bench_nets.py: FLOP counts, the x floor, the PyTorch nets built
from the specs, the synthetic data, the options and the Markdown table."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Multiply-adds per sample of the toolbox net's products, from its layer shapes by hand.
CONV1 = 6 * 24 * 24 * (5 * 5 * 1)  # 6 maps of 24 x 24, each unit 5 x 5 over 1 input map
CONV2 = 12 * 8 * 8 * (5 * 5 * 6)  # 12 maps of 8 x 8, each unit 5 x 5 over 6 maps
OUT = 10 * 12 * 4 * 4  # 10 outputs over 12 maps of 4 x 4


@pytest.fixture(scope="module")
def bench():
    """The benchmark module; the BLAS thread variables its import sets are restored after."""
    with pytest.MonkeyPatch.context() as mp:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            mp.setenv(var, os.environ.get(var, "1"))
        mp.syspath_prepend(str(ROOT / "benchmarks"))
        yield importlib.import_module("bench_nets")


def rows(bench, name):
    return bench.summary(bench.NETS[name]).rows


def test_toolbox_step_flops_by_hand(bench) -> None:
    forward = 2 * (CONV1 + CONV2 + OUT)
    kernel_grads = 2 * (CONV1 + CONV2 + OUT)
    input_grads = 2 * (CONV2 + OUT)  # conv1's input is the image: no gradient needed
    per_sample = forward + kernel_grads + input_grads
    assert bench.step_flops(rows(bench, "toolbox"), 50) == 50 * per_sample
    assert bench.step_flops(rows(bench, "toolbox"), 50) == 52_416_000  # issue 15's "52 M"
    assert bench.forward_flops(rows(bench, "toolbox"), 2000) == 2000 * forward


def test_flops_count_the_connection_table_and_skip_pooling(bench) -> None:
    macs = bench.product_macs(rows(bench, "lenet5"))
    # C1 (padded: 28 x 28 out), C3 (60 of 96 links), C5 (1 x 1 maps), F6, output
    assert macs == [6 * 28 * 28 * 25, 60 * 25 * 10 * 10, 120 * 16 * 25, 84 * 120, 10 * 84]


def test_rgb_first_layer_counts_its_channels(bench) -> None:
    macs = bench.product_macs(rows(bench, "rgb"))
    assert macs == [16 * 28 * 28 * 5 * 5 * 3, 32 * 10 * 10 * 5 * 5 * 16, 10 * 32 * 5 * 5]


def test_over_floor(bench) -> None:
    assert bench.over_floor(2.0, 10**9, 1e9) == pytest.approx(2.0)
    assert bench.over_floor(1e-3, 52_416_000, 52.416e9) == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["toolbox", "wide", "rgb", "lenet5", "modern"])
def test_torch_net_has_the_same_parameters(bench, name) -> None:
    torch = pytest.importorskip("torch")
    case = bench.NETS[name]
    net = bench.torch_net(name, torch)
    count = sum(p.numel() for p in net.parameters())
    unconnected = (6 * 16 - 60) * 25 if name == "lenet5" else 0  # C3: masked, not absent
    assert count == bench.summary(case).total_params + unconnected
    x = torch.zeros(2, bench.channels(case), case.size, case.size)
    assert net(x).shape == (2, 10)


def test_rgb_data_is_seeded_and_one_hot(bench) -> None:
    x, y = bench.make_data("rgb", 30, None)
    assert x.shape == (32, 32, 3, 30) and y.shape == (10, 30)
    assert 0 <= x.min() and x.max() < 1
    assert np.array_equal(y.sum(axis=0), np.ones(30)) and set(np.unique(y)) == {0.0, 1.0}
    x2, y2 = bench.make_data("rgb", 30, None)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)


def test_mnist_nets_take_the_given_images(bench) -> None:
    mnist = (np.arange(28 * 28 * 5.0).reshape(28, 28, 5), np.eye(10)[:, :5])
    x, y = bench.make_data("wide", 3, mnist)
    assert np.array_equal(x, mnist[0][..., :3]) and np.array_equal(y, mnist[1][:, :3])


def test_options_quick_and_full(bench) -> None:
    quick = bench.parse_args([])
    assert (quick.batch, quick.threads, quick.forward) == ([50], [1], False)
    full = bench.parse_args(["--full"])
    assert (full.batch, full.threads, full.forward) == ([10, 50, 200], [1, os.cpu_count()], True)
    assert bench.parse_args(["--threads", "1", "all"]).threads == [1, os.cpu_count()]
    with pytest.raises(SystemExit):
        bench.parse_args(["--threads", "0"])
    epochs = bench.parse_args(["--epochs", "--samples", "100"])
    assert (epochs.samples, quick.samples) == (60000, 6000)


def test_markdown_table(bench) -> None:
    per_1000 = {"dltoolbox": 0.5, "PyTorch": 1.0}
    row = bench._row("toolbox", np.float32, 50, 2, per_1000, 2e-3, 10**6)
    lone = bench._row("wide", np.float64, 10, 1, {"dltoolbox": 0.25}, 1e-3, 10**6)
    text = bench.markdown([row, lone], {("float32", 2): 1e9, ("float64", 1): 1e9})
    lines = text.splitlines()
    assert lines[0] == (
        "| net | dtype | batch | threads | dltoolbox s/1000 | PyTorch s/1000 | ratio | x floor |"
    )
    assert lines[2] == "| toolbox | float32 | 50 | 2 | 0.500 | 1.000 | 0.50 | 2.0 |"
    assert lines[3] == "| wide | float64 | 10 | 1 | 0.250 | - | - | 1.0 |"


def test_bench_products_counts_every_product_of_a_step(bench) -> None:
    """benchmarks/bench_products.py: each product of the rgb net's step (synthetic data, no
    MNIST needed) is counted once per step with its shapes, and blas.matmul is put back."""
    from dltoolbox.engines import blas, fast

    products = importlib.import_module("bench_products")
    stats, step = products.product_times("rgb", None, np.dtype(np.float64), 4, 3)
    calls = {key[:2]: entry[0] for key, entry in stats.items()}
    # conv1 3 -> 16 maps 5x5 on 32x32 (row blocks of 2: 3 * 6 * 5 + 1 = 91 patch rows, 14 * 28
    # columns per sample) and its kernel gradient, conv2 16 -> 32 on 14x14 (16 * 6 * 5 + 1 = 481
    # rows, 5 * 10 columns per sample) and its kernel gradient; its input delta is one more
    # product where add_shifted_products does not run it (numpy's BLAS without cblas)
    assert calls[((32, 91), (91, 14 * 28 * 4))] == 3
    assert calls[((91, 14 * 28 * 4), (14 * 28 * 4, 32))] == 3
    assert calls[((64, 481), (481, 5 * 10 * 4))] == 3
    assert calls[((481, 5 * 10 * 4), (5 * 10 * 4, 64))] == 3
    assert len(calls) in (4, 5) and set(calls.values()) == {3} and step > 0
    assert all(seconds > 0 for _, seconds in stats.values())
    assert fast.matmul is blas.matmul and products.fc.matmul is blas.matmul


def test_bench_commits_times_each_commit_in_its_own_tree(bench, capsys) -> None:
    """benchmarks/bench_commits.py: both commits' packages are extracted and timed (each process
    asserts it imported its own tree); one line per net, dtype and batch with a ratio."""
    if not (ROOT / ".git").exists():
        pytest.skip("benchmarks/bench_commits.py reads commits: this checkout has no .git")
    commits = importlib.import_module("bench_commits")
    args = ["HEAD", "HEAD~0", "--nets", "rgb", "--dtypes", "float64", "--batch", "2"]
    assert commits.main([*args, "--batches", "2", "--repeats", "1", "--rounds", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = lines[-1].split()
    assert row[:3] == ["rgb", "float64", "2"] and float(row[3]) > 0 and float(row[4]) > 0
    assert float(row[5]) == pytest.approx(float(row[4]) / float(row[3]), abs=1e-3)
