"""OctaveRandom against the streams recorded from Octave, and its seeding rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import REFERENCE, need
from refcases import layers_of, load_case, scalar

import dltoolbox as dlt
from dltoolbox.octave_random import _key_word

SYNTHETIC = [
    "a_gradcheck_net",
    "c_nonsquare_22x18_k3",
    "d_last_conv",
    "e_scale3",
    "f_batch1",
    "i_two_conv_in_a_row",
    "j_one_map_scale4_to_1x1",
]
ALL_SETUP = SYNTHETIC + ["b_mnist50_6c12c", "g_train_mnist500", "h_train_mnist500_cnntest"]


def draw_inputs(c: dict, rng: dlt.OctaveRandom) -> tuple[np.ndarray, np.ndarray]:
    """Replay the case's input recipe ('rand' or 'onehot') on ``rng``."""
    xshape = np.shape(c["x"]) if np.ndim(c["x"]) == 3 else np.shape(c["x"]) + (1,)
    x = rng.rand(*xshape)
    classes, n = np.shape(c["y"])
    if c["input_kind"] == "rand":
        return x, rng.rand(classes, n)
    assert c["input_kind"] == "onehot"
    labels = np.ceil(rng.rand(1, n) * classes).astype(int)[0] - 1
    y = np.zeros((classes, n))
    y[labels, np.arange(n)] = 1
    return x, y


@pytest.mark.parametrize("name", SYNTHETIC)
def test_inputs_and_setup_bit_for_bit(name: str) -> None:
    c = load_case(need(REFERENCE / f"{name}.mat"))
    rng = dlt.OctaveRandom(scalar(c["seed"]))
    x, y = draw_inputs(c, rng)
    np.testing.assert_array_equal(x.reshape(np.shape(c["x"])), c["x"])
    np.testing.assert_array_equal(y, c["y"])
    layers = layers_of(c)
    if name == "i_two_conv_in_a_row":  # rejected by our cnnsetup; draw as the toolbox did
        layers = [layers[0], layers[1], {"type": "s", "scale": 1}, layers[2]]
    net = dlt.cnnsetup({"layers": layers}, x, y, rng)
    if name == "i_two_conv_in_a_row":  # a scale-1 subsampling layer draws nothing: drop it again
        del net["layers"][2]
    assert_setup_equal(net, c["net_setup"])


@pytest.mark.parametrize(
    "name", ["b_mnist50_6c12c", "g_train_mnist500", "h_train_mnist500_cnntest"]
)
def test_mnist_setup_bit_for_bit(name: str) -> None:
    c = load_case(need(REFERENCE / f"{name}.mat"))
    x, y = np.asarray(c["x"], dtype=float), np.asarray(c["y"], dtype=float)
    net = dlt.cnnsetup({"layers": layers_of(c)}, x, y, dlt.OctaveRandom(scalar(c["seed"])))
    assert_setup_equal(net, c["net_setup"])


def assert_setup_equal(net: dict, ref: dict) -> None:
    for l, r in enumerate(ref["layers"]):
        if r["type"] == "c":
            for i, row in enumerate(r["k"]):
                for j, k in enumerate(row):
                    np.testing.assert_array_equal(net["layers"][l]["k"][i][j], k)
        if "b" in r:
            assert net["layers"][l]["b"] == [scalar(b) for b in r["b"]]
    np.testing.assert_array_equal(net["ffW"], ref["ffW"])
    np.testing.assert_array_equal(net["ffb"], ref["ffb"])


def test_generator_state_after_seeding_matches_octave() -> None:
    """The 624 MT19937 words of Octave's saved state after drawing the inputs equal ours."""
    c = load_case(need(REFERENCE / "a_gradcheck_net.mat"))
    rng = dlt.OctaveRandom(0)
    draw_inputs(c, rng)
    key = rng.get_state()[1]
    state = np.ravel(c["rand_state_before_setup"])
    assert state.size == 625
    np.testing.assert_array_equal(key.astype(np.uint64), state[:624].astype(np.uint64))


def test_list_seed_uses_init_by_array_not_init_genrand() -> None:
    ours = dlt.OctaveRandom(5).rand(1, 4)
    by_array = np.random.RandomState([5]).random_sample(4)
    by_genrand = np.random.RandomState(5).random_sample(4)
    np.testing.assert_array_equal(ours.ravel(), by_array)
    assert not np.array_equal(by_array, by_genrand)


@pytest.mark.parametrize(
    "value, word",
    [
        (0, 0),
        (2.5, 3),
        (2.4999, 2),
        (-2.5, 0),
        (-0.4, 0),
        (1e20, 2**32 - 1),
        (2**32 - 0.5, 2**32 - 1),
        (math.nan, 0),
        (math.inf, 0),
        (-math.inf, 0),
        (7, 7),
    ],
)
def test_seed_words_round_half_away_and_clamp(value: float, word: int) -> None:
    assert _key_word(value) == word


def test_vector_seed_and_equivalent_rounding() -> None:
    a = dlt.OctaveRandom([1, 2.6, 3]).rand(3)
    b = dlt.OctaveRandom([1, 3, 3]).rand(3)
    np.testing.assert_array_equal(a, b)
    assert dlt.OctaveRandom([1, 2, 3]).key == [1, 2, 3]


def test_rand_shapes_fill_column_major() -> None:
    flat = dlt.OctaveRandom(3).rand(1, 24).ravel()
    cube = dlt.OctaveRandom(3).rand(2, 3, 4)
    np.testing.assert_array_equal(cube, flat.reshape((2, 3, 4), order="F"))
    assert dlt.OctaveRandom(3).rand(4).shape == (4, 4)
    assert isinstance(dlt.OctaveRandom(3).rand(), float)


def test_randperm_algorithm() -> None:
    rng, twin = dlt.OctaveRandom(9), np.random.RandomState([9])
    perm = rng.randperm(10)
    r = twin.random_sample(10)
    idx = list(range(10))
    for i in range(10):
        k = i + int(math.floor(r[i] * (10 - i)))
        idx[i], idx[k] = idx[k], idx[i]
    assert perm.tolist() == idx
    assert sorted(perm.tolist()) == list(range(10))
    assert rng.randperm(0).size == 0


@pytest.mark.parametrize("bad", ["abc", [], None, [1j]])
def test_bad_seeds(bad) -> None:
    with pytest.raises(TypeError, match="seed"):
        dlt.OctaveRandom(bad)


def test_bad_dims() -> None:
    with pytest.raises(ValueError, match="dims"):
        dlt.OctaveRandom(0).rand(2.5)
    with pytest.raises(ValueError, match="n: "):
        dlt.OctaveRandom(0).randperm(-1)
