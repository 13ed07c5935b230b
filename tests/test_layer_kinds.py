"""The layer options of issue 13: conv padding (an int or "same"), stride (exact, or its remainder
dropped), connection tables (LeNet-5's C3), 'c' and 's' in any order, 'f' hidden layers (outputs,
activation, dropout). Files, summaries computed by hand, spec tokens and the command line,
dropout's random stream, checkpoints, and the 'f' layer's initial weights.

The bad-input cases of these options are in the table of ``test_bad_input.py``."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import scipy.io
from badinput import identical
from conftest import ROOT, SHARED
from test_netio import assert_same as assert_netio_same

import dltoolbox as dlt
from dltoolbox.cli import main
from dltoolbox.cnnff import forward
from dltoolbox.engines import create
from dltoolbox.layers.conv import LENET5_C3
from dltoolbox.spec import parse_spec, spec_of_layers

#: Every option in one net on 17 x 17 maps: 'same' padding with an exact stride 2 (16 / 2), 'c'
#: after 'c', LeNet-5's C3 table, max then mean pooling ('s' after 's'), padding 2 with stride 3
#: and its remainder dropped ('c' after 's'), 'f' layers of each activation, two with dropout.
ALL = "i-6c3rpss2-6c3ps-16c2@lenet5-2m-2s-8c2p2s3d-6ftd0.5-5frd0.25-4f"
LENET5 = "i-6c5t-2s-16c5t@lenet5-2s-120c5t-84ft"
OPTS = {"alpha": 0.1, "batchsize": 4, "numepochs": 1, "momentum": 0.9}


def data() -> tuple[np.ndarray, np.ndarray]:
    """x (17, 17, 8) and one-hot y (3, 8)."""
    return dlt.OctaveRandom(1).rand(17, 17, 8), np.eye(3)[:, np.arange(8) % 3]


def make(spec: str = ALL, seed: int = 0) -> tuple[dict, dlt.OctaveRandom]:
    """A softmax net of ``spec`` set up for :func:`data`, and its stream after the setup."""
    x, y = data()
    rng = dlt.OctaveRandom(seed)
    return dlt.cnnsetup({"layers": parse_spec(spec), "output": "softmax"}, x, y, rng), rng


def trained(spec: str = ALL, seed: int = 0) -> tuple[dict, dlt.OctaveRandom]:
    """:func:`make`, then one epoch (two batches) with momentum."""
    net, rng = make(spec, seed)
    return dlt.cnntrain(net, *data(), dict(OPTS), rng), rng


def twin(rng: dlt.OctaveRandom) -> dlt.OctaveRandom:
    """A stream in the state of ``rng``."""
    copy = dlt.OctaveRandom(12345)
    copy.set_state(rng.get_state())
    return copy


def assert_same(got, want, where: str = "net") -> None:
    """:func:`test_netio.assert_same` with the keys of each dict in any order (load_net gives
    them in the field table's order, a net in the order its fields were made)."""
    assert_netio_same(got, want, where, key_order=False)


# --------------------------------------------------------------------------- files


def _trained_with_every_field() -> tuple[dict, dlt.OctaveRandom]:
    net, rng = trained()
    layers = net["layers"]
    assert {"vk", "vb", "dk", "a", "d"} <= set(layers[1]) and "vffW" in net
    assert {"mask", "h", "vW", "vb", "dW"} <= set(layers[7]) and "mask" in layers[8]
    assert layers[1]["padding"] == "same" and layers[6]["remainder"] == "drop"
    return net, rng


def _trains_on_alike(a: dict, b: dict, rng: dlt.OctaveRandom) -> None:
    before = a["ffW"].copy()
    x, y = data()
    dlt.cnntrain(a, x, y, dict(OPTS), twin(rng))
    dlt.cnntrain(b, x, y, dict(OPTS), twin(rng))
    assert not np.array_equal(a["ffW"], before)  # it did train
    assert_same(a, b)


def test_npz_round_trip_is_exact_and_trains_on_to_the_same_bits(tmp_path):
    net, rng = _trained_with_every_field()
    back = dlt.load_net(dlt.save_net(tmp_path / "all.npz", net))
    assert_same(back, net)
    assert back["layers"][3]["connections"].dtype == bool
    assert type(back["layers"][6]["padding"]) is int and back["layers"][1]["padding"] == "same"
    assert type(back["layers"][7]["dropout"]) is float
    _trains_on_alike(back, net, rng)


def test_mat_round_trip_is_exact_and_trains_on_to_the_same_bits(tmp_path):
    net, rng = _trained_with_every_field()
    back = dlt.load_net(dlt.save_net(tmp_path / "all.mat", net))
    assert_same(back, net)
    assert_same(dlt.load_net(dlt.save_net(tmp_path / "again.mat", back)), net)
    _trains_on_alike(back, net, rng)


def _text(value: np.ndarray) -> str:
    return "".join(value.reshape(-1).tolist())


def _number(value: np.ndarray) -> float:
    assert value.dtype == np.float64 and value.shape == (1, 1), (value.dtype, value.shape)
    return float(value[0, 0])


def test_mat_stores_the_new_keys_as_matlab_values(tmp_path):
    net, _ = _trained_with_every_field()
    path = dlt.save_net(tmp_path / "all.mat", net)
    # mat_dtype: each array in the class MATLAB gives it (logical arrays as bool)
    raw = scipy.io.loadmat(path, squeeze_me=False, mat_dtype=True)["cnn"][0, 0]
    layer = [raw["layers"][l, 0][0, 0] for l in range(10)]
    assert _text(layer[1]["padding"]) == "same" and _number(layer[1]["stride"]) == 2
    assert _text(layer[1]["activation"]) == "relu" and "remainder" not in layer[1].dtype.names
    assert _number(layer[6]["padding"]) == 2 and _number(layer[6]["stride"]) == 3
    assert _text(layer[6]["remainder"]) == "drop"
    table = layer[3]["connections"]
    assert table.dtype == bool and table.shape == (6, 16)  # a logical (inputmaps, outputmaps)
    assert np.array_equal(table, LENET5_C3) and table.sum() == 60
    plain = scipy.io.loadmat(path, squeeze_me=False)["cnn"][0, 0]["layers"][3, 0][0, 0]
    assert plain["connections"].dtype == np.uint8  # logical is a flag on 0/1 bytes
    assert _text(layer[4]["method"]) == "max" and "method" not in layer[5].dtype.names
    fc = layer[7]
    assert _text(fc["type"]) == "f" and _number(fc["outputs"]) == 6
    assert _text(fc["activation"]) == "tanh" and _number(fc["dropout"]) == 0.5
    for key, shape in {"W": (6, 32), "b": (6, 1), "vW": (6, 32), "mask": (6, 4)}.items():
        assert fc[key].dtype == np.float64 and fc[key].shape == shape, key
        assert np.array_equal(fc[key], net["layers"][7][key]), key
    assert set(np.unique(fc["mask"])) <= {0.0, 1.0}
    assert "dropout" not in layer[9].dtype.names and "activation" not in layer[9].dtype.names
    assert raw["ffW"].shape == (3, 4) and _text(raw["output"]) == "softmax"


# --------------------------------------------------------------------------- cnnsummary


def test_lenet5_summary_by_hand():
    s = dlt.cnnsummary({"layers": parse_spec(LENET5), "output": "softmax"}, (32, 32), 10)
    # 32 - 5 + 1 = 28; 28 / 2 = 14; 14 - 5 + 1 = 10; 10 / 2 = 5; 5 - 5 + 1 = 1
    shapes = [(1, 32, 32), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1)]
    assert [r.shape for r in s.rows] == [*shapes, (84, 1, 1), (10,)]
    # C1 (5*5*1 + 1)*6 = 156; S2 and S4: none (the mean has no weights here, unlike LeCun's
    # trainable coefficient and bias per map); C3 60 connections: 60*25 + 16 = 1,516;
    # C5 (5*5*16 + 1)*120 = 48,120; F6 (120 + 1)*84 = 10,164; output (84 + 1)*10 = 850
    assert [r.params for r in s.rows] == [0, 156, 0, 1516, 0, 48120, 10164, 850]
    assert s.total_params == 60806
    # 25*6*28*28 = 117,600; 4*6*14*14 = 4,704; 25*60*10*10 = 150,000; 4*16*5*5 = 1,600;
    # 25*16*120 = 48,000; 120*84 = 10,080; 84*10 = 840
    assert [r.macs for r in s.rows] == [0, 117600, 4704, 150000, 1600, 48000, 10080, 840]
    assert s.total_macs == 332824
    # 5; 5 + 1*1 = 6 (jump 2); 6 + 4*2 = 14; 14 + 1*2 = 16 (jump 4); 16 + 4*4 = 32; F6 and the
    # output read all of C5's single unit: 32
    fields = [1, 5, 6, 14, 16, 32, 32, 32]
    assert [r.receptive_field for r in s.rows] == [(n, n) for n in fields]
    assert [r.kind for r in s.rows][3] == "conv 5x5 tanh 60/96 links"
    assert [r.kind for r in s.rows][6:] == ["full tanh", "full+softmax"]


