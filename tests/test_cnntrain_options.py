"""cnntrain's options: progress, checkpoint and resume (with a killed process), NaN/Inf stop."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from test_netio import assert_same

import dltoolbox as dlt
from dltoolbox.checkpoint import load_checkpoint

LAYERS = [{"type": "i"}, {"type": "c", "outputmaps": 2, "kernelsize": 3}, {"type": "s", "scale": 2},
          {"type": "c", "outputmaps": 3, "kernelsize": 3}, {"type": "s", "scale": 2}]  # fmt: skip
SAMPLES, BATCH = 40, 5  # 8 batches per epoch


def data():
    rng = dlt.OctaveRandom(11)
    x = rng.rand(14, 14, SAMPLES)
    y = np.zeros((4, SAMPLES))
    y[np.arange(SAMPLES) % 4, np.arange(SAMPLES)] = 1
    return x, y


def setup(seed: int = 0):
    """(net, x, y, rng) right after cnnsetup, the rng ready for cnntrain."""
    x, y = data()
    rng = dlt.OctaveRandom(seed)
    net = dlt.cnnsetup({"layers": copy.deepcopy(LAYERS)}, x, y, rng)
    return net, x, y, rng


def opts(**extra) -> dict:
    return {"alpha": 1.0, "batchsize": BATCH, "numepochs": 3, **extra}


# ----------------------------------------------------------------------------- progress


def test_progress_callback_sees_every_batch():
    net, x, y, rng = setup()
    calls = []

    def progress(epoch, batch, numbatches, net):
        calls.append((epoch, batch, numbatches, len(net["rL"]), net["rL"][-1]))

    dlt.cnntrain(net, x, y, opts(progress=progress), rng)
    assert [c[:3] for c in calls] == [(e, b, 8) for e in range(3) for b in range(8)]
    assert [c[3] for c in calls] == list(range(2, 26))
    assert [c[4] for c in calls] == list(net["rL"][1:])


def test_progress_does_not_change_the_result():
    net, x, y, rng = setup()
    dlt.cnntrain(net, x, y, opts(), rng)
    net2, x, y, rng2 = setup()
    dlt.cnntrain(net2, x, y, opts(progress=lambda *args: None), rng2)
    assert_same(net2, net)


def test_progress_bar(capsys):
    pytest.importorskip("tqdm")
    net, x, y, rng = setup()
    dlt.cnntrain(net, x, y, opts(numepochs=2, progress=True), rng)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "8/8" in err
    assert f"loss {net['rL'][-1]:.4f}" in err and "batch/s" in err


def test_progress_bar_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now raises ImportError
    net, x, y, rng = setup()
    with pytest.raises(ImportError, match="needs tqdm: pip install tqdm"):
        dlt.cnntrain(net, x, y, opts(progress=True), rng)


def test_bad_options():
    net, x, y, rng = setup()
    with pytest.raises(TypeError, match=r'opts\["progress"\]: expected None, False, True'):
        dlt.cnntrain(net, x, y, opts(progress="yes"), rng)
    with pytest.raises(TypeError, match=r'opts\["checkpoint"\]: expected a file path'):
        dlt.cnntrain(net, x, y, opts(checkpoint=3), rng)
    with pytest.raises(ValueError, match=r'opts\["resume"\]: True needs opts\["checkpoint"\]'):
        dlt.cnntrain(net, x, y, opts(resume=True), rng)

    class Stream:  # rand and randperm, but no get_state
        def __init__(self):
            self.inner = dlt.OctaveRandom(0)
            self.rand, self.randperm = self.inner.rand, self.inner.randperm

    with pytest.raises(TypeError, match=r"get_state\(\) and set_state\(\)"):
        dlt.cnntrain(net, x, y, opts(checkpoint="c.npz"), Stream())


# ----------------------------------------------------------------------------- checkpoints


def test_checkpoint_holds_the_net_and_the_stream(tmp_path):
    path = tmp_path / "ckpt.npz"
    net, x, y, rng = setup()
    dlt.cnntrain(net, x, y, opts(checkpoint=path), rng)
    saved, epochs, state, run = load_checkpoint(path)
    assert epochs == 3 and run["layers"] == "i-2c3-2s-3c3-2s" and run["samples"] == SAMPLES
    assert_same(saved, dlt.load_net(dlt.save_net(tmp_path / "n.npz", net)))
    after = dlt.OctaveRandom(1)
    after.set_state(state)
    assert np.array_equal(after.rand(5), rng.rand(5))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz", "n.npz"]


def test_resume_from_each_epoch_gives_the_same_net(tmp_path):
    net, x, y, rng = setup()
    dlt.cnntrain(net, x, y, opts(), rng)
    for stop in (1, 2, 3):
        path = tmp_path / f"c{stop}.npz"
        first, x, y, rng1 = setup()
        dlt.cnntrain(first, x, y, opts(numepochs=stop, checkpoint=path), rng1)
        resumed, x, y, rng2 = setup()
        dlt.cnntrain(resumed, x, y, opts(checkpoint=path, resume=True), rng2)
        assert_same(resumed, net)


def test_resume_refuses_another_run(tmp_path):
    path = tmp_path / "c.npz"
    net, x, y, rng = setup()
    dlt.cnntrain(net, x, y, opts(checkpoint=path), rng)
    net, x, y, rng = setup()
    with pytest.raises(ValueError, match="saved by another run"):
        dlt.cnntrain(net, x, y, opts(alpha=0.5, checkpoint=path, resume=True), rng)
    with pytest.raises(ValueError, match="already done 3 epochs, more than the 2"):
        dlt.cnntrain(net, x, y, opts(numepochs=2, checkpoint=path, resume=True), rng)
    path.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ValueError, match="not a readable cnntrain checkpoint"):
        dlt.cnntrain(net, x, y, opts(checkpoint=path, resume=True), rng)


CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import dltoolbox as dlt
    from test_cnntrain_options import opts, setup

    checkpoint, out, pause_at = sys.argv[2], sys.argv[3], sys.argv[4]

    def progress(epoch, batch, numbatches, net):
        print(epoch, batch, flush=True)
        if f"{epoch} {batch}" == pause_at:
            time.sleep(60)  # the parent kills us here, in the middle of an epoch

    net, x, y, rng = setup()
    dlt.cnntrain(net, x, y, opts(checkpoint=checkpoint, resume=True, progress=progress), rng)
    dlt.save_net(out, net)
    """
)


