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
from ..net import Field, MapStack, map_array
from ..util import sigm


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

    def function(self, net: dict) -> str:
        """``net["output"]`` or its default."""
        return net.get("output", OUTPUTS[0])

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
        """``fv`` and ``o`` from the last layer's maps."""
        maps = map_array(last["a"])  # (maps, rows, cols, batch)
        # each map flattened column-major (MATLAB's reshape), maps stacked one after another
        fv = maps.transpose(0, 2, 1, 3).reshape(-1, maps.shape[-1])  # (features, batch)
        net["fv"] = fv.copy() if np.may_share_memory(fv, maps) else fv  # never a view of a[j]
        z = net["ffW"] @ net["fv"] + net["ffb"]  # (classes, batch)
        net["o"] = softmax(z) if self.function(net) == "softmax" else sigm(z)

    def backward(self, net: dict, y: np.ndarray, last: dict) -> MapStack:
        """``e``, ``L``, ``od``; returns ``ffW.T @ od`` as the gradient of the last layer's maps
        (views of one (features, batch) array). :meth:`record_delta` ends the pass."""
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
        maps, (rows, cols, _) = len(last["a"]), last["a"][0].shape
        return MapStack(grad.reshape(maps, cols, rows, batch).transpose(0, 2, 1, 3))

    def record_delta(self, net: dict, last: dict) -> None:
        """``fvd``: the last layer's delta ``d`` flattened as ``fv`` is (for a conv layer the
        toolbox's ``fvd .* (fv .* (1 - fv))``); then ``dffW``, ``dffb`` (the net's keys in the
        toolbox's order: ``fvd`` before them)."""
        d = map_array(last["d"])
        net["fvd"] = d.transpose(0, 2, 1, 3).reshape(-1, d.shape[-1])
        od, batch = net["od"], net["od"].shape[1]
        net["dffW"] = od @ net["fv"].T / batch
        net["dffb"] = od.sum(axis=1, keepdims=True) / batch  # as np.mean, less overhead

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
