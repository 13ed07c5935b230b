"""MatlabRandom against MATLAB's own published output, and its rules (fill order, randperm, state).

The only hard-coded numbers are MATLAB's, as MATLAB prints them (15 significant digits).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from conftest import SHARED, need
from test_netio import assert_same

import dltoolbox as dlt
from dltoolbox.checkpoint import load_checkpoint
from dltoolbox.cli import main
from dltoolbox.datasets import load_mnist
from dltoolbox.matlab_random import RNG_CHOICES, make_rng
from dltoolbox.spec import parse_spec

# MATLAB: rand('state', 0); rand(1, 10)   (format long g)
RAND_STATE_0 = [0.950129285147175, 0.231138513574288, 0.606842583541787, 0.485982468709300,
                0.891298966148902, 0.762096833027395, 0.456467665168341, 0.0185036432482244,
                0.821407164295253, 0.444703364353194]  # fmt: skip
# MATLAB: rng(s); rand   and   rng(s); randperm(10)
RNG_RAND = {0: 0.814723686393179, 1: 0.417022004702574}
RNG_RANDPERM = {0: [6, 3, 7, 8, 5, 1, 2, 4, 9, 10], 1: [3, 6, 5, 7, 4, 8, 9, 1, 10, 2]}


def same_15_digits(got: float, printed: float) -> bool:
    """``got`` prints as MATLAB printed it: its 15 significant digits are the printed ones."""
    return float(f"{got:.15g}") == printed and math.isclose(got, printed, rel_tol=1e-15)


def test_rand_state_0_is_matlabs_published_stream():
    got = dlt.MatlabRandom(0).rand(1, 10)
    assert got.shape == (1, 10)
    bad = [(g, w) for g, w in zip(got[0], RAND_STATE_0) if not same_15_digits(g, w)]
    assert not bad, f"(ours, MATLAB's) differing: {bad}"


@pytest.mark.parametrize("seed", [0, 1])
def test_twister_is_matlabs_rng(seed):
    assert same_15_digits(dlt.MatlabRandom(seed, "twister").rand(), RNG_RAND[seed])
    perm = dlt.MatlabRandom(seed, generator="twister").randperm(10)
    assert perm.dtype == np.int64 and (perm + 1).tolist() == RNG_RANDPERM[seed]


@pytest.mark.parametrize("generator", ["v5uniform", "twister"])
def test_rand_fills_column_major_from_one_stream(generator):
    whole = dlt.MatlabRandom(7, generator).rand(1, 2 * 3 * 4 + 9 + 1)[0]
    rng = dlt.MatlabRandom(7, generator)
    np.testing.assert_array_equal(rng.rand(2, 3, 4), whole[:24].reshape(2, 3, 4, order="F"))
    np.testing.assert_array_equal(rng.rand(3), whole[24:33].reshape(3, 3, order="F"))
    assert rng.rand() == whole[33]
    assert rng.rand(0).shape == (0, 0) and rng.rand(2, 0).shape == (2, 0)


@pytest.mark.parametrize("generator", ["v5uniform", "twister"])
def test_randperm_is_the_stable_sort_of_rand(generator):
    draws = dlt.MatlabRandom(3, generator).rand(1, 500)[0]
    perm = dlt.MatlabRandom(3, generator).randperm(500)
    assert sorted(perm.tolist()) == list(range(500))
    assert np.all(np.diff(draws[perm]) >= 0)
    np.testing.assert_array_equal(perm, np.argsort(draws, kind="stable"))
    assert dlt.MatlabRandom(3, generator).randperm(0).shape == (0,)


def test_v5uniform_seeds():
    # randtx: rand('state', 0) is the register start 2**31
    a, b = dlt.MatlabRandom(0).rand(1, 50), dlt.MatlabRandom(2**31).rand(1, 50)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(dlt.MatlabRandom(1).rand(1, 50), a)
    assert dlt.MatlabRandom(0.0).rand() == dlt.MatlabRandom(np.uint32(0)).rand() == a[0, 0]


@pytest.mark.parametrize("seed", [0, 12345, 2**32 - 1])
def test_v5uniform_draws_look_uniform(seed):
    u = dlt.MatlabRandom(seed).rand(1, 20000)
    assert 0 < u.min() and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.003
    assert len(np.unique(u)) == u.size


@pytest.mark.parametrize("generator", ["v5uniform", "twister"])
def test_state_round_trip(generator):
    rng = dlt.MatlabRandom(5, generator)
    rng.rand(3, 7)
    state = rng.get_state()
    ahead = rng.rand(1, 40)
    other = dlt.MatlabRandom(99, generator)
    other.set_state(state)
    np.testing.assert_array_equal(other.rand(1, 40), ahead)


def test_state_of_another_generator_is_refused():
    v5, mt = dlt.MatlabRandom(1), dlt.MatlabRandom(1, "twister")
    with pytest.raises(ValueError, match="state: expected a MT19937 state"):
        mt.set_state(v5.get_state())
    with pytest.raises(ValueError, match="state: expected a v5uniform state"):
        v5.set_state(mt.get_state())
    kind, words, i, borrow, j = v5.get_state()
    with pytest.raises(ValueError, match="not a v5uniform state"):
        v5.set_state((kind, words[:31], i, borrow, j))
    with pytest.raises(ValueError, match="not a v5uniform state"):
        v5.set_state((kind, words, 32, borrow, j))


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, float("nan")])
def test_bad_seeds(seed):
    with pytest.raises(ValueError, match=r"seed: expected an integer in \[0, 2\*\*32 - 1\], got"):
        dlt.MatlabRandom(seed)


@pytest.mark.parametrize("seed", [True, "0", None, [0]])
def test_seeds_of_other_types(seed):
    with pytest.raises(TypeError, match="seed: expected an integer"):
        dlt.MatlabRandom(seed)


def test_bad_arguments():
    with pytest.raises(ValueError, match="generator: expected one of 'v5uniform', 'twister', got"):
        dlt.MatlabRandom(0, "state")
    rng = dlt.MatlabRandom(0)
    with pytest.raises(ValueError, match="dims: expected non-negative integers"):
        rng.rand(2, -1)
    with pytest.raises(ValueError, match="dims: expected non-negative integers"):
        rng.rand(2.0)
    with pytest.raises(ValueError, match="n: expected a non-negative integer, got -1"):
        rng.randperm(-1)
    with pytest.raises(ValueError, match="rng: expected one of octave, matlab, matlab-twister"):
        make_rng("numpy", 0)


def test_make_rng():
    kinds = {name: make_rng(name, 4) for name in RNG_CHOICES}
    assert isinstance(kinds["octave"], dlt.OctaveRandom)
    assert kinds["matlab"].generator == "v5uniform" and kinds["matlab"].name == "matlab"
    assert kinds["matlab-twister"].generator == "twister"
    np.testing.assert_array_equal(kinds["matlab"].rand(4), dlt.MatlabRandom(4).rand(4))


def test_cnnsetup_draws_matlabs_kernels():
    """cnnsetup with MATLAB's stream: k{1}{1} = (rand(5) - 0.5) * 2 * sqrt(6 / (25 + 150))."""
    net = {"layers": [{"type": "i"}, {"type": "c", "outputmaps": 6, "kernelsize": 5}]}
    net = dlt.cnnsetup(net, np.zeros((28, 28, 1)), np.zeros((10, 1)), dlt.MatlabRandom(0))
    expected = (dlt.MatlabRandom(0).rand(5) - 0.5) * 2 * math.sqrt(6 / (25 + 6 * 25))
    np.testing.assert_array_equal(net["layers"][1]["k"][0][0], expected)


