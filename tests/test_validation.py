"""Bad input gets a clear error naming the argument; the toolbox's own checks are kept."""

from __future__ import annotations

import numpy as np
import pytest

import dltoolbox as dlt

LAYERS = [{"type": "i"}, {"type": "c", "outputmaps": 2, "kernelsize": 3}, {"type": "s", "scale": 2}]


def layers(*changes: tuple[int, dict]) -> list[dict]:
    out = [dict(layer) for layer in LAYERS]
    for index, change in changes:
        out[index].update(change)
    return out


@pytest.fixture
def data():
    rng = dlt.OctaveRandom(1)
    return rng.rand(8, 8, 4), rng.rand(3, 4)


@pytest.fixture
def net(data):
    x, y = data
    return dlt.cnnsetup({"layers": layers()}, x, y, rng=1)


@pytest.mark.parametrize(
    "x, err, match",
    [
        (np.zeros((8,)), ValueError, r"x: expected a 2-D or 3-D array, got shape \(8,\)"),
        (np.zeros((8, 8, 2, 2, 2)), ValueError, "x: expected a 2-D or 3-D"),  # 4-D: channels
        (np.array([["a"]]), TypeError, "x: expected a real numeric array"),
        ("not an array", TypeError, "x: expected a real numeric array"),
        (np.full((8, 8, 4), np.nan), ValueError, "x: expected finite values"),
        (np.full((8, 8, 4), np.inf), ValueError, "x: expected finite values"),
    ],
)
def test_bad_x(net, data, x, err, match) -> None:
    with pytest.raises(err, match=match):
        dlt.cnnsetup({"layers": layers()}, x, data[1])
    with pytest.raises(err, match=match):
        dlt.cnnff(net, x)


@pytest.mark.parametrize(
    "y, match",
    [
        (np.zeros(4), r"y: expected a 2-D array, got shape \(4,\)"),
        (np.zeros((3, 5)), r"y: expected 4 columns .* got shape \(3, 5\)"),
        (np.full((3, 4), np.nan), "y: expected finite values"),
    ],
)
def test_bad_y(net, data, y, match) -> None:
    with pytest.raises(ValueError, match=match):
        dlt.cnnsetup({"layers": layers()}, data[0], y)
    dlt.cnnff(net, data[0])
    with pytest.raises(ValueError, match=match):
        dlt.cnnbp(net, y)


def test_y_rows_must_match_the_net(net, data) -> None:
    dlt.cnnff(net, data[0])
    with pytest.raises(ValueError, match=r"y: expected 3 rows .* got shape \(5, 4\)"):
        dlt.cnnbp(net, np.zeros((5, 4)))
    with pytest.raises(ValueError, match="y: expected 3 rows"):
        dlt.cnntest(net, data[0], np.zeros((5, 4)))


@pytest.mark.parametrize(
    "net_layers, err, match",
    [
        (
            [{"type": "c", "outputmaps": 2, "kernelsize": 3}],
            ValueError,
            "first layer must have type 'i'",
        ),
        (layers((2, {"type": "x"})), ValueError, r"\[2\]: expected type 'c', 's' or 'f', got 'x'"),
        ([{"type": "i"}, {"type": "c", "kernelsize": 3}], ValueError, "needs key 'outputmaps'"),
        ([{"type": "i"}, {"outputmaps": 2}], ValueError, r'\[1\]: missing key "type"'),
        ([{"type": "i"}, {"type": "s"}], ValueError, "needs key 'scale'"),
        (
            layers((1, {"kernelsize": 0})),
            ValueError,
            r'\["kernelsize"\]: expected a positive integer',
        ),
        (
            layers((1, {"kernelsize": 2.5})),
            ValueError,
            r'\["kernelsize"\]: expected a positive integer',
        ),
        (layers((1, {"outputmaps": -1})), ValueError, r'\["outputmaps"\]: expected a positive'),
        (layers((1, {"outputmaps": "6"})), TypeError, r'\["outputmaps"\]: expected a positive'),
        (layers((2, {"scale": 0})), ValueError, r'\["scale"\]: expected a positive integer'),
        (layers((2, {"scale": 1.5})), ValueError, r'\["scale"\]: expected a positive integer'),
        (
            layers((1, {"kernelsize": 9})),
            ValueError,
            r'kernelsize"\]: expected at most the input map',
        ),
        (layers((2, {"scale": 4})), ValueError, "Layer 2 size must be integer. Actual: 1.5"),
        (
            layers() + [{"type": "f", "outputs": 3}, {"type": "s", "scale": 1}],
            ValueError,
            r"\[4\]: a subsampling layer \('s'\) after a fully connected layer",
        ),
        ([], TypeError, 'net\\["layers"\\]: expected a non-empty list'),
        (["i"], TypeError, r"\[0\]: expected a dict"),
    ],
)
def test_bad_layers(data, net_layers, err, match) -> None:
    with pytest.raises(err, match=match):
        dlt.cnnsetup({"layers": net_layers}, *data)