def test_padding_stride_same_and_drop_summary_by_hand():
    s = dlt.cnnsummary({"layers": parse_spec(ALL), "output": "softmax"}, (17, 17), 3)
    # floor((n + 2p - k) / s) + 1: (17 + 2 - 3) / 2 + 1 = 9; (9 + 2 - 3) / 1 + 1 = 9;
    # 9 - 2 + 1 = 8; 8 / 2 = 4; 4 / 2 = 2; floor((2 + 4 - 2) / 3) + 1 = 2 (remainder 1 dropped)
    maps = [(1, 17, 17), (6, 9, 9), (6, 9, 9), (16, 8, 8), (16, 4, 4), (16, 2, 2), (8, 2, 2)]
    assert [r.shape for r in s.rows] == [*maps, (6, 1, 1), (5, 1, 1), (4, 1, 1), (3,)]
    # (9 + 1)*6 = 60; (9*6 + 1)*6 = 330; 60*4 + 16 = 256; 0; 0; (4*16 + 1)*8 = 520;
    # 'f': (8*2*2 + 1)*6 = 198, (6 + 1)*5 = 35, (5 + 1)*4 = 24; output (4 + 1)*3 = 15
    assert [r.params for r in s.rows] == [0, 60, 330, 256, 0, 0, 520, 198, 35, 24, 15]
    # 9*6*81 = 4,374; 54*6*81 = 26,244; 4*60*64 = 15,360; 4*16*16 = 1,024; 4*16*4 = 256;
    # 64*8*4 = 2,048; 32*6 = 192; 6*5 = 30; 5*4 = 20; 4*3 = 12
    macs = [0, 4374, 26244, 15360, 1024, 256, 2048, 192, 30, 20, 12]
    assert [r.macs for r in s.rows] == macs
    # rf 3 (then jump 2); 3 + 2*2 = 7; 7 + 1*2 = 9; 9 + 1*2 = 11 (jump 4); 11 + 1*4 = 15
    # (jump 8); 15 + 1*8 = 23 (jump 24); the 'f' layers and the output read both units of
    # each row: 23 + (2 - 1)*24 = 47 rows of the padded input
    fields = [1, 3, 7, 9, 11, 15, 23, 47, 47, 47, 47]
    assert [r.receptive_field for r in s.rows] == [(n, n) for n in fields]


