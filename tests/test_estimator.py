"""dltoolbox.CNNClassifier: scikit-learn's estimator checks, the toolbox's net bit for bit, the
layouts it reads, its batch-size rule, its probabilities, GridSearchCV and Pipeline."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import SHARED, need
from test_netio import assert_same

import dltoolbox as dlt
from dltoolbox.datasets import load_mnist

pytest.importorskip("sklearn", reason='scikit-learn is not installed: pip install ".[sklearn]"')

from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from dltoolbox import CNNClassifier  # noqa: E402

#: The layers of the toolbox's test_example_CNN, as the README writes them.
TOOLBOX_LAYERS = [
    {"type": "i"},
    {"type": "c", "outputmaps": 6, "kernelsize": 5},
    {"type": "s", "scale": 2},
    {"type": "c", "outputmaps": 12, "kernelsize": 5},
    {"type": "s", "scale": 2},
]
TINY = "i-2c3-2s"  # on 8x8 maps: 2 maps of 6x6, pooled to 3x3: 18 features


@pytest.fixture(scope="module")
def mnist():
    """The first 600 training and 200 test images: x (28, 28, n), one-hot y (10, n)."""
    return load_mnist(need(SHARED / "data"), subset=(600, 200), progress=False)


def images(seed: int, n: int, *shape: int) -> np.ndarray:
    """n images of ``shape`` in scikit-learn's layout, uniform in [0, 1)."""
    return dlt.OctaveRandom(seed).rand(n, *shape)


def labels(n: int, classes=(0, 1, 2)) -> np.ndarray:
    return np.asarray(classes)[np.arange(n) % len(classes)]


def toolbox_run(x, y, opts, seed=0, layers=TINY, **net) -> dict:
    """cnnsetup + cnntrain from OctaveRandom(seed), as the README does."""
    rng = dlt.OctaveRandom(seed)
    layers = dlt.spec.parse_spec(layers) if isinstance(layers, str) else copy.deepcopy(layers)
    cnn = dlt.cnnsetup({"layers": layers, **net}, x, y, rng)
    return dlt.cnntrain(cnn, x, y, opts, rng)


def one_hot(y) -> np.ndarray:
    classes, codes = np.unique(y, return_inverse=True)
    out = np.zeros((len(classes), len(y)))
    out[codes, np.arange(len(y))] = 1
    return out


def assert_same_net(clf: CNNClassifier, want: dict) -> None:
    """clf.net_ is ``want`` exactly (every array, bit for bit), beside the keys the estimator
    always sets (``output`` and ``engine``, here their defaults)."""
    got = dict(clf.net_)
    assert got.pop("output") == want.get("output", "sigm")
    assert got.pop("engine") == want.get("engine", "fast")
    assert_same(got, {k: v for k, v in want.items() if k not in ("output", "engine")})
    assert_same(clf.loss_curve_, want["rL"])


# ------------------------------------------------------------------- scikit-learn's checks

# The checks give flat X of a few features: without input_shape each sample is read as an
# image of n_features rows and one column, which 1x1 kernels fit. check_classifiers_train needs
# a training accuracy above 0.83 on its blobs, check_classifiers_classes every class predicted on
# 30 samples (one batch each epoch with batchsize=None): 50 (10) epochs give them (scikit-learn
# 1.3 and 1.9). Two checks skip themselves where their optional parts are absent (pandas;
# SCIPY_ARRAY_API for the array API check, which passes with SCIPY_ARRAY_API=1 set before scipy
# is imported).
CHECKED = [
    CNNClassifier("i-3c1", numepochs=50, random_state=0),
    CNNClassifier(
        "i-4c1r-1m",
        output="softmax",
        alpha=0.1,
        momentum=0.5,
        batchsize=10,
        numepochs=10,
        dtype="float32",
        random_state=0,
    ),
]


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ------------------------------------------------------------------- the toolbox's net


