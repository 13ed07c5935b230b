"""Nets between GNU Octave and dltoolbox, with Octave itself.

Needs ``octave-cli`` (or ``octave``) on PATH; the tests that run the ORIGINAL toolbox also need
``DLT_DIR``, a DeepLearnToolbox checkout (its ``CNN/`` and ``util/`` folders). Each test skips
with the reason when what it needs is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from test_layer_kinds import assert_same as assert_same_fields
from test_layer_kinds import trained
from test_netio import assert_same, make_net

import dltoolbox as dlt
from dltoolbox.layers.conv import LENET5_C3

OCTAVE = shutil.which("octave-cli") or shutil.which("octave")


def octave(code: str, cwd: Path) -> str:
    """Run ``code`` in Octave (in folder ``cwd``); its stdout. Fails the test on an error."""
    if OCTAVE is None:
        pytest.skip(
            "Octave is not installed (no octave-cli or octave on PATH): apt-get install octave"
        )
    done = subprocess.run(
        [OCTAVE, "--no-gui", "--norc", "--quiet", "--eval", code],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, f"Octave failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def toolbox_dir() -> Path:
    folder = os.environ.get("DLT_DIR")
    if not folder:
        pytest.skip(
            "DLT_DIR is not set: point it at a DeepLearnToolbox checkout (with CNN/ and util/) "
            "to run the original toolbox under Octave"
        )
    if not (Path(folder) / "CNN" / "cnnff.m").is_file():
        pytest.skip(f"DLT_DIR={folder} has no CNN/cnnff.m: not a DeepLearnToolbox checkout")
    return Path(folder)


# ----------------------------------------------------------------------------- Octave only


@pytest.mark.parametrize("batch", [4, 1])
def test_octave_loads_our_mat_and_writes_it_back(tmp_path, batch):
    net = make_net(batch)
    dlt.save_net(tmp_path / "ours.mat", net)
    out = octave(
        """
        load ours.mat
        assert(isstruct(cnn) && iscell(cnn.layers) && isequal(size(cnn.layers), [5 1]));
        c = cnn.layers{4};
        assert(strcmp(c.type, 'c') && isa(c.outputmaps, 'double') && c.outputmaps == 2);
        assert(iscell(c.k) && isequal(size(c.k), [1 3]) && isequal(size(c.k{3}), [1 2]));
        assert(isequal(size(c.k{3}{2}), [3 3]) && iscell(c.b) && isequal(size(c.b), [1 2]));
        assert(isequal(size(cnn.ffb), [3 1]) && isequal(size(cnn.rL), [1 3]));
        printf('%.17g\\n', c.k{3}{2}(2, 3), c.b{2}, cnn.ffW(3, 7), cnn.L);
        printf('%d\\n', size(cnn.layers{2}.a{1}, 3));
        save -v7 back7.mat cnn
        save -mat back6.mat cnn
        """,
        tmp_path,
    )
    k, b, w, loss, b3 = (float(v) for v in out.split())
    assert k == net["layers"][3]["k"][2][1][1, 2] and b == net["layers"][3]["b"][1]
    assert w == net["ffW"][2, 6] and loss == net["L"] and b3 == batch
    for name in ("back7.mat", "back6.mat"):  # batch 1: Octave drops the axis, load_net restores it
        assert_same(dlt.load_net(tmp_path / name), net)


def test_a_net_written_by_octave_loads(tmp_path):
    out = octave(
        """
        rand('state', 3);
        cnn.layers = {struct('type', 'i'); struct('type', 'c', 'outputmaps', 2, 'kernelsize', 3);
                      struct('type', 's', 'scale', 2)};
        cnn.layers{2}.k = {{rand(3), rand(3)}};
        cnn.layers{2}.b = {0.25, -0.5};
        cnn.layers{3}.b = {0, 0};
        cnn.ffW = rand(4, 18);
        cnn.ffb = zeros(4, 1);
        cnn.layers{1}.a = {rand(8, 8)};
        cnn.o = rand(4, 1);
        cnn.rL = [];
        opts.alpha = 1;
        printf('%.17g\\n', cnn.layers{2}.k{1}{2}(3, 1), cnn.ffW(4, 18), cnn.layers{1}.a{1}(8, 2));
        save -v7 octave7.mat cnn opts
        save -mat octave6.mat cnn
        save text.txt cnn
        save -hdf5 net.h5 cnn
        """,
        tmp_path,
    )
    k, w, a = (float(v) for v in out.split())
    for name in ("octave7.mat", "octave6.mat"):
        net = dlt.load_net(tmp_path / name)
        assert [layer["type"] for layer in net["layers"]] == ["i", "c", "s"]
        assert net["layers"][1]["outputmaps"] == 2 and net["layers"][1]["b"] == [0.25, -0.5]
        assert net["layers"][1]["k"][0][1][2, 0] == k and net["ffW"][3, 17] == w
        assert (
            net["layers"][0]["a"][0].shape == (8, 8, 1) and net["layers"][0]["a"][0][7, 1, 0] == a
        )
        assert net["rL"].shape == (0,) and net["ffb"].shape == (4, 1)
    with pytest.raises(ValueError, match="Octave's text format"):
        dlt.load_net(tmp_path / "text.txt")
    with pytest.raises(ValueError, match="HDF5"):
        dlt.load_net(tmp_path / "net.h5")


def test_octave_reads_the_new_layer_fields(tmp_path):
    """Padding ('same' and a number), stride, remainder, a connection table and 'f' layers, as
    Octave sees them; Octave's own save of them loads back to the same net."""
    net, _ = trained()  # test_layer_kinds.ALL after two batches: velocities and masks
    dlt.save_net(tmp_path / "kinds.mat", net)
    out = octave(
        r"""
        load kinds.mat
        c = cnn.layers{2};
        assert(ischar(c.padding) && isa(c.stride, 'double') && strcmp(c.activation, 'relu'));
        d = cnn.layers{7};
        assert(isa(d.padding, 'double') && ischar(d.remainder));
        t = cnn.layers{4}.connections;
        assert(islogical(t) && isequal(size(t), [6 16]));
        f = cnn.layers{8};
        assert(strcmp(f.type, 'f') && isa(f.W, 'double') && isa(f.outputs, 'double'));
        printf('%s\n', c.padding, d.remainder, f.activation, cnn.output);
        printf('%d\n', c.stride, d.padding, d.stride, f.outputs, size(f.W), size(f.mask));
        printf('%s\n', sprintf('%d', double(t)));
        printf('%.17g\n', f.dropout, f.W(2, 3), f.vW(6, 32), cnn.layers{10}.b(4));
        save -v7 back7.mat cnn
        """,
        tmp_path,
    )
    words = out.split()
    assert words[:4] == ["same", "drop", "tanh", "softmax"]
    assert [int(w) for w in words[4:12]] == [2, 2, 3, 6, 6, 32, 6, 4]
    assert words[12] == "".join(str(int(v)) for v in LENET5_C3.ravel(order="F"))  # column-major
    fc = net["layers"][7]
    want = [0.5, fc["W"][1, 2], fc["vW"][5, 31], net["layers"][9]["b"][3, 0]]
    assert [float(w) for w in words[13:]] == want
    assert_same_fields(dlt.load_net(tmp_path / "back7.mat"), net)


