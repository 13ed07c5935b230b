"""opts["last_batch"]: "drop" / "keep" when batchsize does not divide the sample count.

cnntrain is checked against the toolbox's loop written out with the public cnnff, cnnbp and
cnnapplygrads, and the smaller last batch of "keep" against the mean of its per-sample gradients.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import SHARED, need
from test_netio import assert_same

import dltoolbox as dlt
from dltoolbox.checkpoint import load_checkpoint
from dltoolbox.cli import main
from dltoolbox.netio import load_net

LAYERS = [{"type": "i"}, {"type": "c", "outputmaps": 2, "kernelsize": 3}, {"type": "s", "scale": 2},
          {"type": "c", "outputmaps": 3, "kernelsize": 3}, {"type": "s", "scale": 2}]  # fmt: skip
SAMPLES, BATCH = 23, 5  # 4 full batches and 3 samples left


def setup(samples: int = SAMPLES):
    data = dlt.OctaveRandom(11)
    x = data.rand(14, 14, samples)
    y = np.eye(4)[:, np.arange(samples) % 4]
    rng = dlt.OctaveRandom(0)
    return dlt.cnnsetup({"layers": copy.deepcopy(LAYERS)}, x, y, rng), x, y, rng


def opts(**extra) -> dict:
    return {"alpha": 1.0, "batchsize": BATCH, "numepochs": 2, **extra}


def toolbox_loop(net, x, y, o: dict, rng, numbatches: int) -> dict:
    """cnntrain.m's loops, with numbatches given."""
    rL = []
    bs = o["batchsize"]
    for _ in range(o["numepochs"]):
        kk = rng.randperm(x.shape[-1])
        for b in range(numbatches):
            idx = kk[b * bs : (b + 1) * bs]
            net = dlt.cnnapplygrads(dlt.cnnbp(dlt.cnnff(net, x[:, :, idx]), y[:, idx]), o)
            rL.extend([net["L"]] if not rL else [])
            rL.append(0.99 * rL[-1] + 0.01 * net["L"])
    net["rL"] = np.array(rL)
    return net


def test_default_is_the_toolboxs_error():
    net, x, y, rng = setup()
    toolbox = r'opts\["batchsize"\]: expected a divisor of the sample count 23 \(numbatches not'
    with pytest.raises(ValueError, match=toolbox + r' integer\), got 5; or set opts\["last_batch"'):
        dlt.cnntrain(net, x, y, opts(), rng)
    with pytest.raises(ValueError, match="expected a divisor"):
        dlt.cnntrain(net, x, y, opts(last_batch=None), rng)


@pytest.mark.parametrize("value", ["all", "Drop", 1, True, ["drop"]])
def test_bad_values_are_named(value):
    net, x, y, rng = setup()
    with pytest.raises(
        ValueError, match=r"opts\[\"last_batch\"\]: expected one of \[None, 'drop', 'keep'\]"
    ):
        dlt.cnntrain(net, x, y, opts(last_batch=value), rng)


def test_drop_with_no_full_batch_is_refused():
    net, x, y, rng = setup()
    with pytest.raises(ValueError, match=r'opts\["batchsize"\]: 30 is more than the 23 samples'):
        dlt.cnntrain(net, x, y, opts(batchsize=30, last_batch="drop"), rng)


@pytest.mark.parametrize("last_batch, numbatches", [("drop", 4), ("keep", 5)])
def test_matches_the_toolbox_loop(last_batch, numbatches):
    net, x, y, rng = setup()
    dlt.cnntrain(net, x, y, opts(last_batch=last_batch), rng)
    ref, x, y, rng2 = setup()
    ref = toolbox_loop(ref, x, y, opts(), rng2, numbatches)
    assert net["rL"].shape == (1 + 2 * numbatches,)
    for field in ("ffW", "ffb", "rL"):
        np.testing.assert_allclose(net[field], ref[field], rtol=1e-13, atol=1e-15)
    for l in (1, 3):
        for got, want in zip(sum(net["layers"][l]["k"], []), sum(ref["layers"][l]["k"], [])):
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def test_a_divisor_gives_the_same_net_with_or_without_the_option():
    nets = []
    for last_batch in (None, "drop", "keep"):
        net, x, y, rng = setup(20)
        nets.append(dlt.cnntrain(net, x, y, opts(last_batch=last_batch), rng))
    assert_same(nets[1], nets[0])
    assert_same(nets[2], nets[0])


class Recorder:
    """OctaveRandom(0), keeping the permutations it hands out."""

    def __init__(self):
        self.inner, self.perms = dlt.OctaveRandom(0), []
        self.rand = self.inner.rand

    def randperm(self, n):
        self.perms.append(self.inner.randperm(n))
        return self.perms[-1]


def test_keep_steps_with_the_mean_gradient_of_the_last_samples():
    net, x, y, _ = setup()
    stream, before = Recorder(), {}

    def progress(epoch, batch, numbatches, net):
        if batch == numbatches - 2:
            before["net"] = copy.deepcopy(net)

    dlt.cnntrain(net, x, y, opts(numepochs=1, last_batch="keep", progress=progress), stream)
    last = stream.perms[0][4 * BATCH :]
    assert last.size == SAMPLES % BATCH
    grads = [
        dlt.cnnbp(dlt.cnnff(copy.deepcopy(before["net"]), x[:, :, n]), y[:, [n]]) for n in last
    ]
    mean_dffW = np.mean([g["dffW"] for g in grads], axis=0)
    np.testing.assert_allclose(net["ffW"], before["net"]["ffW"] - mean_dffW, rtol=1e-12)
    mean_dk = np.mean([g["layers"][1]["dk"][0][1] for g in grads], axis=0)
    want_k = before["net"]["layers"][1]["k"][0][1] - mean_dk
    np.testing.assert_allclose(net["layers"][1]["k"][0][1], want_k, rtol=1e-12)


def test_checkpoints_resume_and_record_the_option(tmp_path):
    whole, x, y, rng = setup()
    dlt.cnntrain(whole, x, y, opts(numepochs=3, last_batch="keep"), rng)
    path = tmp_path / "c.npz"
    first, x, y, rng1 = setup()
    dlt.cnntrain(first, x, y, opts(numepochs=1, last_batch="keep", checkpoint=path), rng1)
    assert load_checkpoint(path)[3]["last_batch"] == "keep"
    resumed, x, y, rng2 = setup()
    dlt.cnntrain(
        resumed, x, y, opts(numepochs=3, last_batch="keep", checkpoint=path, resume=True), rng2
    )
    assert_same(resumed, whole)
    other, x, y, rng3 = setup()
    with pytest.raises(ValueError, match="saved by another run"):
        dlt.cnntrain(other, x, y, opts(last_batch="drop", checkpoint=path, resume=True), rng3)


@pytest.mark.usefixtures("isolated_data")
@pytest.mark.parametrize("last_batch, batches", [("drop", 5), ("keep", 6)])
def test_command_line(last_batch, batches, tmp_path, capsys):
    data = str(need(SHARED / "data" / "mnist"))
    argv = ["train", "2c5-2s", "--data", data, "--subset", "110,20", "--batchsize", "20"]
    argv += ["--last-batch", last_batch, "--out", str(tmp_path), "--no-plots", "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    assert load_net(tmp_path / "cnn.mat")["rL"].shape == (1 + batches,)