@pytest.mark.parametrize("layers", [TOOLBOX_LAYERS, "i-6c5-2s-12c5-2s"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fit_gives_the_net_of_cnnsetup_and_cnntrain_bit_for_bit(mnist, layers, dtype):
    train_x, train_y, test_x, test_y = (a.astype(dtype) for a in mnist)
    want = toolbox_run(train_x, train_y, {"alpha": 1, "batchsize": 50, "numepochs": 1}, 0, layers)
    given = copy.deepcopy(layers)
    clf = CNNClassifier(layers, alpha=1, batchsize=50, numepochs=1, dtype=dtype, random_state=0)
    clf.fit(train_x.transpose(2, 0, 1), train_y.argmax(axis=0))
    assert list(clf.classes_) == list(range(10))
    assert_same_net(clf, want)
    assert_same(layers, given)  # the parameter is left as it was
    _, bad = dlt.cnntest(want, test_x, test_y)  # predict decides as cnntest does
    wrong = clf.predict(test_x.transpose(2, 0, 1)) != test_y.argmax(axis=0)
    assert np.array_equal(np.flatnonzero(wrong), bad)
    assert clf.score(test_x.transpose(2, 0, 1), test_y.argmax(axis=0)) == 1 - len(bad) / 200


def test_options_reach_cnntrain():
    X, y = images(1, 40, 8, 8), labels(40)
    params = {"momentum": 0.9, "weight_decay": 1e-3, "lr_decay": 0.5, "engine": "reference"}
    clf = CNNClassifier(TINY, alpha=0.3, batchsize=8, numepochs=2, output="softmax", **params)
    clf.set_params(random_state=3).fit(X, y)
    opts = {"alpha": 0.3, "batchsize": 8, "numepochs": 2, **params}
    want = toolbox_run(X.transpose(1, 2, 0), one_hot(y), opts, 3, output="softmax")
    assert_same_net(clf, want)


def test_numepochs_zero_gives_the_set_up_net():
    X, y = images(2, 12, 8, 8), labels(12)
    clf = CNNClassifier(TINY, numepochs=0, random_state=5).fit(X, y)
    rng = dlt.OctaveRandom(5)
    want = dlt.cnnsetup(
        {"layers": dlt.spec.parse_spec(TINY)}, X.transpose(1, 2, 0), one_hot(y), rng
    )
    assert np.array_equal(clf.net_["ffW"], want["ffW"]) and clf.loss_curve_.shape == (0,)


# ------------------------------------------------------------------- layouts


def test_flat_input_with_input_shape_is_the_image_fit():
    X, y = images(3, 30, 8, 8), labels(30)
    by_image = CNNClassifier(TINY, batchsize=10, random_state=0).fit(X, y)
    flat = CNNClassifier(TINY, batchsize=10, random_state=0, input_shape=(8, 8))
    flat.fit(X.reshape(30, 64), y)
    assert_same(flat.net_, by_image.net_)
    assert flat.n_features_in_ == by_image.n_features_in_ == 64
    assert flat.input_shape_ == by_image.input_shape_ == (8, 8)
    proba = by_image.predict_proba(X)
    assert np.array_equal(by_image.predict_proba(X.reshape(30, 64)), proba)  # either layout
    assert np.array_equal(flat.predict_proba(X), proba)


def test_channels_last_images_are_the_toolbox_channel_maps():
    X, y = images(4, 20, 8, 8, 3), labels(20)  # (n, rows, cols, channels)
    clf = CNNClassifier("i3-2c3-2s", batchsize=5, random_state=1).fit(X, y)
    want = toolbox_run(X.transpose(1, 2, 3, 0), one_hot(y), {"alpha": 1, "batchsize": 5,
                       "numepochs": 1}, 1, "i3-2c3-2s")  # fmt: skip
    assert_same_net(clf, want)
    flat = CNNClassifier("2c3-2s", batchsize=5, random_state=1, input_shape=(8, 8, 3))
    assert_same(flat.fit(X.reshape(20, -1), y).net_["ffW"], clf.net_["ffW"])  # C order


@pytest.mark.parametrize(
    "params, X, match",
    [
        ({"input_shape": (8, 7)}, np.zeros((6, 64)), r"input_shape: expected .* the 64 features"),
        ({"input_shape": (8, 8, 1, 1)}, np.zeros((6, 64)), r"input_shape: .*got \(8, 8, 1, 1\)"),
        ({"input_shape": "8x8"}, np.zeros((6, 64)), r"input_shape: .*got '8x8'"),
        ({"input_shape": (8, 7)}, np.zeros((6, 8, 8)), r"input_shape: X's samples have shape"),
        ({"layers": "i3-2c3-2s"}, np.zeros((6, 8, 8)), r"layers: the input layer has 3 channels"),
        ({}, np.zeros((6, 8, 8, 1, 1)), r"X: expected \(n_samples, features\).*\(6, 8, 8, 1, 1\)"),
        ({"batchsize": 7}, np.zeros((6, 8, 8)), r"batchsize: .*X has 6 samples\), got 7"),
        ({"batchsize": 0}, np.zeros((6, 8, 8)), r"batchsize: expected None or a positive int"),
        ({"batchsize": 2.0}, np.zeros((6, 8, 8)), r"batchsize: expected None .*got 2.0"),
        ({"dtype": "float16"}, np.zeros((6, 8, 8)), r"dtype: expected 'float64' or 'float32'"),
        ({"dtype": "nonsense"}, np.zeros((6, 8, 8)), r"dtype: expected .*got 'nonsense'"),
    ],
)
def test_bad_arguments_are_named(params, X, match):
    clf = CNNClassifier(**{"layers": TINY, **params})  # stored unchecked: fit says what is wrong
    with pytest.raises(ValueError, match=match):
        clf.fit(X, labels(6))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"layers": 3}, r"layers: expected a spec string .* got int 3"),
        ({"random_state": np.random.RandomState(0)}, r"random_state: expected None, an int"),
    ],
)
def test_bad_parameter_types_are_named(params, match):
    with pytest.raises(TypeError, match=match):
        CNNClassifier(**params).fit(np.zeros((4, 8, 8)), labels(4))


