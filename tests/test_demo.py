"""The main job: the toolbox's test_example_CNN gives Octave's test error 0.1127.

``dltoolbox demo`` runs the full example (one epoch on all 60000 images, about 10 s with the
default engine); demos/test_example_CNN.py runs on a subset and must train the same net."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SHARED, need

from dltoolbox import plots
from dltoolbox.cli import main
from dltoolbox.netio import compare_nets, load_net

FIGURES = ("rL.png", "kernels.png", "feature_maps.png")


@pytest.fixture
def data(monkeypatch, tmp_path) -> str:
    monkeypatch.delenv("DLTOOLBOX_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return str(need(SHARED / "data" / "mnist_uint8.mat"))


def test_demo_gives_octaves_test_error(data, tmp_path, capsys):
    assert main(["demo", "--data", data, "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "test error: 0.1127\n" in out
    assert "(1127 of 10000 test images misclassified)" in out
    net = load_net(tmp_path / "cnn.mat")
    assert net["rL"].shape == (1201,)
    for name in FIGURES:
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")


def test_demo_script_trains_the_same_net_as_the_command(data, tmp_path, capsys):
    script = ROOT / "demos" / "test_example_CNN.py"
    argv = ["--data", data, "--subset", "1000,200"]
    done = subprocess.run(
        [sys.executable, str(script), *argv, "--out", str(tmp_path / "script")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "test error: 0." in done.stdout
    assert "20/20" in done.stderr  # the progress bar over the 1000 / 50 batches
    assert main(["demo", *argv, "--out", str(tmp_path / "cli"), "--no-progress"]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if "test error" in line]
    assert printed[0] in done.stdout.splitlines()
    rows = compare_nets(tmp_path / "script" / "cnn.mat", tmp_path / "cli" / "cnn.mat")
    assert rows and all(row["max_abs"] == 0 for row in rows)
    for name in FIGURES:
        assert Path(tmp_path / "script" / name).stat().st_size > 0


def test_figures_need_matplotlib_and_fail_before_training(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "dltoolbox\[demo\]"'):
        plots.plot_loss([1.0, 0.5], tmp_path / "rL.png")
    assert main(["demo", "--data", str(tmp_path / "absent"), "--out", str(tmp_path / "o")]) == 2
    assert "needs matplotlib" in capsys.readouterr().err  # not the missing data: nothing ran
    assert not (tmp_path / "o").exists()


def test_figure_arguments(tmp_path):
    with pytest.raises(ValueError, match="rL: expected at least one loss value"):
        plots.plot_loss([], tmp_path / "rL.png")
    net = {"layers": [{"type": "i"}, {"type": "s", "scale": 2}]}
    with pytest.raises(ValueError, match="net: expected a set-up net with a convolution layer"):
        plots.plot_kernels(net, tmp_path / "k.png")
    with pytest.raises(ValueError, match=r"x: expected one sample of shape \(rows, cols\)"):
        plots.plot_feature_maps(net, np.zeros((4, 4, 2)), tmp_path / "f.png")
    assert not list(tmp_path.iterdir())