def test_a_killed_run_resumes_to_the_same_net(tmp_path):
    tests = os.path.dirname(os.path.abspath(__file__))
    ckpt, out = str(tmp_path / "ckpt.npz"), str(tmp_path / "out.npz")
    command = [sys.executable, "-c", CHILD, tests, ckpt, out]
    child = subprocess.Popen([*command, "1 3"], stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, child.kill)  # bounded even if the child hangs
    watchdog.start()
    try:
        lines = []
        for line in child.stdout:  # the child pauses at epoch 1, batch 3
            lines.append(line.split())
            if line.strip() == "1 3":
                break
        child.send_signal(signal.SIGKILL)
    finally:
        watchdog.cancel()
        child.kill()
        child.wait(timeout=30)
    assert lines[-1] == ["1", "3"] and len(lines) == 8 + 4
    assert load_checkpoint(ckpt)[1] == 1 and not os.path.exists(out)

    done = subprocess.run([*command, "none"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "1 0"  # it went on with epoch 1 (0-based)
    net, x, y, rng = setup()
    dlt.cnntrain(net, x, y, opts(), rng)
    assert_same(dlt.load_net(out), dlt.load_net(dlt.save_net(tmp_path / "whole.npz", net)))


# ----------------------------------------------------------------------------- NaN / Inf


def test_nan_loss_stops_with_the_net_before_that_batch():
    # with sigmoid units a large alpha saturates rather than overflows, so the NaN is put into
    # one weight, as an overflow elsewhere would: the next batch's loss is NaN
    net, x, y, rng = setup()
    seen = []

    def progress(epoch, batch, numbatches, net):
        if (epoch, batch) == (1, 2):
            net["ffW"][0, 0] = np.nan
        seen.append(copy.deepcopy(net))

    with pytest.raises(dlt.NonFiniteLossError) as info:
        dlt.cnntrain(net, x, y, opts(progress=progress), rng)
    err = info.value
    assert np.isnan(err.loss) and (err.epoch, err.batch, err.alpha) == (1, 3, 1.0)
    assert len(seen) == 8 + 3
    message = str(err)
    assert "the loss L became nan at epoch 2/3, batch 4/8" in message
    assert "Try a smaller opts['alpha'] (it is 1; e.g. 0.1)" in message
    assert "left as it was before that batch" in message
    assert_same(net, seen[-1])


@pytest.mark.parametrize("dtype, scalar", [(np.float64, float), (np.float32, np.float32)])
def test_trained_biases_stay_lists_of_the_nets_scalars(dtype, scalar):
    """After steps with momentum, every conv layer's b and vb is a plain list of Python floats
    (float64, as the toolbox's numbers print) or of numpy scalars of the net's dtype, with the
    values of the arrays they were computed as."""
    x, y = data()
    x, y = x.astype(dtype), y.astype(dtype)
    net = dlt.cnnsetup({"layers": copy.deepcopy(LAYERS)}, x, y, dlt.OctaveRandom(0))
    opts = {"alpha": 1, "batchsize": BATCH, "numepochs": 1, "momentum": 0.5}
    dlt.cnntrain(net, x, y, opts, dlt.OctaveRandom(1))
    for layer in net["layers"][1::2]:
        for key in ("b", "vb", "db"):
            values = layer[key]
            assert type(values) is list and len(values) == layer["outputmaps"], key
            if key != "db":
                assert all(type(v) is scalar for v in values), (key, {type(v) for v in values})
        assert any(v != 0 for v in layer["vb"])
