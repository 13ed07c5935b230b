"""The fully connected hidden layer ('f'): ``a = f(W @ x + b)``, one vector per sample.

``x`` (features, batch) is the layer below: maps flattened in the order of the toolbox's ``fv``,
or the vector of another 'f' layer. Weights ``W`` (outputs, features) uniform in
``+-sqrt(6 / (features + outputs))`` and ``b`` (outputs, 1) zeros, like the toolbox's ``ffW``
and ``ffb``, drawn from the rng in layer order (before ``ffW``). 'f' layers come after every
convolution and subsampling layer, before the output.

``"dropout": q`` (0 <= q < 1), as the toolbox's NN (``nnff.m``): inside :func:`cnntrain` each
batch draws ``mask = rand(outputs, batch) > q`` from the training stream, in layer order, and
the layer outputs ``a = f(W @ x + b) .* mask``; every other pass (``cnnff``, ``cnntest``,
predictions) outputs ``f(W @ x + b) * (1 - q)``. The activation before the dropout is kept as
``h`` and the mask as ``mask`` for cnnbp, whose delta is ``grad .* mask .* f'(h)`` (or
``grad * (1 - q) .* f'(h)`` after a pass outside training).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import numpy as np

from ..activations import ACTIVATIONS, activate, derivative
from ..constraints import POSITIVE_INT, Interval, Options
from ..engines.blas import matmul
from ..net import Field
from .base import TYPE_FIELD, LayerKind, kind_of

_LETTER = {"sigm": "", "relu": "r", "tanh": "t"}


class FullyConnected(LayerKind):
    type = "f"
    name = "fully connected"
    required = {"outputs": POSITIVE_INT}
    optional = {
        "activation": (Options(ACTIVATIONS), ACTIVATIONS[0]),
        "dropout": (Interval(0, 1, "left"), 0.0),
    }
    fields = (
        TYPE_FIELD,
        Field("outputs", "int", "spec", "number of outputs"),
        Field("W", "array", "param", "(outputs, features): weights", grad="dW", velocity="vW",
              decays=True),
        Field("b", "array", "param", "(outputs, 1): biases", grad="db", velocity="vb"),
        Field("a", "array", "pass", "(outputs, batch): the layer's output (cnnff)"),
        Field("d", "array", "pass", "(outputs, batch): the layer's delta (cnnbp)"),
        Field("h", "array", "pass", "(outputs, batch): the activation before dropout"),
        Field("mask", "array", "pass", "(outputs, batch): the dropout mask of cnntrain's pass"),
        Field("dW", "array", "grad", "(outputs, features): batch-mean gradient of W"),
        Field("db", "array", "grad", "(outputs, 1): batch-mean gradient of b"),
        Field("vW", "array", "velocity", "(outputs, features): momentum velocity of W"),
        Field("vb", "array", "velocity", "(outputs, 1): momentum velocity of b"),
        Field("activation", "str", "spec", 'f: "sigm" (default), "relu" or "tanh"'),
        Field("dropout", "real", "spec", "q: the fraction dropped in training (absent: 0)"),
    )  # fmt: skip
    flat = True
    features_field = "W"
    spec_pattern = re.compile(r"([0-9]+)f([rt]?)(?:d([0-9]*\.?[0-9]+))?")
    spec_help = (
        "<outputs>f (such as 84f, 84fr for relu, 84ft for tanh; then d<q> for dropout q, "
        "0 <= q < 1: 84frd0.5)"
    )

    def out_shape(self, layer: dict, shape: tuple[int, int, int], l: int) -> tuple:
        return self.get(layer, "outputs"), 1, 1

    def setup(self, layer: dict, shape_in: tuple[int, int, int], rng) -> None:
        features, outputs = math.prod(shape_in), self.get(layer, "outputs")
        layer["b"] = np.zeros((outputs, 1))
        bound = math.sqrt(6 / (outputs + features))
        layer["W"] = (rng.rand(outputs, features) - 0.5) * 2 * bound

    def param_shapes(self, layer: dict, shape_in: tuple[int, int, int]) -> dict[str, tuple]:
        outputs = self.get(layer, "outputs")
        return {
            "W": ((outputs, math.prod(shape_in)), "outputs x features below"),
            "b": ((outputs, 1), "outputs x 1"),
        }

    def pass_shapes(self, layer: dict, shape_out: tuple, batch: int) -> dict[str, tuple]:
        shapes = {"a": ((shape_out[0], batch), "outputs x batch of the last cnnff")}
        if self.get(layer, "dropout"):  # cnnbp reads the activation before the dropout
            shapes["h"] = shapes["a"]
        return shapes

    def forward(self, layer: dict, below: dict, engine, slot: int, rng=None) -> None:
        x = kind_of(below).features(below)  # (features, batch)
        h = activate(matmul(layer["W"], x) + layer["b"], self.get(layer, "activation"))
        q = self.get(layer, "dropout")
        layer.pop("mask", None)
        if not q:
            layer.pop("h", None)
            layer["a"] = h
            return
        layer["h"] = h
        if rng is None:  # a pass outside training: the expected output
            layer["a"] = h * (1 - q)
        else:
            layer["mask"] = (np.asarray(rng.rand(*h.shape)) > q).astype(h.dtype)
            layer["a"] = h * layer["mask"]

    def backward(self, layer: dict, below: dict, grad, engine, need_input: bool):
        q = self.get(layer, "dropout")
        h = layer["h"] if q else layer["a"]
        d = grad * derivative(h, self.get(layer, "activation"))  # (outputs, batch)
        if q:
            d = d * layer["mask"] if "mask" in layer else d * (1 - q)
        layer["d"] = d
        x = kind_of(below).features(below)
        batch = d.shape[1]
        layer["dW"] = matmul(d, x.T) / batch
        layer["db"] = d.sum(axis=1, keepdims=True) / batch
        if not need_input:
            return None
        return kind_of(below).feature_grad(below, matmul(layer["W"].T, d))

    def features(self, layer: dict) -> np.ndarray:
        return layer["a"].copy()

    def feature_grad(self, layer: dict, grad: np.ndarray) -> np.ndarray:
        return grad

    def delta_features(self, layer: dict) -> np.ndarray:
        return layer["d"]

    def summary(self, layer: dict, shape_in: tuple, shape_out: tuple) -> tuple:
        features, outputs = math.prod(shape_in), shape_out[0]
        q = self.get(layer, "dropout")
        kind = f"full {self.get(layer, 'activation')}" + (f" drop {q:g}" if q else "")
        return kind, (features + 1) * outputs, features * outputs, None, 1

    def spec(self, layer: dict) -> str:
        act, q = self.get(layer, "activation"), self.get(layer, "dropout")
        token = f"{layer.get('outputs', '?')}f{_LETTER.get(act, f'[{act}]')}"
        return token + (f"d{q:g}" if q else "")

    def from_spec(self, match: re.Match) -> dict | None:
        if not int(match[1]) or (match[3] and not float(match[3]) < 1):
            return None
        layer = {"type": "f", "outputs": int(match[1])}
        if match[2]:
            layer["activation"] = {v: k for k, v in _LETTER.items()}[match[2]]
        if match[3] and float(match[3]):
            layer["dropout"] = float(match[3])
        return layer

    def entries(self, layer: dict, grads: dict, where: str) -> Iterator[tuple]:
        for j in range(layer["b"].shape[0]):
            yield f'{where}["b"][{j}]', layer["b"], (j, 0), grads["db"][j, 0]
        rows, cols = layer["W"].shape
        for i in range(rows):
            for u in range(cols):
                yield f'{where}["W"][{i}, {u}]', layer["W"], (i, u), grads["dW"][i, u]
