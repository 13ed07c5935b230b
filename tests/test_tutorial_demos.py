"""demos/lenet5.py and demos/modern_cnn.py learn: short runs on an MNIST subset (the full runs'
figures are in the README)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from conftest import ROOT, SHARED, need


@pytest.fixture
def demos(monkeypatch, tmp_path):
    data = str(need(SHARED / "data" / "mnist_uint8.mat"))
    monkeypatch.delenv("DLTOOLBOX_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.syspath_prepend(str(ROOT / "demos"))
    return data


def test_lenet5_learns(demos, capsys):
    lenet5 = importlib.import_module("lenet5")
    errors, seconds = lenet5.lenet5(2, demos, (3000, 1000), progress=False)  # 0.137, 0.105
    out = capsys.readouterr().out
    assert "60/96 links" in out and "1,516" in out and "60,806" in out  # the paper's C3
    assert len(errors) == len(seconds) == 2
    assert errors[1] < errors[0] < 0.5 and errors[1] < 0.15


def test_the_paper_input_is_32x32_with_its_levels(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "demos"))
    lenet5 = importlib.import_module("lenet5")
    x = np.zeros((28, 28, 2), dtype=np.float32)
    x[10, 10, 1] = 1.0
    got = lenet5.paper_input(x)
    assert got.shape == (32, 32, 2) and got.dtype == np.float32
    assert np.allclose(got[0, 0], -0.1) and np.isclose(got[12, 12, 1], 1.175)


def test_modern_cnn_learns(demos, capsys):
    modern = importlib.import_module("modern_cnn")
    errors, seconds = modern.modern_cnn(2, demos, (3000, 1000), progress=False)
    assert "drop 0.5" in capsys.readouterr().out
    # measured: 0.325, then 0.132
    assert len(errors) == len(seconds) == 2 and errors[1] < errors[0] < 0.6 and errors[1] < 0.25