def test_predict_checks_the_sample_shape_against_fit():
    clf = CNNClassifier(TINY, random_state=0).fit(images(5, 6, 8, 8), labels(6))
    with pytest.raises(ValueError, match=r"X: expected samples of shape \(8, 8\) .*\(2, 8, 9\)"):
        clf.predict(np.zeros((2, 8, 9)))
    with pytest.raises(ValueError, match="X has 63 features, but CNNClassifier is expecting 64"):
        clf.predict(np.zeros((2, 63)))


def test_random_state_takes_an_octave_random():
    X, y = images(6, 12, 8, 8), labels(12)
    by_seed = CNNClassifier(TINY, batchsize=4, random_state=7).fit(X, y)
    by_stream = CNNClassifier(TINY, batchsize=4, random_state=dlt.OctaveRandom(7)).fit(X, y)
    assert_same(by_stream.net_, by_seed.net_)


# ------------------------------------------------------------------- batch size


@pytest.mark.parametrize("n, want", [(120, 40), (53, 1), (7, 7), (100, 50), (600, 50)])
def test_batchsize_none_is_the_largest_divisor_up_to_50(n, want):
    X, y = images(7, n, 8, 8), labels(n)
    clf = CNNClassifier(TINY, numepochs=2, random_state=0).fit(X, y)
    assert (clf.batchsize_, clf.n_samples_trained_) == (want, n)
    assert clf.loss_curve_.shape == (1 + 2 * n // want,)
    opts = {"alpha": 1, "batchsize": want, "numepochs": 2}
    assert_same_net(clf, toolbox_run(X.transpose(1, 2, 0), one_hot(y), opts))


def test_batchsize_that_does_not_divide_trains_on_the_first_samples_that_fit():
    X, y = images(8, 47, 8, 8), labels(47)
    clf = CNNClassifier(TINY, batchsize=10, random_state=0).fit(X, y)
    assert (clf.batchsize_, clf.n_samples_trained_) == (10, 40)
    opts = {"alpha": 1, "batchsize": 10, "numepochs": 1}
    assert_same_net(clf, toolbox_run(X[:40].transpose(1, 2, 0), one_hot(y[:40]), opts))


# ------------------------------------------------------------------- probabilities


def outputs(clf: CNNClassifier, X: np.ndarray) -> np.ndarray:
    """cnnff's o (classes, n) on a copy of the fitted net."""
    net = copy.deepcopy(clf.net_)
    return dlt.cnnff(net, X.transpose(1, 2, 0).astype(clf.dtype))["o"]


def test_sigm_probabilities_are_the_outputs_over_their_sum():
    X, y = images(9, 30, 8, 8), labels(30, ("cat", "dog", "emu"))
    clf = CNNClassifier(TINY, batchsize=10, numepochs=3, random_state=0).fit(X, y)
    o = outputs(clf, X)
    proba = clf.predict_proba(X)
    assert proba.shape == (30, 3) and np.array_equal(proba, (o / o.sum(axis=0)).T)
    assert np.allclose(proba.sum(axis=1), 1, rtol=0, atol=1e-15)
    assert list(clf.classes_) == ["cat", "dog", "emu"]
    assert np.array_equal(clf.predict(X), clf.classes_[o.argmax(axis=0)])


def test_softmax_probabilities_are_the_outputs():
    X, y = images(10, 30, 8, 8), labels(30)
    clf = CNNClassifier(TINY, output="softmax", alpha=0.5, dtype="float32", random_state=0)
    proba = clf.fit(X, y).predict_proba(X)
    assert proba.dtype == np.float32 and clf.net_["ffW"].dtype == np.float32
    assert np.array_equal(proba, outputs(clf, X).T)


def test_saturated_sigm_outputs_give_uniform_probabilities():
    X, y = images(11, 8, 8, 8), labels(8)
    clf = CNNClassifier(TINY, random_state=0).fit(X, y)
    clf.net_["ffb"][:] = -1e4  # sigm(-1e4) == 0 in float64: every output of every sample
    with np.errstate(over="ignore"):
        assert not outputs(clf, X).any()
        assert np.array_equal(clf.predict_proba(X), np.full((8, 3), 1 / 3))


def test_predict_runs_in_chunks(monkeypatch):
    X, y = images(12, 25, 8, 8), labels(25)
    clf = CNNClassifier(TINY, random_state=0).fit(X, y)
    whole = clf.predict_proba(X)
    monkeypatch.setattr("dltoolbox.estimator.PREDICT_CHUNK", 4)
    assert np.allclose(clf.predict_proba(X), whole, rtol=1e-12, atol=0)


# ------------------------------------------------------------------- scikit-learn's tools


def test_clone_keeps_the_parameters_and_drops_the_fit():
    clf = CNNClassifier(TINY, alpha=0.5, batchsize=3, input_shape=(8, 8), random_state=2)
    clf.fit(images(13, 6, 64), labels(6))
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and not hasattr(twin, "net_")
    twin.set_params(alpha=0.25)
    assert twin.alpha == 0.25 and clf.alpha == 0.5


def mnist_samples(mnist, n: int) -> tuple[np.ndarray, np.ndarray]:
    train_x, train_y, _, _ = mnist
    return train_x[:, :, :n].transpose(2, 0, 1), train_y[:, :n].argmax(axis=0)


def test_grid_search_scores_are_the_same_on_two_processes(mnist):
    X, y = mnist_samples(mnist, 300)
    grid = {"alpha": [0.1, 0.3], "batchsize": [10, 50]}
    base = CNNClassifier("i-2c5-2s", output="softmax", random_state=0)
    runs = [GridSearchCV(base, grid, cv=3, n_jobs=n).fit(X, y).cv_results_ for n in (1, 2)]
    for key in ("params", "mean_test_score", "split0_test_score", "split2_test_score"):
        assert np.array_equal(runs[0][key], runs[1][key]), key
    assert len(set(runs[0]["mean_test_score"])) > 1  # the grid's points do differ


def test_pipeline_with_a_scaler_on_flat_input(mnist):
    X, y = mnist_samples(mnist, 600)
    X = X.reshape(600, 784)
    params = {"output": "softmax", "alpha": 0.1, "batchsize": 10, "input_shape": (28, 28)}
    pipe = make_pipeline(StandardScaler(), CNNClassifier("i-2c5-2s", random_state=0, **params))
    pipe.fit(X[:400], y[:400])
    scaler = StandardScaler().fit(X[:400])
    by_hand = CNNClassifier("i-2c5-2s", random_state=0, **params).fit(
        scaler.transform(X[:400]), y[:400]
    )
    assert np.array_equal(pipe.predict(X[400:]), by_hand.predict(scaler.transform(X[400:])))
    assert pipe.score(X[400:], y[400:]) > 0.5  # chance: about 0.1
