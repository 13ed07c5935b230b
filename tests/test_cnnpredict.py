"""cnnpredict (labels and outputs, the net untouched) and net_input_size."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from test_netio import assert_same

import dltoolbox as dlt
from dltoolbox.cnnpredict import net_input_size
from dltoolbox.spec import parse_spec


def make_net(spec="4c5-2s-6c3-2s", size=(20, 20), output="sigm", channels=0, batch=12):
    rng = dlt.OctaveRandom(5)
    shape = (*size, channels, batch) if channels else (*size, batch)
    x = rng.rand(*shape)
    y = np.eye(5)[:, np.arange(batch) % 5]
    net = {"layers": parse_spec(spec), "output": output}
    net = dlt.cnnsetup(net, x, y, rng)
    return dlt.cnntrain(net, x, y, {"alpha": 0.5, "batchsize": 4, "numepochs": 2}, rng), x, y


@pytest.mark.parametrize("output", ["sigm", "softmax"])
def test_labels_are_the_largest_outputs_and_the_net_is_untouched(output):
    net, x, y = make_net(output=output)
    before = copy.deepcopy(net)
    labels, o = dlt.cnnpredict(net, x)
    assert_same(net, before)
    want_o = dlt.cnnff(copy.deepcopy(net), x)["o"]
    np.testing.assert_array_equal(o, want_o)
    assert labels.dtype == np.int64 and labels.shape == (x.shape[-1],)
    np.testing.assert_array_equal(labels, np.argmax(want_o, axis=0))
    if output == "softmax":
        np.testing.assert_allclose(o.sum(axis=0), 1, rtol=1e-12)
    er, bad = dlt.cnntest(net, x, y)
    np.testing.assert_array_equal(np.flatnonzero(labels != np.argmax(y, axis=0)), bad)


def test_one_sample():
    net, x, _ = make_net()
    labels, o = dlt.cnnpredict(net, x[:, :, 3])
    assert labels.shape == (1,) and o.shape == (5, 1)
    all_labels, all_o = dlt.cnnpredict(net, x)
    assert labels[0] == all_labels[3]
    np.testing.assert_allclose(o[:, 0], all_o[:, 3], rtol=1e-13)


def test_several_channels():
    net, x, _ = make_net(channels=3)
    labels, o = dlt.cnnpredict(net, x)
    assert labels.shape == (12,) and o.shape == (5, 12)
    one, _ = dlt.cnnpredict(net, x[:, :, :, 7])  # (rows, cols, channels): one sample
    assert one.tolist() == [labels[7]]


def test_bad_inputs():
    net, x, _ = make_net()
    with pytest.raises(ValueError, match=r"x: maps of size \(24, 24\) give .* but ffW expects"):
        dlt.cnnpredict(net, np.zeros((24, 24, 2)))
    with pytest.raises(ValueError, match="not set up"):
        dlt.cnnpredict({"layers": parse_spec("2c3")}, x)
    with pytest.raises(ValueError, match="x: expected"):
        dlt.cnnpredict(net, np.zeros(5))


def test_net_input_size():
    net, x, _ = make_net()
    net["layers"][0].pop("a")
    assert net_input_size(net) == (20, 20)  # from ffW's 6 x 2 x 2 features
    dlt.cnnff(net, np.zeros((20, 20, 1)))
    assert net_input_size(net) == (20, 20)  # from the input maps
    wide, _, _ = make_net("3c3-2s", size=(10, 14))
    assert net_input_size(wide) == (10, 14)
    wide["layers"][0].pop("a")  # 3 maps of 4 x 6: 72 features, no square input gives them
    with pytest.raises(ValueError, match="its 72 features .* no square input size"):
        net_input_size(wide)
    plain = dlt.cnnsetup({"layers": parse_spec("2s")}, np.zeros((8, 8, 1)), np.eye(3)[:, :1])
    assert net_input_size(plain) == (8, 8)  # no conv layer: the input's one map
