"""The fully connected output (the toolbox's ``ffW``, ``ffb`` at the top of the net dict).

``fv`` (features, batch) is the last layer's maps, each flattened column-major (MATLAB's
``reshape``) and stacked map after map; ``o = sigm(ffW @ fv + ffb)`` (classes, batch) with the
toolbox's squared error, or its column-wise softmax with cross-entropy when
``net["output"] == "softmax"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from ..activations import OUTPUTS, cross_entropy, softmax, softmax_delta
from ..constraints import Options
from ..net import Field
from ..util import sigm
from .base import kind_of


class Output:
    """The output 'layer': its fields live in the net dict itself."""

    name = "output"
    optional = {"output": (Options(OUTPUTS), OUTPUTS[0])}
    fields = (
        Field("ffb", "array", "param", "(classes, 1): output biases", grad="dffb",
              velocity="vffb"),
        Field("ffW", "array", "param", "(classes, features): output weights", grad="dffW",
              velocity="vffW", decays=True),
        Field("fv", "array", "pass", "(features, batch): the last layer's maps, flattened"),
        Field("o", "array", "pass", "(classes, batch): the outputs"),
        Field("e", "array", "pass", "(classes, batch): o - y"),
        Field("L", "scalar", "pass", "the batch's loss"),
        Field("od", "array", "pass", "(classes, batch): the output delta"),
        Field("fvd", "array", "pass", "(features, batch): the last layer's delta, flattened"),
        Field("dffW", "array", "grad", "(classes, features): batch-mean gradient of ffW"),
        Field("dffb", "array", "grad", "(classes, 1): batch-mean gradient of ffb"),
        Field("vffW", "array", "velocity", "(classes, features): momentum velocity of ffW"),
        Field("vffb", "array", "velocity", "(classes, 1): momentum velocity of ffb"),
        Field("output", "str", "spec", '"sigm" (default, squared error) or "softmax"'),
    )  # fmt: skip

    #: The field whose columns are the features of the last layer (see :class:`LayerKind`).
    features_field = "ffW"

    def param_shapes(self, features: int, classes: int) -> dict[str, tuple]:
        """As :meth:`LayerKind.param_shapes`, for ``features`` inputs and ``classes`` outputs."""
        return {
            "ffW": ((classes, features), "classes x features of the last layer"),
            "ffb": ((classes, 1), "classes x 1"),
        }

    def pass_shapes(self, features: int, classes: int, batch: int) -> dict[str, tuple]:
        """As :meth:`LayerKind.pass_shapes`: ``fv`` and ``o`` of the last cnnff."""
        return {
            "fv": ((features, batch), "features x batch of the last cnnff"),
            "o": ((classes, batch), "classes x batch of the last cnnff"),
        }

    def function(self, net: dict) -> str:
        """``net["output"]`` or its default."""
        return net.get("output", OUTPUTS[0])

    def is_set_up(self, net: dict) -> bool:
        """Whether ``cnnsetup`` has drawn the output weights."""
        return "ffW" in net and "ffb" in net

    def classes(self, net: dict) -> int:
        return net["ffW"].shape[0]

    def features(self, net: dict) -> int:
        return net["ffW"].shape[1]

    def setup(self, net: dict, features: int, classes: int, rng) -> None:
        """``ffb`` zeros and ``ffW`` uniform in ``+-sqrt(6 / (classes + features))``."""
        net["ffb"] = np.zeros((classes, 1))
        bound = math.sqrt(6 / (classes + features))
        net["ffW"] = (rng.rand(classes, features) - 0.5) * 2 * bound

    def forward(self, net: dict, last: dict) -> None:
        """``fv`` and ``o`` from the last layer's output."""
        # maps: each flattened column-major (MATLAB's reshape), stacked one after another
        net["fv"] = kind_of(last).features(last)  # (features, batch), never a view of a[j]
        z = net["ffW"] @ net["fv"] + net["ffb"]  # (classes, batch)
        net["o"] = softmax(z) if self.function(net) == "softmax" else sigm(z)

    def backward(self, net: dict, y: np.ndarray, last: dict):
        """``e``, ``L``, ``od``; returns ``ffW.T @ od`` as the gradient of the last layer's
        output (maps: views of one (features, batch) array). :meth:`finish` follows the
        layers' passes."""
        o, ffW = net["o"], net["ffW"]
        batch = o.shape[1]
        net["e"] = o - y
        if self.function(net) == "softmax":  # cross-entropy
            net["L"] = cross_entropy(o, y)
            net["od"] = softmax_delta(o, y)  # o - y for one-hot labels
        else:
            net["L"] = float(0.5 * np.sum(net["e"] ** 2) / batch)
            net["od"] = net["e"] * (o * (1 - o))  # output delta (classes, batch)
        grad = ffW.T @ net["od"]  # (features, batch)
        # back into map shape: the inverse of forward's column-major flatten
        return kind_of(last).feature_grad(last, grad)

    def finish(self, net: dict, last: dict) -> None:
        """``fvd``: the last layer's delta ``d`` flattened as ``fv`` is (for a conv layer the
        toolbox's ``fvd .* (fv .* (1 - fv))``); the gradients ``dffW``, ``dffb``."""
        net["fvd"] = kind_of(last).delta_features(last)
        batch = net["fvd"].shape[-1]
        net["dffW"] = net["od"] @ net["fv"].T / batch
        net["dffb"] = net["od"].sum(axis=1, keepdims=True) / batch  # as np.mean, less overhead

    def summary(self, net: dict, features: int, classes: int) -> tuple:
        """(description, parameters, multiply-adds per sample)."""
        return f"full+{self.function(net)}", (features + 1) * classes, features * classes

    def entries(self, net: dict, grads: dict) -> Iterator[tuple]:
        """As :meth:`LayerKind.entries`: ``ffb`` then ``ffW``, as the toolbox checks them."""
        for j in range(net["ffb"].shape[0]):
            yield f"ffb[{j}]", net["ffb"], (j, 0), grads["dffb"][j, 0]
        rows, cols = net["ffW"].shape
        for i in range(rows):
            for u in range(cols):
                yield f"ffW[{i}, {u}]", net["ffW"], (i, u), grads["dffW"][i, u]
