"""save_net / load_net / compare_nets: exact round trips, the Octave reference files, bad files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import scipy.io
from conftest import REFERENCE, need

import dltoolbox as dlt
from dltoolbox.fileutil import write_atomically
from dltoolbox.netio import comparison_table

STEP_CASES = ["a_gradcheck_net", "b_mnist50_6c12c", "c_nonsquare_22x18_k3", "d_last_conv",
              "e_scale3", "j_one_map_scale4_to_1x1"]  # fmt: skip
LAYERS = [{"type": "i"}, {"type": "c", "outputmaps": 3, "kernelsize": 3}, {"type": "s", "scale": 2},
          {"type": "c", "outputmaps": 2, "kernelsize": 3}, {"type": "s", "scale": 2}]  # fmt: skip


def make_net(batch: int = 4, dtype=np.float64, trained: bool = True) -> dict:
    """A small net after cnnsetup, cnnff and cnnbp (and a short cnntrain for rL)."""
    rng = dlt.OctaveRandom(5)
    x, y = rng.rand(14, 14, 8), rng.rand(3, 8)
    net = dlt.cnnsetup({"layers": [dict(layer) for layer in LAYERS]}, x, y, rng)
    if trained:
        dlt.cnntrain(net, x, y, {"alpha": 1, "batchsize": 4, "numepochs": 1}, rng)
    dlt.cnnff(net, x[:, :, :batch])
    dlt.cnnbp(net, y[:, :batch])
    if dtype != np.float64:
        net["ffW"] = net["ffW"].astype(dtype)
        net["layers"][1]["k"] = [[k.astype(dtype) for k in row] for row in net["layers"][1]["k"]]
        net["layers"][1]["b"] = [dtype(b) for b in net["layers"][1]["b"]]
    return net


def assert_same(got, want, where: str = "net", key_order: bool = True) -> None:
    """Equal values, types, dtypes and shapes, all the way down; dict keys in the same order
    unless ``key_order`` is False."""
    if isinstance(want, dict):
        keys = list(want)
        got_keys = list(got) if key_order else sorted(got)
        assert isinstance(got, dict) and got_keys == (keys if key_order else sorted(keys)), (
            f"{where}: keys differ"
        )
        for key in keys:
            assert_same(got[key], want[key], f"{where}[{key!r}]", key_order)
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: lists differ"
        for n, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}[{n}]", key_order)
    elif isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), f"{where}: {type(got)} is not an array"
        assert (got.dtype, got.shape) == (want.dtype, want.shape), f"{where}: dtype/shape"
        assert np.array_equal(got, want, equal_nan=True), f"{where}: values differ"
    else:
        assert type(got) is type(want) or (isinstance(want, float) and type(got) is float), (
            f"{where}: {type(got)} vs {type(want)}"
        )
        assert got == want, f"{where}: {got!r} != {want!r}"


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("ext", [".mat", ".npz"])
@pytest.mark.parametrize("batch", [4, 1])
def test_round_trip_is_exact(tmp_path, ext, batch):
    net = make_net(batch)
    net["engine"] = "reference"
    path = dlt.save_net(tmp_path / f"net{ext}", net)
    assert_same(dlt.load_net(path), net)
    assert all(r["max_abs"] == 0 and not r["note"] for r in dlt.compare_nets(path, net))


@pytest.mark.parametrize("ext", [".mat", ".npz"])
def test_round_trip_keeps_single_precision(tmp_path, ext):
    net = make_net(dtype=np.float32)
    back = dlt.load_net(dlt.save_net(tmp_path / f"net{ext}", net))
    assert_same(back, net)
    assert back["ffW"].dtype == np.float32 and type(back["layers"][1]["b"][0]) is np.float32


@pytest.mark.parametrize("ext", [".mat", ".npz"])
def test_parameters_only(tmp_path, ext):
    net = make_net()
    back = dlt.load_net(dlt.save_net(tmp_path / f"p{ext}", net, activations=False))
    assert sorted(back) == ["ffW", "ffb", "layers", "rL"]
    assert sorted(back["layers"][1]) == ["b", "k", "kernelsize", "outputmaps", "type"]
    dlt.cnnff(back, np.zeros((14, 14, 2)))  # still a usable net


def test_mat_layout_is_the_toolbox_struct(tmp_path):
    net = make_net()
    raw = scipy.io.loadmat(dlt.save_net(tmp_path / "n.mat", net, name="mynet"), squeeze_me=False)
    assert [k for k in raw if not k.startswith("__")] == ["mynet"]
    s = raw["mynet"][0, 0]
    assert s["layers"].shape == (5, 1) and s["layers"].dtype == object
    conv = s["layers"][3, 0][0, 0]
    assert conv["type"][0] == "c" and conv["outputmaps"][0, 0] == 2.0
    assert conv["k"].shape == (1, 3) and conv["k"][0, 2].shape == (1, 2)
    assert np.array_equal(conv["k"][0, 2][0, 1], net["layers"][3]["k"][2][1])
    assert conv["b"].shape == (1, 2) and conv["b"][0, 1].shape == (1, 1)
    assert s["ffb"].shape == (3, 1) and s["rL"].shape == (1, 3)


def test_writes_are_atomic(tmp_path):
    path = tmp_path / "n.npz"
    dlt.save_net(path, make_net())
    before = path.read_bytes()

    def broken(f):
        f.write(b"half a file")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomically(path, broken)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.npz"]


def test_save_rejects_bad_arguments(tmp_path):
    net = make_net()
    with pytest.raises(ValueError, match=r"\.mat or \.npz"):
        dlt.save_net(tmp_path / "n.txt", net)
    with pytest.raises(ValueError, match="MATLAB variable name"):
        dlt.save_net(tmp_path / "n.mat", net, name="2net")
    with pytest.raises(TypeError, match="net: expected a dict"):
        dlt.save_net(tmp_path / "n.mat", [net])
    with pytest.raises(TypeError, match=r'net\["ffW"\]'):
        dlt.save_net(tmp_path / "n.npz", dict(net, ffW="weights"))
    with pytest.warns(UserWarning, match="not toolbox net fields"):
        dlt.save_net(tmp_path / "n.npz", dict(net, history=[1, 2]))


# ----------------------------------------------------------------------------- the Octave files


def reference_variables() -> list[str]:
    """Every net in ../shared/reference as FILE.mat:SELECTOR."""
    out = []
    for path in sorted(REFERENCE.glob("*.mat")):
        for name, shape, cls in scipy.io.whosmat(path):
            if cls == "struct" and name.startswith("net"):
                out.append(f"{path}:{name}")
            elif name == "net_after_epoch":
                out += [f"{path}:{name}{{{n + 1}}}" for n in range(shape[0])]
            elif name == "dup2":
                out += [f"{path}:dup2.{v}" for v in ("net_ff", "net_bp", "net_grad")]
    return out


def test_every_reference_net_loads(reference_dir):
    selectors = reference_variables()
    assert len(selectors) >= 40
    for selector in selectors:
        net = dlt.load_net(selector)
        for layer in net["layers"][1:]:
            assert isinstance(layer["type"], str) and all(type(b) is float for b in layer["b"])
            if layer["type"] == "c":
                assert (
                    type(layer["outputmaps"]) is int and len(layer["k"][0]) == layer["outputmaps"]
                )
            for a in layer.get("a", []):
                assert a.ndim == 3 and a.shape[2] == net["o"].shape[1]
        assert net["ffb"].shape == (net["ffW"].shape[0], 1)
        assert isinstance(net.get("L", 0.0), float)


@pytest.mark.parametrize("name", STEP_CASES)
def test_step_cases_reproduce_net_bp(name):
    path = need(REFERENCE / f"{name}.mat")
    raw = scipy.io.loadmat(path, variable_names=["x", "y"])
    net = dlt.load_net(f"{path}:net_setup")
    dlt.cnnbp(dlt.cnnff(net, raw["x"]), raw["y"])
    rows = dlt.compare_nets(net, f"{path}:net_bp")
    assert [r["field"] for r in rows if r["note"]] == []
    assert len(rows) >= 20 and max(r["max_rel"] for r in rows) <= 1e-12, comparison_table(rows)


def test_batch_of_one_gets_its_batch_axis_back(tmp_path, reference_dir):
    # a net saved after a pass over one sample: Octave (and MATLAB) store (rows, cols, 1) as 2-D
    net = dlt.load_net(f"{reference_dir / 'f_batch1.mat'}:net_setup")
    x = scipy.io.loadmat(reference_dir / "f_batch1.mat", variable_names=["x"])["x"]
    assert x.shape == (28, 28)
    dlt.cnnff(net, x)
    struct = {"layers": np.empty((5, 1), dtype=object), "ffW": net["ffW"], "ffb": net["ffb"],
              "o": net["o"]}  # fmt: skip
    for l, layer in enumerate(net["layers"]):
        cells = np.empty((1, len(layer["a"])), dtype=object)
        for j, a in enumerate(layer["a"]):
            cells[0, j] = a[:, :, 0]
        struct["layers"][l, 0] = {"type": layer["type"], "a": cells}
    scipy.io.savemat(tmp_path / "octave_like.mat", {"cnn": struct})
    back = dlt.load_net(tmp_path / "octave_like.mat")
    for layer, want in zip(back["layers"], net["layers"]):
        assert [a.shape for a in layer["a"]] == [a.shape for a in want["a"]]
        assert all(np.array_equal(a, w) for a, w in zip(layer["a"], want["a"]))


def test_choosing_a_variable(reference_dir):
    path = reference_dir / "g_train_mnist500.mat"
    with pytest.raises(ValueError, match=r"several nets: \['net_after_first_batch', 'net_setup'"):
        dlt.load_net(path)
    assert len(dlt.load_net(path, "net_trained")["rL"]) == 51
    assert dlt.compare_nets(f"{path}:net_after_epoch{{5}}", dlt.load_net(path, "net_trained"))
    with pytest.raises(ValueError, match="no variable 'nope'"):
        dlt.load_net(f"{path}:nope")
    with pytest.raises(ValueError, match="not a net"):
        dlt.load_net(path, "opts")
    with pytest.raises(ValueError, match=r"no variable 'kk'|not a net"):
        dlt.load_net(path, "kk")
    with pytest.raises(ValueError, match=r"not a cell with an element \{6\}"):
        dlt.load_net(path, "net_after_epoch{6}")
    with pytest.raises(ValueError, match="conflicts"):
        dlt.load_net(f"{path}:net_setup", "net_trained")


# ----------------------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"# Created by Octave 7.3.0\n# name: cnn\n# type: scalar struct\n",
            "Octave's text format",
        ),
        (b"Octave-1-L\x00\x00", "Octave's own binary format"),
        (gzip.compress(b"Octave-1-L"), "gzip"),
        (b"\x89HDF\r\n\x1a\n" + bytes(600), "HDF5"),
        (b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(512) + b"\x89HDF\r\n\x1a\n", "-v7.3"),
        (b"this is not a mat file at all" * 10, "not a readable MATLAB .mat file"),
        (b"PK\x03\x04 truncated zip", "not a readable .npz"),
    ],
)
def test_unreadable_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "net.mat"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        dlt.load_net(path)


def test_files_without_a_net(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        dlt.load_net(tmp_path / "missing.mat")
    scipy.io.savemat(tmp_path / "plain.mat", {"x": np.ones(3), "opts": {"alpha": 1.0}})
    with pytest.raises(ValueError, match=r"no net .*struct variables: \['opts'\]"):
        dlt.load_net(tmp_path / "plain.mat")
    scipy.io.savemat(tmp_path / "bad.mat", {"cnn": {"layers": np.ones((2, 1)), "ffW": 1.0}})
    with pytest.raises(ValueError, match=r"bad.mat:cnn.layers: expected a cell"):
        dlt.load_net(tmp_path / "bad.mat")
    np.savez(tmp_path / "other.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="not a dltoolbox net"):
        dlt.load_net(tmp_path / "other.npz")
    np.savez(tmp_path / "pickled.npz", a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled"):
        dlt.load_net(tmp_path / "pickled.npz")


# ----------------------------------------------------------------------------- compare_nets


def test_compare_reports_differences_and_missing_fields(tmp_path):
    net = make_net()
    other = dlt.load_net(dlt.save_net(tmp_path / "n.npz", net))
    other["ffW"] = other["ffW"] + 0.5
    other["layers"][3]["k"][1][0] = other["layers"][3]["k"][1][0] * 3
    del other["o"]
    rows = {r["field"]: r for r in dlt.compare_nets(other, net)}
    scale = max(1.0, np.abs(net["ffW"]).max())
    assert rows["ffW"]["max_abs"] == pytest.approx(0.5) and rows["ffW"]["max_rel"] == 0.5 / scale
    k = net["layers"][3]["k"][1][0]
    assert rows["layers[3].k"]["max_abs"] == pytest.approx(2 * np.abs(k).max())
    assert rows["o"]["note"] == "only in b" and rows["o"]["max_rel"] is None
    assert rows["ffb"]["max_abs"] == 0 and rows["layers[1].a"]["shape"] == "3 of (12, 12, 4)"
    table = comparison_table(list(rows.values()), tol=1e-3)
    assert "ffW" in table and "ABOVE" in table and "only in b" in table
    small = dlt.save_net(tmp_path / "small.npz", make_net(batch=2))
    shapes = {r["field"]: r["note"] for r in dlt.compare_nets(small, net)}
    assert shapes["o"] == "shape differs: (3, 2) vs (3, 4)"


def test_compare_nets_with_other_layers():
    a, b = make_net(), make_net()
    b["layers"][1]["outputmaps"] = 4
    (row,) = dlt.compare_nets(a, b)
    assert row["note"] == "layers differ: i-3c3-2s-2c3-2s vs i-4c3-2s-2c3-2s"
    with pytest.raises(TypeError, match="a: expected a net dict or a path"):
        dlt.compare_nets(3, b)
