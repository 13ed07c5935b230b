"""The dltoolbox command line (demo/train/test/compare, --help, exit codes) and parse_spec.

Training runs use ../shared/data with --subset, so they take about a second each."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import SHARED, need
from refcases import load_case

import dltoolbox as dlt
from dltoolbox.cli import main
from dltoolbox.datasets import load_mnist
from dltoolbox.netio import load_net, save_net, spec_of
from dltoolbox.spec import parse_spec

pytestmark = pytest.mark.usefixtures("isolated_data")


@pytest.fixture(scope="module")
def data() -> str:
    return str(need(SHARED / "data" / "mnist"))


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """A small net trained by ``dltoolbox train``: (output folder, stdout)."""
    out = tmp_path_factory.mktemp("train")
    argv = ["train", "i-4c5-2s-6c5-2s", "--data", data, "--subset", "200,100", "--alpha", "0.5"]
    argv += ["--batchsize", "20", "--epochs", "2", "--seed", "3", "--out", str(out)]
    return out, argv


# --- parse_spec ----------------------------------------------------------------------------


def test_parse_spec():
    want = [
        {"type": "i"},
        {"type": "c", "outputmaps": 6, "kernelsize": 5},
        {"type": "s", "scale": 2},
        {"type": "c", "outputmaps": 12, "kernelsize": 5},
        {"type": "s", "scale": 2},
    ]
    assert parse_spec("6c5-2s-12c5-2s") == want
    assert parse_spec(" i-6c5-2s-12c5-2s\n") == want
    assert parse_spec("3s") == [{"type": "i"}, {"type": "s", "scale": 3}]


@pytest.mark.parametrize(
    "spec, match",
    [
        ("", "at least one layer"),
        ("i", "at least one layer"),
        ("6c5-2x", "layer 2 of '6c5-2x' is '2x'"),
        ("6c5--2s", "layer 2 .* is ''"),
        ("0c5-2s", "layer 1 .* is '0c5'"),
        ("6c0", "is '6c0'"),
        ("6c5-i-2s", "is 'i'"),
        ("c5", "expected <maps>c<kernelsize>"),
    ],
)
def test_parse_spec_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_spec(spec)
    with pytest.raises(TypeError, match="spec: expected a string"):
        parse_spec(["6c5"])


# --- help and usage ------------------------------------------------------------------------


def test_help(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in ("demo", "train", "test", "compare"):
        assert command in text
    for command, words in {
        "demo": "0.1127",
        "train": "--batchsize",
        "test": "FILE.mat:VARIABLE",
        "compare": "--tol",
    }.items():
        assert main([command, "--help"]) == 0
        assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, match",
    [
        ([], "required: COMMAND"),
        (["fly"], "invalid choice: 'fly'"),
        (["train", "--epochs", "-1"], "expected a non-negative integer"),
        (["train", "--alpha", "0"], "expected a positive finite number, got '0'"),
        (["train", "--subset", "1,2,3"], "expected N or NTRAIN,NTEST"),
        (["compare", "a.mat"], "required: B"),
    ],
)
def test_usage_errors_exit_2(argv, match, capsys):
    assert main(argv) == 2
    assert match in capsys.readouterr().err


def test_python_m_dltoolbox():
    done = subprocess.run(
        [sys.executable, "-m", "dltoolbox", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("dltoolbox ")


# --- train / test --------------------------------------------------------------------------


def test_train_writes_net_and_figures(trained, data, capsys):
    out, argv = trained
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "i-4c5-2s-6c5-2s: 200 training, 100 test images; alpha 0.5, batch 20, 2 epochs" in text
    for name in ("cnn.mat", "rL.png", "kernels.png", "feature_maps.png"):
        assert (out / name).stat().st_size > 0
    net = load_net(out / "cnn.mat")
    assert spec_of(net) == "i-4c5-2s-6c5-2s"
    assert net["rL"].shape == (1 + 2 * 10,)
    # the same run in Python gives the same net and the printed test error
    train_x, train_y, test_x, test_y = load_mnist(data, subset=(200, 100))
    rng = dlt.OctaveRandom(3)
    ref = dlt.cnnsetup({"layers": parse_spec("4c5-2s-6c5-2s")}, train_x, train_y, rng)
    ref = dlt.cnntrain(ref, train_x, train_y, {"alpha": 0.5, "batchsize": 20, "numepochs": 2}, rng)
    assert np.array_equal(net["ffW"], ref["ffW"]) and np.array_equal(net["rL"], ref["rL"])
    er, _ = dlt.cnntest(ref, test_x, test_y)
    assert f"test error: {er:.4f}\n" in text

    assert main(["test", str(out / "cnn.mat"), "--data", data, "--subset", "100"]) == 0
    assert f"test error: {er:.4f}\n" in capsys.readouterr().out


def test_train_float32(data, tmp_path, capsys):
    argv = ["train", "2c5-2s", "--data", data, "--subset", "100,20", "--dtype", "float32"]
    assert main(argv + ["--out", str(tmp_path), "--no-plots", "--no-progress"]) == 0
    assert "test error: " in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix) == ["cnn.mat"]


@pytest.mark.parametrize(
    "extra, match",
    [
        (["6c5-2q"], "spec: layer 2 of '6c5-2q' is '2q'"),
        (["2c5-2s", "--batchsize", "30"], "expected a divisor of the sample count 100"),
        (["2c5-2s", "--data", "/nonexistent/mnist"], "does not exist"),
    ],
)
def test_train_bad_input_exits_2(extra, match, data, tmp_path, capsys):
    argv = ["train", *extra, "--subset", "100,20", "--out", str(tmp_path), "--no-plots"]
    if "--data" not in extra:
        argv += ["--data", data]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("dltoolbox train: error: ") and match in err


def test_test_missing_net_exits_2(tmp_path, capsys):
    assert main(["test", str(tmp_path / "none.mat")]) == 2
    assert "none.mat" in capsys.readouterr().err


# --- compare -------------------------------------------------------------------------------


def setup_net(x, y, spec="6c5-2s-12c5-2s") -> dict:
    return dlt.cnnsetup({"layers": parse_spec(spec)}, x, y, dlt.OctaveRandom(0))


def test_compare_with_an_octave_struct(reference_dir, tmp_path, capsys):
    """Our cnnsetup beside Octave's net_setup (FILE.mat:VARIABLE): the same weights."""
    ref = need(reference_dir / "b_mnist50_6c12c.mat")
    case = load_case(ref)
    ours = save_net(tmp_path / "ours.mat", setup_net(case["x"], case["y"]))
    assert main(["compare", str(ours), f"{ref}:net_setup"]) == 0
    text = capsys.readouterr().out
    assert "field" in text and "max abs" in text and "max rel" in text
    assert "ffW" in text and "layers[3].k" in text and "6x12 of (5, 5)" in text
    assert "ABOVE" not in text


