"""The convolution layer ('c'): ``a[j] = f(sum_i convn(a_prev[i], k[i][j], 'valid') + b[j])``.

Weights: ``k[i][j]`` (ks, ks) per input map i and output map j, drawn uniform in
``+-sqrt(6 / (fan_in + fan_out))`` with ``fan_in = inmaps * ks^2``, ``fan_out = maps * ks^2``
(output map j outer, input map i inner: the toolbox's draw order); ``b[j] = 0``.

Options beyond the toolbox (absent: the toolbox's layer, computed exactly as before):

- ``"padding"``: p zero rows and columns around every input map, an int >= 0, or ``"same"``
  ((ks - 1) / 2 for an odd ks: the output keeps the input's size).
- ``"stride"``: s >= 1, the step between the positions read. The output has
  ``floor((n + 2p - ks) / s) + 1`` rows; when ``(n + 2p - ks)`` is not a multiple of s that is
  an error naming the layer, unless ``"remainder": "drop"``, which (as PyTorch, TensorFlow's
  'VALID' and Caffe do) leaves the last rows and columns that no whole step reaches unread.
- ``"connections"``: a boolean (inputmaps, outputmaps) table; output map j sums only over the
  input maps i its column marks (LeCun et al. 1998's C3: :data:`LENET5_C3`). The kernel of an
  unconnected pair is a zero ``k[i][j]``, kept so that ``k`` stays the toolbox's full grid, but
  it is no parameter: never drawn, never used, its gradient ``dk[i][j]`` and velocity
  ``vk[i][j]`` are 0, no step changes it (weight decay included, whatever value it was given),
  and neither cnnsummary nor cnnnumgradcheck count it. The bound of the initial
  weights then counts the connections: ``fan_in = connections / maps * ks^2``,
  ``fan_out = connections / inmaps * ks^2``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import numpy as np

from ..activations import ACTIVATIONS
from ..constraints import NON_NEGATIVE_INT, POSITIVE_INT, Instance, Options
from ..errors import InputError
from ..net import ConvGeometry, Field, KernelStack, kernel_array
from .base import MAP_FIELDS, TYPE_FIELD, LayerKind

_LETTER = {"sigm": "", "relu": "r", "tanh": "t"}

#: LeCun et al. (1998), Table I: which of S2's 6 maps (rows) each of C3's 16 maps (columns)
#: reads. Columns 0-5 take 3 neighbouring maps, 6-11 four, 12-14 four non-neighbouring, 15 all;
#: 60 connections, so C3 has 60 * 25 + 16 = 1,516 trainable parameters.
LENET5_C3 = np.zeros((6, 16), dtype=bool)
for _j, _maps in enumerate(
    [[i % 6 for i in range(j, j + 3)] for j in range(6)]
    + [[i % 6 for i in range(j, j + 4)] for j in range(6)]
    + [[0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5], list(range(6))]
):
    LENET5_C3[_maps, _j] = True
LENET5_C3.flags.writeable = False
#: Connection tables a spec may name (``16c5@lenet5``).
CONNECTION_TABLES = {"lenet5": LENET5_C3}


def _is_table(value) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == bool and value.ndim == 2


class Conv(LayerKind):
    type = "c"
    name = "convolution"
    required = {"outputmaps": POSITIVE_INT, "kernelsize": POSITIVE_INT}
    optional = {
        "activation": (Options(ACTIVATIONS), ACTIVATIONS[0]),
        "padding": ((NON_NEGATIVE_INT, Options(("same",))), 0),
        "stride": (POSITIVE_INT, 1),
        "remainder": (Options(("error", "drop")), "error"),
        "connections": (Instance("a boolean (inputmaps, outputmaps) array", _is_table), None),
    }
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
        Field("padding", "value", "spec", 'zeros around each input map: an int or "same"'),
        Field("stride", "int", "spec", "the step between the positions read (absent: 1)"),
        Field("remainder", "str", "spec", '"error" (default) or "drop": see the module'),
        Field("connections", "table", "spec", "(inputmaps, outputmaps) bool: see the module"),
    )  # fmt: skip
    spec_pattern = re.compile(
        r"([0-9]+)c([0-9]+)([rt]?)(?:p([0-9]+|s))?(?:s([0-9]+)(d?))?(?:@(\w+))?"
    )
    spec_help = (
        "<maps>c<kernelsize> (such as 6c5, or 6c5r for relu, 6c5t for tanh; then p<n> or ps "
        "for zero padding n or 'same', s<n> for stride n (s<n>d: drop the remainder), @lenet5 "
        "for LeCun's C3 connection table, in that order: 16c5t@lenet5, 6c3rps, 6c3pss2d)"
    )

    def geometry(self, layer: dict) -> ConvGeometry:
        """The layer's kernel size, padding ('same' resolved) and stride."""
        ks, padding = self.get(layer, "kernelsize"), self.get(layer, "padding")
        pad = (ks - 1) // 2 if padding == "same" else int(padding)
        return ConvGeometry(ks, pad, int(self.get(layer, "stride")))

    def check(self, layer: dict, where: str) -> None:
        super().check(layer, where)
        if layer.get("padding") == "same" and self.get(layer, "kernelsize") % 2 == 0:
            raise InputError(
                f'{where}["padding"]: "same" needs an odd kernelsize (the output keeps the '
                f"input size only then), got kernelsize {self.get(layer, 'kernelsize')}"
            )

    def out_shape(self, layer: dict, shape: tuple[int, int, int], l: int) -> tuple:
        inmaps, rows, cols = shape
        g, where = self.geometry(layer), f'net["layers"][{l}]'
        self._check_table(layer, inmaps, where)
        if g.ks > rows + 2 * g.pad or g.ks > cols + 2 * g.pad:
            padded = f" padded by {g.pad}" if g.pad else ""
            raise InputError(
                f'{where}["kernelsize"]: expected at most the input map size {rows} x {cols}'
                f"{padded}, got {g.ks}"
            )
        spans = (rows + 2 * g.pad - g.ks, cols + 2 * g.pad - g.ks)
        if any(n % g.stride for n in spans) and self.get(layer, "remainder") != "drop":
            raise InputError(
                f'{where}["stride"]: {g.stride} does not divide the {spans[0]} x {spans[1]} '
                f"positions past the first of a {rows} x {cols} map (padding {g.pad}, "
                f'kernelsize {g.ks}); expected a divisor, or set {where}["remainder"] to '
                '"drop" to leave the remainder unread'
            )
        return self.get(layer, "outputmaps"), g.out_size(rows), g.out_size(cols)

    def _check_table(self, layer: dict, inmaps: int, where: str) -> None:
        table, maps = layer.get("connections"), self.get(layer, "outputmaps")
        if table is None:
            return
        if table.shape != (inmaps, maps):
            raise InputError(
                f'{where}["connections"]: expected a boolean ({inmaps}, {maps}) table '
                f"(inputmaps, outputmaps), got shape {table.shape}"
            )
        if not table.any(axis=0).all():
            lonely = np.flatnonzero(~table.any(axis=0)).tolist()
            raise InputError(
                f'{where}["connections"]: expected every output map connected to an input map '
                f"(a True in each column), got output maps {lonely} connected to none"
            )

    def setup(self, layer: dict, shape_in: tuple[int, int, int], rng) -> None:
        inmaps = shape_in[0]
        maps, ks = self.get(layer, "outputmaps"), self.get(layer, "kernelsize")
        table = self._table(layer, inmaps)
        links = int(table.sum())
        bound = math.sqrt(6 / (links / maps * ks**2 + links / inmaps * ks**2))
        k = np.zeros((inmaps, maps, ks, ks))
        for j in range(maps):
            for i in range(inmaps):
                if table[i, j]:
                    k[i, j] = (rng.rand(ks) - 0.5) * 2 * bound
        layer["k"] = KernelStack(k)
        layer["b"] = [0.0] * maps

    def param_shapes(self, layer: dict, shape_in: tuple[int, int, int]) -> dict[str, tuple]:
        maps, ks = self.get(layer, "outputmaps"), self.get(layer, "kernelsize")
        return {
            "k": ((shape_in[0], maps, ks, ks), "maps below x outputmaps, kernelsize"),
            "b": ((maps,), "biases (outputmaps)"),
        }

    def _table(self, layer: dict, inmaps: int) -> np.ndarray:
        table = layer.get("connections")
        return np.ones((inmaps, self.get(layer, "outputmaps")), bool) if table is None else table

    def step_mask(self, layer: dict, name: str) -> np.ndarray | None:
        """The connection table as a (inputmaps, outputmaps, 1, 1) mask for ``k``: no step
        (weight decay and momentum included) changes an unconnected kernel."""
        table = layer.get("connections")
        return None if table is None or name != "k" else table[:, :, None, None]

    def _kernels(self, layer: dict, key: str = "k") -> list | np.ndarray:
        """``layer[key]``, with the kernels of unconnected pairs zeroed (if there are any: then
        as one (maps_in, maps_out, ks, ks) array)."""
        table = layer.get("connections")
        if table is None:
            return layer[key]
        return kernel_array(layer[key]) * table[:, :, None, None]

    def forward(self, layer: dict, below: dict, engine, slot: int, rng=None) -> None:
        layer["a"] = engine.conv_forward(
            below["a"], self._kernels(layer), layer["b"], self.get(layer, "activation"), slot,
            self.geometry(layer),
        )  # fmt: skip

    def backward(self, layer: dict, below: dict, grad, engine, need_input: bool):
        d = engine.activation_delta(layer["a"], grad, self.get(layer, "activation"))
        layer["d"] = d
        geometry = self.geometry(layer)
        layer["dk"], layer["db"] = engine.conv_grads(below["a"], d, layer["a"], geometry)
        if layer.get("connections") is not None:
            layer["dk"] = self._kernels(layer, "dk")
        if not need_input:
            return None
        # the delta of the layer below: 'full' convolutions with the rotated kernels
        size = np.shape(below["a"][0])[:2]
        return engine.conv_input_grad(d, self._kernels(layer), geometry, size)

    def summary(self, layer: dict, shape_in: tuple, shape_out: tuple) -> tuple:
        g, inmaps = self.geometry(layer), shape_in[0]
        maps, rows, cols = shape_out
        links = int(self._table(layer, inmaps).sum())
        params = links * g.ks**2 + maps
        macs = links * g.ks**2 * rows * cols
        extra = "".join(
            text
            for text, shown in (
                (f" pad {g.pad}", g.pad),
                (f" stride {g.stride}", g.stride > 1),
                (f" {links}/{inmaps * maps} links", layer.get("connections") is not None),
            )
            if shown
        )
        kind = f"conv {g.ks}x{g.ks} {self.get(layer, 'activation')}{extra}"
        return kind, params, macs, g.ks, g.stride

    def spec(self, layer: dict) -> str:
        act, padding = self.get(layer, "activation"), self.get(layer, "padding")
        token = f"{layer.get('outputmaps', '?')}c{layer.get('kernelsize', '?')}"
        token += _LETTER.get(act, f"[{act}]")
        if padding != 0:
            token += "ps" if padding == "same" else f"p{padding}"
        if self.get(layer, "stride") != 1 or self.get(layer, "remainder") == "drop":
            token += f"s{self.get(layer, 'stride')}"
            token += "d" if self.get(layer, "remainder") == "drop" else ""
        table = layer.get("connections")
        if table is not None:
            names = [n for n, t in CONNECTION_TABLES.items() if np.array_equal(t, table)]
            token += f"@{names[0]}" if names else "@[table]"
        return token

    def from_spec(self, match: re.Match) -> dict | None:
        maps, ks = int(match[1]), int(match[2])
        if not maps or not ks or (match[5] and not int(match[5])):
            return None
        if match[7] and match[7] not in CONNECTION_TABLES:
            return None
        layer = {"type": "c", "outputmaps": maps, "kernelsize": ks}
        options = (
            ("activation", {v: k for k, v in _LETTER.items()}.get(match[3]) if match[3] else None),
            ("padding", None if match[4] is None else "same" if match[4] == "s" else int(match[4])),
            ("stride", int(match[5]) if match[5] else None),
            ("remainder", "drop" if match[6] else None),
            ("connections", CONNECTION_TABLES.get(match[7]) if match[7] else None),
        )
        layer.update((key, value) for key, value in options if value is not None)
        return layer

    def entries(self, layer: dict, grads: dict, where: str) -> Iterator[tuple]:
        table = self._table(layer, len(layer["k"]))
        for j in range(len(layer["b"])):
            yield f'{where}["b"][{j}]', layer["b"], j, grads["db"][j]
            for i in range(len(layer["k"])):
                if not table[i, j]:
                    continue
                k, dk = layer["k"][i][j], grads["dk"][i][j]
                for u in range(k.shape[0]):
                    for v in range(k.shape[1]):
                        yield f'{where}["k"][{i}][{j}][{u}, {v}]', k, (u, v), dk[u, v]