LAYERS = [{"type": "i"}, {"type": "c", "outputmaps": 2, "kernelsize": 3}, {"type": "s", "scale": 2}]


def train_setup(generator: str):
    data = dlt.OctaveRandom(11)
    x, y = data.rand(10, 10, 20), np.eye(3)[:, np.arange(20) % 3]
    rng = dlt.MatlabRandom(0, generator)
    return dlt.cnnsetup({"layers": copy.deepcopy(LAYERS)}, x, y, rng), x, y, rng


@pytest.mark.parametrize("generator", ["v5uniform", "twister"])
def test_checkpoint_and_resume_with_matlab_streams(tmp_path, generator):
    opts = {"alpha": 1.0, "batchsize": 5, "numepochs": 3}
    net, x, y, rng = train_setup(generator)
    dlt.cnntrain(net, x, y, opts, rng)
    path = tmp_path / "c.npz"
    first, x, y, rng1 = train_setup(generator)
    dlt.cnntrain(first, x, y, {**opts, "numepochs": 1, "checkpoint": path}, rng1)
    assert load_checkpoint(path)[3]["rng"] == rng1.name
    resumed, x, y, rng2 = train_setup(generator)
    dlt.cnntrain(resumed, x, y, {**opts, "checkpoint": path, "resume": True}, rng2)
    assert_same(resumed, net)
    np.testing.assert_array_equal(rng2.rand(1, 5), rng.rand(1, 5))
    with pytest.raises(ValueError, match="saved by another run"):
        dlt.cnntrain(first, x, y, {**opts, "checkpoint": path, "resume": True}, 0)


@pytest.mark.usefixtures("isolated_data")
@pytest.mark.parametrize("kind", RNG_CHOICES)
def test_command_line_trains_with_the_chosen_stream(kind, tmp_path, capsys):
    data = str(need(SHARED / "data" / "mnist"))
    argv = ["train", "2c5-2s", "--data", data, "--subset", "100,20", "--batchsize", "20"]
    argv += ["--seed", "2", "--rng", kind, "--out", str(tmp_path), "--no-plots", "--no-progress"]
    assert main(argv) == 0
    assert ("(matlab" in capsys.readouterr().out) == (kind != "octave")
    train_x, train_y, _, _ = load_mnist(data, subset=(100, 20))
    rng = make_rng(kind, 2)
    ref = dlt.cnnsetup({"layers": parse_spec("2c5-2s")}, train_x, train_y, rng)
    ref = dlt.cnntrain(ref, train_x, train_y, {"alpha": 1, "batchsize": 20, "numepochs": 1}, rng)
    net = dlt.load_net(tmp_path / "cnn.mat")
    np.testing.assert_array_equal(net["ffW"], ref["ffW"])
    np.testing.assert_array_equal(net["rL"], ref["rL"])


@pytest.mark.usefixtures("isolated_data")
def test_command_line_refuses_a_seed_matlab_cannot_take(tmp_path, capsys):
    argv = ["train", "2c5-2s", "--seed", str(2**32), "--rng", "matlab", "--no-plots"]
    assert main(argv) == 2
    assert "seed: expected an integer in [0, 2**32 - 1], got 4294967296" in capsys.readouterr().err
