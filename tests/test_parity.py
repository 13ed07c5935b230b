"""Parity with the original toolbox run under Octave (../shared/reference), on every engine."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REFERENCE, need
from refcases import kgrid, layers_of, load_case, scalar, set_params

import dltoolbox as dlt
from dltoolbox.engines import ENGINES

STEP_CASES = [
    "a_gradcheck_net",
    "b_mnist50_6c12c",
    "c_nonsquare_22x18_k3",
    "d_last_conv",
    "e_scale3",
    "j_one_map_scale4_to_1x1",
]
ENGINE_NAMES = sorted(ENGINES)


def case(name: str) -> dict:
    return load_case(need(REFERENCE / f"{name}.mat"))


def rel_diff(got, ref) -> float:
    """max |got - ref| / max(1, max |ref|), after checking the shapes agree."""
    got, ref = np.asarray(got, dtype=float), np.asarray(ref, dtype=float)
    if got.shape != ref.shape:
        # Octave drops trailing singleton dimensions (a batch of one, a 1 x 1 map stack)
        assert got.size == ref.size and np.squeeze(got).shape == np.squeeze(ref).shape, (
            f"shape {got.shape} vs reference {ref.shape}"
        )
        got = got.reshape(ref.shape)
    return float(np.max(np.abs(got - ref))) / max(1.0, float(np.max(np.abs(ref))))


def assert_close(got, ref, tol: float, what: str) -> None:
    d = rel_diff(got, ref)
    assert d <= tol, f"{what}: relative difference {d:.3e} > {tol:g}"


def assert_params(net: dict, ref: dict, tol: float, stage: str) -> None:
    for l, r in enumerate(ref["layers"]):
        if r["type"] != "c":
            continue
        for i, row in enumerate(kgrid(r["k"])):
            for j, k in enumerate(row):
                assert_close(
                    net["layers"][l]["k"][i][j], k, tol, f"{stage} layers[{l}].k[{i}][{j}]"
                )
        for j, b in enumerate(r["b"]):
            assert_close(net["layers"][l]["b"][j], b, tol, f"{stage} layers[{l}].b[{j}]")
    assert_close(net["ffW"], ref["ffW"], tol, f"{stage} ffW")
    assert_close(net["ffb"], ref["ffb"], tol, f"{stage} ffb")


def assert_fields(net: dict, ref: dict, tol: float, stage: str) -> None:
    """Every array Octave recorded at this stage: per layer a, d, dk, db; then fv, o, e, L, ..."""
    for l, r in enumerate(ref["layers"]):
        layer = net["layers"][l]
        for key in ("a", "d", "db"):
            for j, v in enumerate(r.get(key, [])):
                assert_close(layer[key][j], v, tol, f"{stage} layers[{l}].{key}[{j}]")
        for i, row in enumerate(kgrid(r.get("dk", []))):
            for j, v in enumerate(row):
                assert_close(layer["dk"][i][j], v, tol, f"{stage} layers[{l}].dk[{i}][{j}]")
    for key in ("fv", "o", "e", "L", "od", "fvd", "dffW", "dffb"):
        if key in ref:
            assert_close(net[key], ref[key], tol, f"{stage} {key}")


def setup_from(c: dict, engine: str) -> dict:
    x, y = np.asarray(c["x"], dtype=float), np.asarray(c["y"], dtype=float)
    net = dlt.cnnsetup({"layers": layers_of(c), "engine": engine}, x, y, rng=0)
    return set_params(net, c["net_setup"])


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("name", STEP_CASES)
def test_step_case(name: str, engine: str) -> None:
    c = case(name)
    x, y = np.asarray(c["x"], dtype=float), np.asarray(c["y"], dtype=float)
    net = setup_from(c, engine)
    dlt.cnnff(net, x)
    assert_fields(net, c["net_ff"], 1e-12, "cnnff")
    dlt.cnnbp(net, y)
    assert_fields(net, c["net_bp"], 1e-12, "cnnbp")
    assert isinstance(net["L"], float)
    dlt.cnnapplygrads(net, {"alpha": scalar(c["alpha"])})
    assert_params(net, c["net_grad"], 1e-12, "cnnapplygrads")


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_batch_of_one_matches_the_same_sample_twice(engine: str) -> None:
    """The toolbox fails on a batch of one; ours must equal the batch of two identical samples."""
    c = case("f_batch1")
    dup = c["dup2"]
    x, y = np.asarray(c["x"], dtype=float), np.asarray(c["y"], dtype=float)
    assert x.ndim == 2  # one sample, as Octave stored it
    net = setup_from(c, engine)
    dlt.cnnff(net, x)
    for l, r in enumerate(dup["net_ff"]["layers"]):
        for j, a in enumerate(r["a"]):
            assert net["layers"][l]["a"][j].shape[2] == 1
            assert_close(net["layers"][l]["a"][j][:, :, 0], np.asarray(a)[:, :, 0], 1e-12, "a")
    assert_close(net["o"][:, 0], np.asarray(dup["net_ff"]["o"])[:, 0], 1e-12, "o")
    dlt.cnnbp(net, y)
    ref = dup["net_bp"]
    assert_close(net["L"], ref["L"], 1e-12, "L")  # the mean loss of two equal samples
    for key in ("e", "od", "fvd"):
        assert_close(net[key][:, 0], np.asarray(ref[key])[:, 0], 1e-12, key)
    for key in ("dffW", "dffb"):
        assert_close(net[key], ref[key], 1e-12, key)
    for l, r in enumerate(ref["layers"]):
        for i, row in enumerate(kgrid(r.get("dk", []))):
            for j, v in enumerate(row):
                assert_close(net["layers"][l]["dk"][i][j], v, 1e-12, f"layers[{l}].dk[{i}][{j}]")
        for j, v in enumerate(r.get("db", [])):
            assert_close(net["layers"][l]["db"][j], v, 1e-12, f"layers[{l}].db[{j}]")
    dlt.cnnapplygrads(net, {"alpha": scalar(c["alpha"])})
    assert_params(net, dup["net_grad"], 1e-12, "cnnapplygrads")


class Replay:
    """A random stream that hands out recorded permutations (Octave's kk, made 0-based)."""

    def __init__(self, kk: np.ndarray) -> None:
        self.rows = [np.asarray(row, dtype=np.int64) - 1 for row in np.atleast_2d(kk)]

    def rand(self, *dims: int) -> np.ndarray:
        raise AssertionError("the replay stream only serves randperm")

    def randperm(self, n: int) -> np.ndarray:
        row = self.rows.pop(0)
        assert len(row) == n
        return row


def train_case() -> tuple[dict, np.ndarray, np.ndarray, dict]:
    c = case("g_train_mnist500")
    x, y = np.asarray(c["x"], dtype=float), np.asarray(c["y"], dtype=float)
    o = c["opts"]
    opts = {
        "alpha": scalar(o["alpha"]),
        "batchsize": int(scalar(o["batchsize"])),
        "numepochs": int(scalar(o["numepochs"])),
    }
    return c, x, y, opts


def assert_trained(net: dict, c: dict) -> None:
    assert net["rL"].ndim == 1 and net["rL"].shape == (np.size(c["rL"]),)
    assert_close(net["rL"], np.ravel(c["rL"]), 1e-10, "rL")
    assert_params(net, c["net_trained"], 1e-10, "cnntrain")


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_train_replayed_with_recorded_permutations(engine: str) -> None:
    c, x, y, opts = train_case()
    net = dlt.cnnsetup({"layers": layers_of(c), "engine": engine}, x, y, rng=0)
    set_params(net, c["net_setup"])
    dlt.cnntrain(net, x, y, dict(opts, numepochs=1), rng=Replay(c["kk"][:1]))
    assert_params(net, c["net_after_epoch"][0], 1e-10, "after epoch 1")
    dlt.cnntrain(net, x, y, dict(opts, numepochs=opts["numepochs"] - 1), rng=Replay(c["kk"][1:]))
    assert_params(net, c["net_trained"], 1e-10, "after all epochs")


def test_train_from_the_seed_alone() -> None:
    """One OctaveRandom through cnnsetup then cnntrain consumes the stream as Octave does."""
    c, x, y, opts = train_case()
    rng = dlt.OctaveRandom(scalar(c["seed"]))
    net = dlt.cnnsetup({"layers": layers_of(c)}, x, y, rng)
    assert_params(net, c["net_setup"], 0.0, "cnnsetup")
    dlt.cnntrain(net, x, y, opts, rng)
    assert_trained(net, c)
    assert net["rL"][0] == pytest.approx(scalar(c["first_batch_L"]), rel=1e-12)


def test_randperm_reproduces_the_recorded_epochs() -> None:
    c = case("g_train_mnist500")
    rng = dlt.OctaveRandom(scalar(c["seed"]))
    dlt.cnnsetup({"layers": layers_of(c)}, np.asarray(c["x"]), np.asarray(c["y"]), rng)
    for row in np.atleast_2d(c["kk"]):
        np.testing.assert_array_equal(rng.randperm(row.size), row.astype(np.int64) - 1)


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_cnntest_case(engine: str) -> None:
    c = case("h_train_mnist500_cnntest")
    x, y = np.asarray(c["x"], dtype=float), np.asarray(c["y"], dtype=float)
    net = dlt.cnnsetup({"layers": layers_of(c), "engine": engine}, x, y, rng=0)
    set_params(net, c["net"])
    er, bad = dlt.cnntest(net, x, y)
    assert er == scalar(c["er"])
    np.testing.assert_array_equal(bad, np.ravel(c["bad"]).astype(np.int64) - 1)
    assert "o" not in net  # cnntest leaves the caller's net as it was


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_conv_after_conv_runs_forward_as_the_toolbox_and_back_where_it_cannot(engine) -> None:
    """The toolbox's cnnbp fails on i-1c3-2c3 ('no member scale'); its cnnff works. Ours gives
    its forward pass, and a backward pass that the numerical gradient check confirms."""
    c = case("i_two_conv_in_a_row")
    assert c["error_stage"] == "cnnbp"
    x, y = np.asarray(c["x"], dtype=float), np.asarray(c["y"], dtype=float)
    net = setup_from(c, engine)
    dlt.cnnff(net, x)
    assert_fields(net, c["net_ff"], 1e-12, "cnnff")
    dlt.cnnnumgradcheck(dlt.cnnbp(net, y), x, y)