def test_non_square_summary_by_hand():
    s = dlt.cnnsummary({"layers": parse_spec("i-4c3pss2-5c4p1s3d-3c3ps-7fr")}, (15, 11), 10)
    # rows: (15 + 2 - 3) / 2 + 1 = 8, (8 + 2 - 4) / 3 + 1 = 3, 3; cols: (11 + 2 - 3) / 2 + 1 = 6,
    # floor((6 + 2 - 4) / 3) + 1 = 2 (remainder 1 dropped), 2
    assert [r.shape for r in s.rows] == [(1, 15, 11), (4, 8, 6), (5, 3, 2), (3, 3, 2), (7, 1, 1),
                                         (10,)]  # fmt: skip
    # (9 + 1)*4 = 40; (16*4 + 1)*5 = 325; (9*5 + 1)*3 = 138; (18 + 1)*7 = 133; (7 + 1)*10 = 80
    assert [r.params for r in s.rows] == [0, 40, 325, 138, 133, 80]
    # 9*4*48 = 1,728; 64*5*6 = 1,920; 45*3*6 = 810; 18*7 = 126; 7*10 = 70
    assert [r.macs for r in s.rows] == [0, 1728, 1920, 810, 126, 70]
    # 3 (jump 2); 3 + 3*2 = 9 (jump 6); 9 + 2*6 = 21; then 21 + (3 - 1)*6 = 33 rows and
    # 21 + (2 - 1)*6 = 27 columns
    assert [r.receptive_field for r in s.rows] == [(1, 1), (3, 3), (9, 9), (21, 21), (33, 27),
                                                   (33, 27)]  # fmt: skip


