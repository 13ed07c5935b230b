"""The subsampling layer ('s'): the mean (or, with ``"method": "max"``, the maximum) of each
scale x scale block of every map. Its biases ``b[j] = 0`` are set up as in the toolbox and
never used."""

from __future__ import annotations

import re

from ..constraints import POSITIVE_INT, Options
from ..errors import InputError
from ..net import Field
from .base import MAP_FIELDS, TYPE_FIELD, LayerKind

METHODS = ("mean", "max")


class Pool(LayerKind):
    type = "s"
    name = "subsampling"
    required = {"scale": POSITIVE_INT}
    optional = {"method": (Options(METHODS), METHODS[0])}
    fields = (
        TYPE_FIELD,
        Field("scale", "int", "spec", "the block size: scale x scale"),
        Field("b", "scalars", "unused", "[j]: 0, set up as in the toolbox, never used"),
        *MAP_FIELDS,
        Field("method", "str", "spec", '"mean" (default) or "max"'),
    )
    spec_pattern = re.compile(r"([0-9]+)([sm])")
    spec_help = "<scale>s (such as 2s; 2m for max pooling)"

    def out_shape(self, layer: dict, shape: tuple[int, int, int], l: int) -> tuple:
        maps, rows, cols = shape
        scale = self.get(layer, "scale")
        if rows % scale or cols % scale:
            raise InputError(
                f"Layer {l} size must be integer. Actual: {rows / scale:g} x {cols / scale:g} "
                f'(a {rows} x {cols} map subsampled by scale {scale}; net["layers"][{l}])'
            )
        return maps, rows // scale, cols // scale

    def setup(self, layer: dict, shape_in: tuple[int, int, int], rng) -> None:
        layer["b"] = [0.0] * shape_in[0]

    def forward(self, layer: dict, below: dict, engine, slot: int, rng=None) -> None:
        method = self.get(layer, "method")
        layer["a"] = engine.pool_forward(below["a"], self.get(layer, "scale"), method)

    def backward(self, layer: dict, below: dict, grad, engine, need_input: bool):
        d = layer["d"] = engine.dense(grad)  # no activation: the delta is the gradient itself
        if not need_input:
            return None
        # expand(d, [scale, scale, 1]) / scale^2, or d sent to each block's maximum
        return engine.unpool(d, below["a"], self.get(layer, "scale"), self.get(layer, "method"))

    def summary(self, layer: dict, shape_in: tuple, shape_out: tuple) -> tuple:
        scale = self.get(layer, "scale")
        maps, rows, cols = shape_out
        macs = scale * scale * maps * rows * cols
        return f"{self.get(layer, 'method')}-pool {scale}", 0, macs, scale, scale

    def spec(self, layer: dict) -> str:
        method = self.get(layer, "method")
        suffix = "m" if method == "max" else "s" if method == "mean" else f"s[{method}]"
        return f"{layer.get('scale', '?')}{suffix}"

    def from_spec(self, match: re.Match) -> dict | None:
        if not int(match[1]):
            return None
        layer = {"type": "s", "scale": int(match[1])}
        if match[2] == "m":
            layer["method"] = "max"
        return layer
