"""The kernel grids k, dk, vk: one array inside cnntrain's loop, the documented k[i][j] outside.

The loop cores (forward, backward, update) keep each grid as one (maps_in, maps_out, ks, ks)
array; every public function hands the net back, and shows it to a progress callback or a
checkpoint, with nested lists of (ks, ks) views, whatever ends the loop.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import dltoolbox as dlt
from dltoolbox.cnnapplygrads import update
from dltoolbox.cnnbp import backward
from dltoolbox.cnnff import forward
from dltoolbox.engines import create
from dltoolbox.net import KernelStack, grid_fields, kernel_stack_of, list_kernels

TABLE = np.array([[1, 0, 1], [1, 1, 0]], bool)  # 2 maps in, 3 out, one map left out each
LAYERS = [{"type": "i"}, {"type": "c", "outputmaps": 2, "kernelsize": 3}, {"type": "s", "scale": 2},
          {"type": "c", "outputmaps": 3, "kernelsize": 3, "connections": TABLE},
          {"type": "s", "scale": 2}]  # fmt: skip
SAMPLES, BATCH = 20, 5


def setup(dtype=np.float64):
    rng = dlt.OctaveRandom(3)
    x = rng.rand(14, 14, SAMPLES).astype(dtype)
    y = np.eye(4, dtype=dtype)[:, np.arange(SAMPLES) % 4]
    net = dlt.cnnsetup({"layers": copy.deepcopy(LAYERS)}, x, y, rng)
    return net, x, y, rng


def assert_listed(net: dict, names=("k", "dk", "vk")) -> None:
    """Every grid field present is an intact KernelStack: lists of (ks, ks) views."""
    for l, layer in enumerate(net["layers"]):
        for name in set(grid_fields(layer["type"])) & set(names) & set(layer):
            k = layer[name]
            assert isinstance(k, KernelStack) and kernel_stack_of(k) is not None, (l, name)
            assert all(type(row) is list for row in k), (l, name)
            assert all(
                isinstance(kij, np.ndarray) and kij.shape == (3, 3) for row in k for kij in row
            )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("extra", [{}, {"momentum": 0.5, "weight_decay": 1e-3}])
def test_cnntrain_returns_kernels_as_lists(dtype, extra):
    net, x, y, rng = setup(dtype)
    dlt.cnntrain(net, x, y, {"alpha": 1, "batchsize": BATCH, "numepochs": 2, **extra}, rng)
    assert_listed(net)
    assert ("vk" in net["layers"][1]) == bool(extra)
    assert net["layers"][1]["k"][0][0].dtype == dtype


def test_the_cores_keep_arrays_and_list_kernels_shows_the_same_numbers():
    net, x, y, _ = setup()
    engine = create(net)
    backward(forward(net, x[..., :BATCH], engine), y[:, :BATCH], engine)
    update(net, 0.5, momentum=0.9)
    arrays = {name: net["layers"][3][name] for name in ("k", "dk", "vk")}
    assert all(type(a) is np.ndarray and a.shape == (2, 3, 3, 3) for a in arrays.values())
    list_kernels(net)
    assert_listed(net)
    for name, array in arrays.items():
        k = net["layers"][3][name]
        assert k.stack is array  # views of the loop's array, not a copy
        assert all(np.array_equal(k[i][j], array[i, j]) for i in range(2) for j in range(3))


def test_the_public_steps_return_lists():
    net, x, y, _ = setup()
    dlt.cnnbp(dlt.cnnff(net, x[..., :BATCH]), y[:, :BATCH])
    assert_listed(net, ("dk",))
    dlt.cnnapplygrads(net, {"alpha": 1, "momentum": 0.5})
    assert_listed(net)
    dlt.cnnapplygrads(dlt.cnnbp(dlt.cnnff(net, x[..., :BATCH]), y[:, :BATCH]), {"alpha": 1})
    assert_listed(net)


def test_a_callback_sees_lists_that_later_steps_leave_alone():
    """What a progress callback keeps of the net (the lists themselves) still holds that
    batch's numbers after the run, as the net is a value the loop replaces, never rewrites."""
    net, x, y, rng = setup()
    kept, copies = [], []

    def progress(epoch, batch, numbatches, net):
        assert_listed(net)
        kept.append(net["layers"][3]["k"])
        copies.append(copy.deepcopy(list(map(list, net["layers"][3]["k"]))))

    before = net["layers"][1]["k"]
    saved = copy.deepcopy(list(map(list, before)))
    dlt.cnntrain(
        net, x, y, {"alpha": 1, "batchsize": BATCH, "numepochs": 2, "progress": progress}, rng
    )
    assert len(kept) == 8
    assert all(np.array_equal(np.array(k), np.array(c)) for k, c in zip(kept, copies))
    assert not np.array_equal(np.array(kept[0]), np.array(kept[-1]))
    assert np.array_equal(np.array(before), np.array(saved))  # the net's kernels before the run


def test_lists_after_an_error_in_the_loop():
    """An exception from inside the loop (a callback's, as an interrupt would) leaves the net
    with lists and with the last finished batch's numbers."""
    net, x, y, rng = setup()
    seen = []

    def progress(epoch, batch, numbatches, net):
        seen.append(np.array(net["layers"][3]["k"]))
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dlt.cnntrain(
            net, x, y, {"alpha": 1, "batchsize": BATCH, "numepochs": 2, "progress": progress}, rng
        )
    assert_listed(net)
    assert np.array_equal(np.array(net["layers"][3]["k"]), seen[-1])


def test_lists_after_a_nonfinite_loss():
    """ReLU units and a softmax output with a huge step overflow on the second batch: the net
    goes back to the one after the first, kernels as lists."""
    layers = copy.deepcopy(LAYERS)
    for l in (1, 3):
        layers[l]["activation"] = "relu"
    rng = dlt.OctaveRandom(3)
    x, y = rng.rand(14, 14, SAMPLES), np.eye(4)[:, np.arange(SAMPLES) % 4]
    net = dlt.cnnsetup({"layers": layers, "output": "softmax"}, x, y, rng)
    with np.errstate(all="ignore"), pytest.raises(dlt.NonFiniteLossError) as info:
        dlt.cnntrain(net, x, y, {"alpha": 1e200, "batchsize": BATCH, "numepochs": 1}, rng)
    assert info.value.batch == 1
    assert_listed(net)


def test_checkpoints_hold_lists(tmp_path):
    net, x, y, rng = setup()
    path = tmp_path / "run.npz"
    dlt.cnntrain(
        net, x, y, {"alpha": 1, "batchsize": BATCH, "numepochs": 1, "checkpoint": str(path)}, rng
    )
    loaded = dlt.load_net(path)
    assert_listed(loaded, ("k",))
    assert np.array_equal(np.array(loaded["layers"][3]["k"]), np.array(net["layers"][3]["k"]))
