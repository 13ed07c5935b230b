"""What every layer kind provides: :class:`LayerKind`, and the fields all map layers share."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from ..constraints import Constraint, Interval, validate
from ..errors import InputError, InputTypeError
from ..net import Field, flatten, unflatten

#: The fields of every layer whose output is maps.
MAP_FIELDS = (
    Field("a", "maps", "pass", "[j] (rows, cols, batch): the layer's output maps (cnnff)"),
    Field("d", "maps", "pass", "[j] (rows, cols, batch): the layer's delta (cnnbp)"),
)
TYPE_FIELD = Field("type", "str", "spec", "the layer's kind ('i', 'c', 's', 'f')")


#: The registered kinds by ``layer["type"]``, filled by :mod:`dltoolbox.layers`.
KINDS: dict[str, LayerKind] = {}


def kind_of(layer: dict) -> LayerKind:
    """The kind of ``layer`` (a checked layer: its type is registered)."""
    return KINDS[layer["type"]]


@functools.cache
def _int_keys(kind: type) -> frozenset:
    """The keys of ``kind`` whose constraint is (or allows) an integer."""
    table = {**kind.required, **{k: c for k, (c, _) in kind.optional.items()}}
    return frozenset(
        key
        for key, constraint in table.items()
        if any(
            isinstance(c, Interval) and c.integer
            for c in (constraint if isinstance(constraint, tuple) else (constraint,))
        )
    )


class LayerKind:
    """One kind of layer (``layer["type"]``): its keys, shapes, weights, passes and summary.

    A kind is stateless: every method takes the layer dict it works on. The engine methods it
    calls (``engine.conv_forward`` ...) are those of :class:`dltoolbox.engines.Engine`.
    """

    #: ``layer["type"]``
    type: ClassVar[str]
    #: In words, for messages ("convolution").
    name: ClassVar[str]
    #: Keys a layer of this kind must have, and keys it may have (value: (constraint, default)).
    required: ClassVar[dict[str, Constraint]] = {}
    optional: ClassVar[dict[str, tuple[Constraint, Any]]] = {}
    #: Every field this kind's layers may hold (see :mod:`dltoolbox.net`).
    fields: ClassVar[tuple[Field, ...]] = ()
    #: Whether the layer's output is one vector per sample (an 'f' layer) rather than maps;
    #: no map layer may follow one.
    flat: ClassVar[bool] = False
    #: The trained field whose columns are the features of the layer below (None: none).
    features_field: ClassVar[str | None] = None
    #: The spec token (see :mod:`dltoolbox.spec`) and its description for help texts.
    spec_pattern: ClassVar[re.Pattern]
    spec_help: ClassVar[str]

    # ----------------------------------------------------------------- keys

    def check(self, layer: dict, where: str) -> None:
        """Check the layer's keys against :attr:`required` and :attr:`optional`; stored fields
        (weights, maps) are not checked here."""
        table = {**self.required, **{k: c for k, (c, _) in self.optional.items()}}
        stored = tuple(f.name for f in self.fields if f.name not in table)
        for key in self.required:
            if key not in layer:
                raise InputError(f"{where}: a {self.type!r} layer needs key {key!r}, missing")
        validate(layer, table, lambda key: f'{where}["{key}"]', ignore=stored)

    def get(self, layer: dict, key: str) -> Any:
        """``layer[key]``, or the default of an optional key; the values of integer keys
        (``outputmaps``, ``stride``, ``channels``, ...: 6.0 is accepted for 6) as int."""
        if key in layer:
            value = layer[key]
            return (
                int(value) if key in _int_keys(type(self)) and not isinstance(value, str) else value
            )
        return self.optional[key][1]

    # ----------------------------------------------------------------- shapes and weights

    def channels(self, layer: dict) -> int:
        """The input channels (only the input kind has any)."""
        raise InputTypeError(f"a {self.name} layer is not an input layer")

    def out_shape(self, layer: dict, shape: tuple[int, int, int], l: int) -> tuple:
        """(maps, rows, cols) of the output for an input of ``shape``; errors name the layer
        by its index ``l``."""
        raise NotImplementedError

    def setup(self, layer: dict, shape_in: tuple[int, int, int], rng) -> None:
        """Store the initial weights of a layer whose input is (maps, rows, cols) ``shape_in``,
        drawn from ``rng``."""

    def param_shapes(self, layer: dict, shape_in: tuple[int, int, int]) -> dict[str, tuple]:
        """The shape each trained field must have for an input of (maps, rows, cols)
        ``shape_in``, with the words that say where it comes from: ``{name: (shape, words)}``
        (a grid's shape is (inputmaps, outputmaps, ks, ks), a list's (maps,)). Their gradients
        and velocities have the same shapes. Checked by :mod:`dltoolbox.netcheck`."""
        return {}

    def pass_shapes(self, layer: dict, shape_out: tuple, batch: int) -> dict[str, tuple]:
        """As :meth:`param_shapes`, for the fields of the last forward pass that cnnbp reads:
        the maps ``a``, (maps, rows, cols, batch) for an output of ``shape_out``."""
        return {"a": ((*shape_out, batch), "maps x rows x cols x batch of the last cnnff")}

    def step_mask(self, layer: dict, name: str) -> np.ndarray | None:
        """Where a step of :func:`dltoolbox.cnnapplygrads` may change the trained field
        ``name``: an array that broadcasts to its (array) value, 1 where it may and 0 where the
        value is no parameter; None: everywhere."""
        return None

    # ----------------------------------------------------------------- passes

    def forward(self, layer: dict, below: dict, engine, slot: int, rng=None) -> None:
        """``layer["a"]`` from ``below["a"]``; ``slot`` (the layer's index) names the engine's
        buffers for this layer; ``rng`` is the training stream inside cnntrain (None: a pass
        outside training, as cnnff, cnntest and predictions make)."""
        raise NotImplementedError

    def backward(self, layer: dict, below: dict, grad, engine, need_input: bool):
        """From ``grad``, the loss gradient with respect to ``layer["a"]`` (in the engine's
        form), store ``layer["d"]`` and the layer's gradients; return the gradient with respect
        to ``below["a"]`` when ``need_input``, else None."""
        raise NotImplementedError

    def features(self, layer: dict) -> np.ndarray:
        """The layer's output as (features, batch), never a view of it: the maps flattened as
        the toolbox's ``fv`` (:func:`dltoolbox.net.flatten`)."""
        return flatten(layer["a"])

    def feature_grad(self, layer: dict, grad: np.ndarray):
        """A gradient with respect to :meth:`features` in the form of the layer's output (maps,
        views of ``grad``)."""
        maps, (rows, cols) = len(layer["a"]), np.shape(layer["a"][0])[:2]
        return unflatten(grad, maps, rows, cols)

    def delta_features(self, layer: dict) -> np.ndarray:
        """The layer's delta ``d`` as (features, batch), flattened as :meth:`features` is."""
        return flatten(layer["d"])

    # ----------------------------------------------------------------- description

    def summary(self, layer: dict, shape_in: tuple, shape_out: tuple) -> tuple:
        """(description, trainable parameters, multiply-adds per sample, window, stride): the
        last two give the receptive field (see :func:`dltoolbox.cnnsummary`); a window of None
        sees the whole input."""
        raise NotImplementedError

    def spec(self, layer: dict) -> str:
        """The layer's spec token."""
        raise NotImplementedError

    def from_spec(self, match: re.Match) -> dict | None:
        """The layer of a token that matched :attr:`spec_pattern`, or None if its numbers are
        not allowed (zero)."""
        raise NotImplementedError

    def entries(self, layer: dict, grads: dict, where: str) -> Iterator[tuple]:
        """(name, container, index, gradient) of every scalar parameter, in the toolbox's
        order of ``cnnnumgradcheck``: ``container[index]`` is the parameter in ``layer``,
        the gradient is read from ``grads`` (the same layer after cnnbp)."""
        return iter(())
