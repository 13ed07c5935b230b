"""scikit-learn's estimator interface to the toolbox: :class:`CNNClassifier`.

The functional API (:func:`~dltoolbox.cnnsetup`, :func:`~dltoolbox.cnntrain`,
:func:`~dltoolbox.cnnff`) stays the primary one. This class converts scikit-learn's layout
(samples first) to the toolbox's (samples last) once per call and runs those functions, so that
``GridSearchCV``, ``RandomizedSearchCV``, ``Pipeline``, ``cross_val_score`` and joblib's
backends (loky, Dask, Ray) work on it unchanged. It needs scikit-learn:
``pip install "dltoolbox[sklearn]"``. docs/sklearn.md has the parameters and the rules.
"""

from __future__ import annotations

import copy
import math
from numbers import Integral

import numpy as np

from . import OctaveRandom, cnnff, cnnsetup, cnntrain  # the package's public functions
from .spec import parse_spec

INSTALL = 'dltoolbox.CNNClassifier needs scikit-learn: pip install "dltoolbox[sklearn]"'

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_array, check_is_fitted, check_X_y
except ImportError as err:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(f"{INSTALL} ({err})") from err

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # scikit-learn < 1.6: the same checks as an estimator method

    def validate_data(estimator, X, y="no_validation", **kwargs):
        return estimator._validate_data(X, y, **kwargs)


#: The batch size ``batchsize=None`` aims at: the toolbox example's.
DEFAULT_BATCHSIZE = 50
#: Samples per forward pass in predict/predict_proba (bounds the activations' memory).
PREDICT_CHUNK = 5000
_DTYPES = ("float64", "float32")