def test_net_must_be_a_dict_with_layers(data) -> None:
    with pytest.raises(TypeError, match="net: expected a dict"):
        dlt.cnnsetup([], *data)
    with pytest.raises(ValueError, match='net: expected a "layers" key'):
        dlt.cnnsetup({}, *data)


def test_subsampling_right_after_input_works(data) -> None:
    x, y = data
    net = dlt.cnnsetup(
        {
            "layers": [
                {"type": "i"},
                {"type": "s", "scale": 2},
                {"type": "c", "outputmaps": 2, "kernelsize": 3},
            ]
        },
        x,
        y,
        rng=0,
    )
    dlt.cnnbp(dlt.cnnff(net, x), y)
    assert net["layers"][1]["b"] == [0.0]
    assert net["layers"][2]["dk"][0][1].shape == (3, 3)
    dlt.cnnnumgradcheck(net, x, y)


def test_net_used_before_setup(data) -> None:
    x, y = data
    for call in (
        lambda n: dlt.cnnff(n, x),
        lambda n: dlt.cnntest(n, x, y),
        lambda n: dlt.cnntrain(n, x, y, {"alpha": 1, "batchsize": 2, "numepochs": 1}),
    ):
        with pytest.raises(ValueError, match="not set up .* call cnnsetup"):
            call({"layers": layers()})


def test_calls_out_of_order(net, data) -> None:
    with pytest.raises(ValueError, match="cnnbp needs .* call cnnff first"):
        dlt.cnnbp(net, data[1])
    with pytest.raises(ValueError, match="call cnnbp first"):
        dlt.cnnapplygrads(net, {"alpha": 1})


def test_x_of_another_size_than_set_up(net) -> None:
    with pytest.raises(ValueError, match="x: .* does not match the size the net was set up for"):
        dlt.cnnff(net, np.zeros((10, 10, 2)))


@pytest.mark.parametrize("alpha", [0, -1, np.nan, np.inf, "1", None, True])
def test_bad_alpha(net, data, alpha) -> None:
    dlt.cnnbp(dlt.cnnff(net, data[0]), data[1])
    with pytest.raises(
        (ValueError, TypeError), match=r'opts\["alpha"\]: expected a positive finite'
    ):
        dlt.cnnapplygrads(net, {"alpha": alpha})
    with pytest.raises((ValueError, TypeError), match=r'opts\["alpha"\]'):
        dlt.cnntrain(net, *data, {"alpha": alpha, "batchsize": 2, "numepochs": 1})


def test_missing_alpha(net) -> None:
    with pytest.raises(ValueError, match='opts: expected a dict with key "alpha"'):
        dlt.cnnapplygrads(dict(net, dffW=0, dffb=0), {})


def test_batchsize_must_divide_the_sample_count(net, data) -> None:
    with pytest.raises(ValueError, match=r'batchsize"\]: expected a divisor of the sample count 4'):
        dlt.cnntrain(net, *data, {"alpha": 1, "batchsize": 3, "numepochs": 1})
    with pytest.raises(ValueError, match=r'batchsize"\]: expected a positive integer'):
        dlt.cnntrain(net, *data, {"alpha": 1, "batchsize": 0, "numepochs": 1})
    with pytest.raises(ValueError, match=r'numepochs"\]: expected a non-negative integer'):
        dlt.cnntrain(net, *data, {"alpha": 1, "batchsize": 2, "numepochs": -1})
    with pytest.raises(ValueError, match="opts: missing key 'numepochs'"):
        dlt.cnntrain(net, *data, {"alpha": 1, "batchsize": 2})


def test_bad_rng(data) -> None:
    with pytest.raises(TypeError, match="rng: expected None, an int seed"):
        dlt.cnnsetup({"layers": layers()}, *data, rng="seed")


def test_rng_none_and_int(data) -> None:
    a = dlt.cnnsetup({"layers": layers()}, *data, rng=None)
    b = dlt.cnnsetup({"layers": layers()}, *data, rng=None)
    assert not np.array_equal(a["ffW"], b["ffW"])  # fresh OS-seeded streams
    c = dlt.cnnsetup({"layers": layers()}, *data, rng=7)
    d = dlt.cnnsetup({"layers": layers()}, *data, rng=dlt.OctaveRandom(7))
    np.testing.assert_array_equal(c["ffW"], d["ffW"])