def test_compare_exit_status_follows_tol(tmp_path, capsys):
    x, y = np.random.default_rng(0).random((28, 28, 4)), np.eye(10)[:, :4]
    a = setup_net(x, y)
    b = setup_net(x, y)
    b["ffW"] = b["ffW"] + 1e-6
    pa, pb = save_net(tmp_path / "a.npz", a), save_net(tmp_path / "b.mat", b)
    assert main(["compare", str(pa), str(pb)]) == 1
    text = capsys.readouterr().out
    ffw = next(line for line in text.splitlines() if line.startswith("ffW "))
    assert "1.000e-06" in ffw and "ABOVE" in ffw
    assert "above tolerance 1e-12" in text
    assert main(["compare", str(pa), str(pb), "--tol", "1e-5"]) == 0
    assert "every compared field within max rel 1e-05" in capsys.readouterr().out
    other = save_net(tmp_path / "c.mat", setup_net(x, y, "2c5-2s"))
    assert main(["compare", str(pa), str(other), "--tol", "1"]) == 1
    assert "layers differ" in capsys.readouterr().out
    assert main(["compare", str(pa), str(tmp_path / "missing.mat")]) == 2


def test_train_net_without_convolution(data, tmp_path, capsys):
    argv = ["train", "i-2s", "--data", data, "--subset", "100,20", "--out", str(tmp_path)]
    assert main(argv + ["--no-progress"]) == 0
    assert "test error: " in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cnn.mat", "feature_maps.png", "rL.png"]