# --------------------------------------------------------------------------- specs


TOKENS = [
    ("6c5t", {"activation": "tanh"}),
    ("6c5p2", {"padding": 2}),
    ("6c5p0", {"padding": 0}),
    ("6c5ps", {"padding": "same"}),
    ("6c5s2", {"stride": 2}),
    ("6c5s2d", {"stride": 2, "remainder": "drop"}),
    ("6c5s1d", {"stride": 1, "remainder": "drop"}),
    ("6c5rp1s3d", {"activation": "relu", "padding": 1, "stride": 3, "remainder": "drop"}),
    ("6c5pss2", {"padding": "same", "stride": 2}),
    ("6c5tps@lenet5", {"activation": "tanh", "padding": "same", "connections": LENET5_C3}),
]
F_TOKENS = [
    ("84f", {}),
    ("84fr", {"activation": "relu"}),
    ("84ft", {"activation": "tanh"}),
    ("84fd0.5", {"dropout": 0.5}),
    ("84fd.25", {"dropout": 0.25}),
    ("84fd0", {}),
    ("84frd0.125", {"activation": "relu", "dropout": 0.125}),
]


@pytest.mark.parametrize("token, options", TOKENS + F_TOKENS, ids=[t for t, _ in TOKENS + F_TOKENS])
def test_each_new_token_gives_its_layer(token, options):
    conv = token.startswith("6c")
    head = {"type": "c", "outputmaps": 6, "kernelsize": 5} if conv else {"type": "f", "outputs": 84}
    [first, layer] = parse_spec(token)
    assert first == {"type": "i"}
    table = layer.pop("connections", None)
    want = dict(head, **options)
    want_table = want.pop("connections", None)
    assert layer == want and {k: type(v) for k, v in layer.items()} == {
        k: type(v) for k, v in want.items()
    }
    assert (table is None) == (want_table is None)
    if table is not None:
        assert table.dtype == bool and np.array_equal(table, want_table)


@pytest.mark.parametrize("spec", [ALL, LENET5, "i3-8c3pss2d-2m-8c3p1-2s-10frd0.5-10ft"])
def test_spec_of_the_layers_is_the_spec(spec):
    assert spec_of_layers(parse_spec(spec)) == spec


@pytest.mark.parametrize(
    "token",
    [
        "6c5s0",
        "6c5p",
        "6c5px",
        "6c5@foo",
        "6c5ds2",
        "84fd1",
        "84fd1.5",
        "84fd",
        "0f",
        "84fx",
        "84f0.5",
    ],  # fmt: skip
)
def test_bad_new_tokens_are_refused_by_name(token):
    with pytest.raises(dlt.InputError, match=f"spec: layer 2 of '2s-{token}' is '{token}'"):
        parse_spec(f"2s-{token}")