def _dtype(value) -> np.dtype:
    """``value`` ("float64" or "float32", or those numpy types) as a numpy dtype."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if isinstance(value, bool) or dtype is None or dtype.name not in _DTYPES:
        raise ValueError(f"dtype: expected 'float64' or 'float32', got {value!r}")
    return dtype


def _layer_list(layers) -> list[dict]:
    """A fresh layer list from a spec string or a list of layer dicts (never the parameter
    itself: cnnsetup fills the layer dicts it is given)."""
    if isinstance(layers, str):
        return parse_spec(layers)
    if isinstance(layers, (list, tuple)):
        return copy.deepcopy(list(layers))
    raise TypeError(
        "layers: expected a spec string such as 'i-6c5-2s-12c5-2s' or a list of layer dicts, "
        f"got {type(layers).__name__} {layers!r}"
    )


def batch_size(batchsize, n: int) -> int:
    """The batch size training uses on ``n`` samples.

    Parameters
    ----------
    batchsize : None or int
        None: the largest divisor of ``n`` that is at most :data:`DEFAULT_BATCHSIZE` (50), so
        that every sample is used. An int: used as it is (at most ``n``); when it does not
        divide ``n``, training uses the first ``n - n % batchsize`` samples.
    n : int
        The number of samples given to ``fit``.
    """
    if batchsize is None:
        return max(d for d in range(1, min(n, DEFAULT_BATCHSIZE) + 1) if n % d == 0)
    if isinstance(batchsize, bool) or not isinstance(batchsize, Integral) or batchsize < 1:
        raise ValueError(f"batchsize: expected None or a positive integer, got {batchsize!r}")
    if batchsize > n:
        raise ValueError(
            f"batchsize: expected at most the number of samples (X has {n} "
            f"sample{'s' if n != 1 else ''}), got {batchsize}; batchsize=None picks a divisor "
            "of the sample count"
        )
    return int(batchsize)


def _sample_shape(input_shape, X: np.ndarray) -> tuple[int, ...]:
    """(rows, cols) or (rows, cols, channels) of one sample of ``X`` (validated, at least 2-D)."""
    if X.ndim > 2:
        if input_shape is not None and tuple(input_shape) != X.shape[1:]:
            raise ValueError(
                f"input_shape: X's samples have shape {X.shape[1:]}, but input_shape is "
                f"{input_shape!r}; give None (or that shape) for image input"
            )
        return X.shape[1:]
    if input_shape is None:
        return (X.shape[1], 1)  # a flat sample read as one column of pixels
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    ok = shape is not None and len(shape) in (2, 3)
    ok = ok and all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in shape)
    if not ok or math.prod(shape) != X.shape[1]:
        raise ValueError(
            "input_shape: expected None or (rows, cols) or (rows, cols, channels), positive "
            f"integers whose product is the {X.shape[1]} features of X, got {input_shape!r}"
        )
    return tuple(int(s) for s in shape)


def _check_channels(layers: list, shape: tuple[int, ...]) -> None:
    """The input layer's ``channels``, where it says one, is the data's channel count."""
    first = layers[0] if layers and isinstance(layers[0], dict) else {}
    have = shape[2] if len(shape) == 3 else 1
    if "channels" in first and first["channels"] != have:
        raise ValueError(
            f"layers: the input layer has {first['channels']!r} channels, but X's samples have "
            f"shape {shape} ({have} channel{'s' if have != 1 else ''})"
        )


def to_maps(X: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """scikit-learn's samples as the toolbox's maps, of ``dtype``.

    Parameters
    ----------
    X : ndarray, shape (n, rows * cols * channels), (n, rows, cols) or (n, rows, cols, channels)
        A flat sample is the image flattened row by row (C order), channels innermost.
    shape : tuple
        (rows, cols) or (rows, cols, channels).
    dtype : numpy dtype
        float64 or float32.

    Returns
    -------
    ndarray, shape (rows, cols, n) or (rows, cols, channels, n)
        Column-major, as :func:`dltoolbox.datasets.load_mnist` gives: ``X`` itself where it
        already is that (``load_mnist``'s ``train_x.transpose(2, 0, 1)``), else one copy (two
        for a flat ``X`` that is not C-contiguous).
    """
    images = X.reshape(X.shape[0], *shape)
    axes = (1, 2, 0) if len(shape) == 2 else (1, 2, 3, 0)
    return np.asfortranarray(images.transpose(axes), dtype=dtype)


def _rng(random_state):
    """The random stream of one fit: None, an ``OctaveRandom(seed)``, or the object given."""
    if random_state is None:
        return None  # cnnsetup and cnntrain each draw from a stream seeded by the OS
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        return OctaveRandom(int(random_state))
    if all(callable(getattr(random_state, f, None)) for f in ("rand", "randperm")):
        return random_state
    raise TypeError(
        "random_state: expected None, an int seed (OctaveRandom(seed), Octave's "
        "rand('state', seed)) or an object with rand(*dims) and randperm(n) such as an "
        f"OctaveRandom, got {type(random_state).__name__} {random_state!r}"
    )


class CNNClassifier(ClassifierMixin, BaseEstimator):
    """The toolbox's CNN as a scikit-learn classifier.

    Parameters
    ----------
    layers : str or list of dict, default "i-6c5-2s-12c5-2s"
        A layer spec (:func:`dltoolbox.spec.parse_spec`) or a ``net["layers"]`` list (copied,
        never modified).
    alpha : float, default 1.0
        Learning rate, ``opts["alpha"]`` of :func:`dltoolbox.cnntrain`.
    batchsize : None or int, default None
        Samples per batch; see :func:`batch_size` for None and for a batch size that does not
        divide the sample count.
    numepochs : int, default 1
        Passes over the training samples.
    output : {"sigm", "softmax"}, default "sigm"
        ``net["output"]``: the toolbox's sigmoid outputs with squared error, or softmax with
        cross-entropy.
    momentum, weight_decay, lr_decay : float, default 0.0, 0.0, 1.0
        ``opts`` of :func:`dltoolbox.cnntrain`; the defaults are the toolbox's plain SGD.
    engine : {"fast", "reference"}, default "fast"
        ``opts["engine"]``.
    dtype : {"float64", "float32"}, default "float64"
        X is converted to it once per call; the net computes in it.
    input_shape : None or tuple, default None
        (rows, cols) or (rows, cols, channels) of a flat (2-D) X's samples, each the image
        flattened row by row; None reads a flat sample as one column of ``n_features`` pixels
        (only 1x1 kernels fit it). Image input (3-D or 4-D X) needs none.
    random_state : None, int or OctaveRandom, default None
        An int seeds ``OctaveRandom(seed)``, drawn by cnnsetup then cnntrain: the net that
        ``cnnsetup`` + ``cnntrain`` give with that seed, bit for bit. None: a fresh OS seed.

    Attributes
    ----------
    net_ : dict
        The trained net (toolbox layout: ``ffW`` (classes, features), ``rL``, ...).
    classes_ : ndarray, shape (n_classes,)
        The sorted labels; output row i of the net is ``classes_[i]``.
    n_features_in_ : int
        Features per sample (rows * cols * channels).
    input_shape_ : tuple
        (rows, cols) or (rows, cols, channels) of one sample.
    batchsize_ : int
        The batch size training used; ``n_samples_trained_`` samples were used.
    loss_curve_ : ndarray, shape (1 + numepochs * numbatches,)
        The smoothed loss ``net_["rL"]``.
    """

    def __init__(
        self,
        layers="i-6c5-2s-12c5-2s",
        *,
        alpha=1.0,
        batchsize=None,
        numepochs=1,
        output="sigm",
        momentum=0.0,
        weight_decay=0.0,
        lr_decay=1.0,
        engine="fast",
        dtype="float64",
        input_shape=None,
        random_state=None,
    ):
        self.layers = layers
        self.alpha = alpha
        self.batchsize = batchsize
        self.numepochs = numepochs
        self.output = output
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.lr_decay = lr_decay
        self.engine = engine
        self.dtype = dtype
        self.input_shape = input_shape
        self.random_state = random_state

    def _validate(self, X, y=None, reset: bool = True):
        """X (and y) by scikit-learn's rules, X as (n, features) or (n, rows, cols[, ch]), of
        the numeric dtype it had (the conversion to ``dtype`` comes with the layout's)."""
        if not hasattr(X, "ndim"):  # lists; arrays, data frames and sparse matrices have it
            X = np.asarray(X)
        if X.ndim > 4:
            raise ValueError(
                "X: expected (n_samples, features), (n_samples, rows, cols) or (n_samples, "
                f"rows, cols, channels), got shape {X.shape}"
            )
        if X.ndim <= 2:  # flat, sparse (refused), 1-D (refused), data frames
            if reset:
                return validate_data(self, X, y, reset=True)
            return validate_data(self, X, reset=False)
        if reset:
            X, y = check_X_y(X, y, allow_nd=True)
            self.n_features_in_ = math.prod(X.shape[1:])
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            return X, y
        X = check_array(X, allow_nd=True)
        if X.shape[1:] != self.input_shape_:
            raise ValueError(
                f"X: expected samples of shape {self.input_shape_} (those fit was given), or "
                f"flat samples of {self.n_features_in_} features; got shape {X.shape}"
            )
        return X

    def fit(self, X, y) -> CNNClassifier:
        """Set up a net with :func:`dltoolbox.cnnsetup` and train it with :func:`cnntrain`.

        Parameters
        ----------
        X : array-like, shape (n_samples, rows, cols), (n_samples, rows, cols, channels) or
            (n_samples, n_features) (see ``input_shape``)
        y : array-like, shape (n_samples,)
            Class labels of any type; one-hot encoded as (n_classes, n_samples) in the order
            of ``classes_``.

        Returns
        -------
        self
        """
        dtype = _dtype(self.dtype)
        X, y = self._validate(X, y, reset=True)
        check_classification_targets(y)
        shape = _sample_shape(self.input_shape, X)
        layers = _layer_list(self.layers)
        _check_channels(layers, shape)
        classes, codes = np.unique(y, return_inverse=True)
        batchsize = batch_size(self.batchsize, X.shape[0])
        m = X.shape[0] - X.shape[0] % batchsize
        x = to_maps(X[:m], shape, dtype)
        targets = np.zeros((len(classes), m), dtype=x.dtype, order="F")
        targets[codes[:m], np.arange(m)] = 1
        opts = {
            "alpha": self.alpha,
            "batchsize": batchsize,
            "numepochs": self.numepochs,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "lr_decay": self.lr_decay,
            "engine": self.engine,
        }
        net = {"layers": layers, "output": self.output}
        rng = _rng(self.random_state)
        cnnsetup(net, x, targets, rng)
        cnntrain(net, x, targets, opts, rng)
        self.net_, self.classes_, self.input_shape_ = net, classes, shape
        self.batchsize_, self.n_samples_trained_ = batchsize, m
        self.loss_curve_ = np.array(net["rL"])
        return self

    def _outputs(self, X) -> np.ndarray:
        """The net's outputs ``o`` (n_classes, n_samples) on X (any layout fit takes)."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        x = to_maps(X, self.input_shape_, _dtype(self.dtype))
        parts = []
        for start in range(0, x.shape[-1], PREDICT_CHUNK):
            net = dict(self.net_, layers=[dict(layer) for layer in self.net_["layers"]])
            parts.append(cnnff(net, x[..., start : start + PREDICT_CHUNK])["o"])
        return np.concatenate(parts, axis=1)

    def predict(self, X) -> np.ndarray:
        """``classes_[argmax(o)]`` per sample (ties: the first class), as :func:`cnntest`.

        Parameters
        ----------
        X : array-like, shape (n_samples, ...) as for :meth:`fit`

        Returns
        -------
        ndarray, shape (n_samples,)
        """
        o = self._outputs(X)  # first: it raises NotFittedError before fit
        return self.classes_[np.argmax(o, axis=0)]

    def predict_proba(self, X) -> np.ndarray:
        """The net's outputs per sample, as probabilities.

        With ``output="softmax"`` these are the softmax outputs (each row sums to 1). The
        toolbox's sigmoid outputs are each in (0, 1) but do not sum to 1: each sample's
        outputs are divided by their sum (an all-zero row, from saturated sigmoids, gives
        ``1 / n_classes`` each). The order of the columns is that of ``classes_``.

        Parameters
        ----------
        X : array-like, shape (n_samples, ...) as for :meth:`fit`

        Returns
        -------
        ndarray, shape (n_samples, n_classes)
        """
        o = self._outputs(X)
        if self.net_.get("output", "sigm") == "softmax":
            return o.T
        sums = o.sum(axis=0)
        uniform = np.full_like(o, 1 / o.shape[0])
        return np.divide(o, sums, out=uniform, where=sums > 0).T
