"""The convolution layer ('c'): ``a[j] = f(sum_i convn(a_prev[i], k[i][j], 'valid') + b[j])``.

Weights: ``k[i][j]`` (ks, ks) per input map i and output map j, drawn uniform in
``+-sqrt(6 / (fan_in + fan_out))`` with ``fan_in = inmaps * ks^2``, ``fan_out = maps * ks^2``
(output map j outer, input map i inner: the toolbox's draw order); ``b[j] = 0``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import numpy as np

from ..activations import ACTIVATIONS
from ..constraints import POSITIVE_INT, Options
from ..net import Field, KernelStack
from .base import MAP_FIELDS, TYPE_FIELD, LayerKind

_LETTER = {"sigm": "", "relu": "r", "tanh": "t"}


class Conv(LayerKind):
    type = "c"
    name = "convolution"
    required = {"outputmaps": POSITIVE_INT, "kernelsize": POSITIVE_INT}
    optional = {"activation": (Options(ACTIVATIONS), ACTIVATIONS[0])}
    fields = (
        TYPE_FIELD,
        Field("outputmaps", "int", "spec", "number of output maps"),
        Field("kernelsize", "int", "spec", "ks: kernels are ks x ks"),
        Field("k", "grid", "param", "[i][j] (ks, ks): kernel from input map i to output map j",
              grad="dk", velocity="vk", decays=True),
        Field("b", "scalars", "param", "[j]: bias of output map j", grad="db", velocity="vb"),
        *MAP_FIELDS,
        Field("dk", "grid", "grad", "[i][j] (ks, ks): batch-mean gradient of k[i][j]"),
        Field("db", "scalars", "grad", "[j]: batch-mean gradient of b[j]"),
        Field("vk", "grid", "velocity", "[i][j] (ks, ks): momentum velocity of k[i][j]"),
        Field("vb", "scalars", "velocity", "[j]: momentum velocity of b[j]"),
        Field("activation", "str", "spec", 'f: "sigm" (default), "relu" or "tanh"'),
    )  # fmt: skip
    repeatable = False  # the toolbox's cnnbp needs 'c' and 's' layers to alternate
    spec_pattern = re.compile(r"([0-9]+)c([0-9]+)([rt]?)")
    spec_help = "<maps>c<kernelsize> (such as 6c5, or 6c5r for relu, 6c5t for tanh)"

    def out_shape(self, layer: dict, shape: tuple[int, int, int], l: int) -> tuple:
        _, rows, cols = shape
        ks = self.get(layer, "kernelsize")
        if ks > rows or ks > cols:
            raise ValueError(
                f'net["layers"][{l}]["kernelsize"]: expected at most the input map size '
                f"{rows} x {cols}, got {ks}"
            )
        return self.get(layer, "outputmaps"), rows - ks + 1, cols - ks + 1

    def setup(self, layer: dict, inmaps: int, rng) -> None:
        maps, ks = self.get(layer, "outputmaps"), self.get(layer, "kernelsize")
        bound = math.sqrt(6 / (inmaps * ks**2 + maps * ks**2))
        k = np.empty((inmaps, maps, ks, ks))
        for j in range(maps):
            for i in range(inmaps):
                k[i, j] = (rng.rand(ks) - 0.5) * 2 * bound
        layer["k"] = KernelStack(k)
        layer["b"] = [0.0] * maps

    def forward(self, layer: dict, below: dict, engine, slot: int) -> None:
        activation = self.get(layer, "activation")
        layer["a"] = engine.conv_forward(below["a"], layer["k"], layer["b"], activation, slot)

    def backward(self, layer: dict, below: dict, grad, engine, need_input: bool):
        d = engine.activation_delta(layer["a"], grad, self.get(layer, "activation"))
        layer["d"] = d
        layer["dk"], layer["db"] = engine.conv_grads(below["a"], d, layer["a"])
        # the delta of the layer below: 'full' convolutions with the rotated kernels
        return engine.conv_input_grad(d, layer["k"]) if need_input else None

    def summary(self, layer: dict, shape_in: tuple, shape_out: tuple) -> tuple:
        ks, inmaps = self.get(layer, "kernelsize"), shape_in[0]
        maps, rows, cols = shape_out
        params = (ks * ks * inmaps + 1) * maps
        macs = ks * ks * inmaps * maps * rows * cols
        return f"conv {ks}x{ks} {self.get(layer, 'activation')}", params, macs, ks, 1

    def spec(self, layer: dict) -> str:
        act = self.get(layer, "activation")
        suffix = _LETTER.get(act, f"[{act}]")
        return f"{layer.get('outputmaps', '?')}c{layer.get('kernelsize', '?')}{suffix}"

    def from_spec(self, match: re.Match) -> dict | None:
        maps, ks = int(match[1]), int(match[2])
        if not maps or not ks:
            return None
        layer = {"type": "c", "outputmaps": maps, "kernelsize": ks}
        if match[3]:
            layer["activation"] = {v: k for k, v in _LETTER.items()}[match[3]]
        return layer

    def entries(self, layer: dict, grads: dict, where: str) -> Iterator[tuple]:
        for j in range(len(layer["b"])):
            yield f'{where}["b"][{j}]', layer["b"], j, grads["db"][j]
            for i in range(len(layer["k"])):
                k, dk = layer["k"][i][j], grads["dk"][i][j]
                for u in range(k.shape[0]):
                    for v in range(k.shape[1]):
                        yield f'{where}["k"][{i}][{j}][{u}, {v}]', k, (u, v), dk[u, v]