# ----------------------------------------------------------------------------- the original toolbox


def test_original_toolbox_runs_our_saved_net(tmp_path):
    folder = toolbox_dir()
    rng = dlt.OctaveRandom(0)
    x, labels = rng.rand(28, 28, 30), np.arange(30) % 10
    y = np.zeros((10, 30))
    y[labels, np.arange(30)] = 1
    layers = [{"type": "i"}, {"type": "c", "outputmaps": 6, "kernelsize": 5},
              {"type": "s", "scale": 2}, {"type": "c", "outputmaps": 12, "kernelsize": 5},
              {"type": "s", "scale": 2}]  # fmt: skip
    net = dlt.cnnsetup({"layers": layers}, x, y, rng)
    dlt.cnntrain(net, x, y, {"alpha": 1, "batchsize": 10, "numepochs": 2}, rng)
    dlt.save_net(tmp_path / "trained.mat", net, activations=False)
    scipy.io.savemat(tmp_path / "data.mat", {"x": x, "y": y})
    octave(
        f"""
        addpath('{folder / "CNN"}', '{folder / "util"}');
        load trained.mat
        load data.mat
        [er, bad] = cnntest(cnn, x, y);
        cnn = cnnff(cnn, x);
        cnn = cnnbp(cnn, y);
        o = cnn.o;
        save -v7 octave_out.mat o er bad cnn
        """,
        tmp_path,
    )
    er, bad = dlt.cnntest(net, x, y)
    dlt.cnnbp(dlt.cnnff(net, x), y)
    out = scipy.io.loadmat(tmp_path / "octave_out.mat")
    o_rel = np.abs(net["o"] - out["o"]).max() / max(1.0, np.abs(out["o"]).max())
    assert o_rel <= 1e-12, o_rel
    assert er == out["er"][0, 0] and list(bad) == list(out["bad"].ravel() - 1)
    rows = dlt.compare_nets(net, tmp_path / "octave_out.mat:cnn")
    assert [r["field"] for r in rows if r["note"]] == []
    assert max(r["max_rel"] for r in rows) <= 1e-12, dlt.netio.comparison_table(rows)