def test_summary_command_takes_the_new_tokens():
    argv = ["summary", LENET5, "--input", "32x32", "--classes", "10", "--output", "softmax"]
    done = subprocess.run(
        [sys.executable, "-m", "dltoolbox", *argv], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "conv 5x5 tanh 60/96 links" in lines[5] and "1,516" in lines[5]
    assert "120 x 1 x 1" in lines[7] and "48,120" in lines[7]
    assert "full tanh" in lines[8] and "10,164" in lines[8] and "60,806" in lines[-1]


def test_train_command_takes_the_new_tokens(tmp_path, capsys, monkeypatch):
    mnist = SHARED / "data" / "mnist"
    if not mnist.exists():
        pytest.skip(f"{mnist} not found (the shared MNIST copy)")
    monkeypatch.delenv("DLTOOLBOX_DATA", raising=False)
    spec = "i-6c5tps-2m-16c3rp1s2d@lenet5-10frd0.5"  # 28, 14, floor(13 / 2) + 1 = 7
    argv = ["train", spec, "--data", str(mnist), "--subset", "100,20", "--epochs", "1"]
    argv += ["--batchsize", "10", "--alpha", "0.1", "--output", "softmax", "--no-plots"]
    assert main([*argv, "--no-progress", "--out", str(tmp_path)]) == 0
    assert "test error:" in capsys.readouterr().out
    net = dlt.load_net(tmp_path / "cnn.mat")
    assert spec_of_layers(net["layers"]) == spec and net["layers"][4]["W"].shape == (10, 784)


# --------------------------------------------------------------------------- dropout

DROP = "i-2c4-2s-5frd0.4-4ftd0.25"  # 17 - 4 + 1 = 14, 7: 98 features


def _features(maps: list) -> np.ndarray:
    """(features, batch): each map flattened column-major, stacked map after map."""
    return np.concatenate([m.reshape(-1, m.shape[-1], order="F") for m in maps])


def test_training_masks_come_from_the_training_stream():
    net, rng = make(DROP)
    x, _ = data()
    draws = twin(rng)
    forward(net, x[..., np.arange(4)], create(net), rng)  # cnntrain's pass over one batch
    f5, f4 = net["layers"][3], net["layers"][4]
    mask5 = (draws.rand(5, 4) > 0.4).astype(float)  # in layer order
    mask4 = (draws.rand(4, 4) > 0.25).astype(float)
    assert identical(rng.get_state(), draws.get_state())  # nothing else was drawn
    assert np.array_equal(f5["mask"], mask5) and np.array_equal(f4["mask"], mask4)
    assert 0 < mask5.sum() < mask5.size
    h5 = np.maximum(f5["W"] @ _features(net["layers"][2]["a"]) + f5["b"], 0)
    np.testing.assert_allclose(f5["h"], h5, rtol=1e-15, atol=0)
    assert np.array_equal(f5["a"], f5["h"] * mask5)
    np.testing.assert_allclose(f4["h"], np.tanh(f4["W"] @ f5["a"] + f4["b"]), rtol=1e-15)
    assert np.array_equal(f4["a"], f4["h"] * mask4)


def test_cnntrain_draws_the_masks_after_each_permutation():
    net, rng = make(DROP)
    draws = twin(rng)
    dlt.cnntrain(net, *data(), dict(OPTS), rng)
    draws.randperm(8)
    draws.rand(5, 4), draws.rand(4, 4)  # the first batch's
    last = draws.rand(5, 4) > 0.4, draws.rand(4, 4) > 0.25
    assert identical(rng.get_state(), draws.get_state())
    assert np.array_equal(net["layers"][3]["mask"], last[0])
    assert np.array_equal(net["layers"][4]["mask"], last[1])


def test_other_passes_scale_by_one_minus_q():
    net, rng = trained(DROP)
    x, y = data()
    state = rng.get_state()
    dlt.cnnff(net, x)
    f5, f4 = net["layers"][3], net["layers"][4]
    assert "mask" not in f5 and "mask" not in f4
    h5 = np.maximum(f5["W"] @ _features(net["layers"][2]["a"]) + f5["b"], 0)
    np.testing.assert_allclose(f5["h"], h5, rtol=1e-15, atol=0)
    assert np.array_equal(f5["a"], f5["h"] * (1 - 0.4))
    assert np.array_equal(f4["a"], f4["h"] * (1 - 0.25))
    labels, o = dlt.cnnpredict(net, x)
    assert np.array_equal(o, net["o"]) and identical(rng.get_state(), state)
    er, _ = dlt.cnntest(net, x, y)
    assert er == np.mean(labels != np.argmax(y, axis=0))


def test_a_run_is_reproducible_from_its_seed():
    a, _ = trained(ALL, seed=7)
    b, _ = trained(ALL, seed=7)
    c, _ = trained(ALL, seed=8)
    assert identical(a, b)
    assert not np.array_equal(a["ffW"], c["ffW"])


def test_resumed_after_epoch_one_ends_as_an_uninterrupted_run(tmp_path):
    x, y = data()
    path = tmp_path / "ckpt.npz"
    whole, rng = make(ALL, seed=4)
    dlt.cnntrain(whole, x, y, dict(OPTS, numepochs=2), rng)
    first, rng1 = make(ALL, seed=4)
    dlt.cnntrain(first, x, y, dict(OPTS, checkpoint=path), rng1)
    assert not np.array_equal(first["layers"][7]["mask"], whole["layers"][7]["mask"])
    resumed, rng2 = make(ALL, seed=99)  # its weights and stream come from the checkpoint
    dlt.cnntrain(resumed, x, y, dict(OPTS, numepochs=2, checkpoint=path, resume=True), rng2)
    assert_same(resumed, whole)
    assert identical(rng2.get_state(), rng.get_state())


# --------------------------------------------------------------------------- initial weights

#: (input maps, or features for 'f') of each layer of ALL after the input, and the output's
IN_ALL = {1: 1, 2: 6, 3: 6, 6: 16, 7: 8 * 2 * 2, 8: 6, 9: 5, "output": 4}


def _uniform(draws: dlt.OctaveRandom, shape: tuple, fan_in: float, fan_out: float) -> np.ndarray:
    return (draws.rand(*shape) - 0.5) * 2 * math.sqrt(6 / (fan_in + fan_out))


def test_initial_weights_are_drawn_in_layer_order():
    net, rng = make(ALL, seed=2)
    draws = dlt.OctaveRandom(2)
    for l, inmaps in IN_ALL.items():
        if l == "output":
            np.testing.assert_array_equal(net["ffW"], _uniform(draws, (3, inmaps), inmaps, 3))
            continue
        layer = net["layers"][l]
        if layer["type"] == "f":  # W (outputs, features), bound sqrt(6 / (features + outputs))
            n = layer["outputs"]
            np.testing.assert_array_equal(layer["W"], _uniform(draws, (n, inmaps), inmaps, n))
            assert_same(layer["b"], np.zeros((n, 1)))
            continue
        maps, ks = layer["outputmaps"], layer["kernelsize"]
        table = layer.get("connections", np.ones((inmaps, maps), bool))
        links = table.sum()  # fan-in and fan-out count the connections
        fans = links / maps * ks**2, links / inmaps * ks**2
        for j in range(maps):
            for i in range(inmaps):
                k = _uniform(draws, (ks,), *fans) if table[i, j] else np.zeros((ks, ks))
                np.testing.assert_array_equal(layer["k"][i][j], k)
    assert identical(rng.get_state(), draws.get_state())  # nothing else was drawn
