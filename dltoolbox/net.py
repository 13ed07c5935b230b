"""The net itself: the one table of its fields, the containers it stores, and its shape rules.

A net is a plain dict, as in the toolbox: ``net["layers"][l]`` is a dict per layer and the
output's fields (``ffW``, ``ffb``, ``o``, ...) sit at the top. Every field is described once, by
a :class:`Field`: the layer kinds of :mod:`dltoolbox.layers` declare theirs (a conv layer's
``k``, ``b``, ``dk``, ...), the output kind the top-level ones, and this module the net-wide
ones (``rL``, ``engine``). Files (:mod:`dltoolbox.netio`), updates (:mod:`.cnnapplygrads`),
comparisons and the gradient check walk that table instead of naming fields.

Forms (how a field's value is stored in the dict):

- ``"str"``: a string (``type``, ``activation``, ``engine``, ...)
- ``"int"``: a positive integer (``outputmaps``, ``kernelsize``, ``scale``, ``channels``)
- ``"real"``: a number (an 'f' layer's ``dropout``)
- ``"value"``: an integer or a string (a conv layer's ``padding``: 2 or ``"same"``)
- ``"table"``: a boolean 2-D array (a conv layer's ``connections``)
- ``"maps"``: a list of maps, each (rows, cols, batch) (``a``, ``d``), stored as a
  :class:`MapStack`
- ``"grid"``: ``k[i][j]``, a nested list of (ks, ks) kernels, stored as a :class:`KernelStack`
- ``"scalars"``: a list of numbers, one per map (``b``, ``db``)
- ``"array"``: one array (``ffW`` (classes, features), ``o`` (classes, batch), ...)
- ``"vector"``: a 1-D array (``rL``)
- ``"scalar"``: one number (``L``)
"""

from __future__ import annotations

import functools
import itertools
import operator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

FORMS = ("str", "int", "real", "value", "table", "maps", "grid", "scalars", "array", "vector")
FORMS += ("scalar",)
#: Roles: what a field is for. ``param`` fields are trained (with ``grad`` and ``velocity``
#: names); ``pass`` and ``grad`` fields belong to the last forward/backward pass (dropped by
#: ``save_net(..., activations=False)``); ``unused`` fields are kept as the toolbox has them.
ROLES = ("spec", "param", "grad", "velocity", "pass", "train", "unused")


@dataclass(frozen=True)
class Field:
    """One field of a layer dict or of the net dict.

    ``grad``/``velocity`` name a parameter's gradient and momentum velocity fields; ``decays``
    says whether weight decay applies to it (weights, not biases).
    """

    name: str
    form: str
    role: str
    doc: str
    grad: str | None = None
    velocity: str | None = None
    decays: bool = False

    def __post_init__(self) -> None:
        assert self.form in FORMS and self.role in ROLES, self

    @property
    def of_last_pass(self) -> bool:
        """Whether the field belongs to the last pass (``save_net(activations=False)`` drops it)."""
        return self.role in ("pass", "grad")


#: Fields of the net dict that belong to no layer kind and to no output: the training record
#: and the engine's name.
NET_FIELDS = (
    Field("rL", "vector", "train", "(n,) smoothed loss, one entry per batch (cnntrain)"),
    Field("engine", "str", "spec", 'the engine of cnnff/cnnbp ("fast" or "reference")'),
)


def top_fields() -> tuple[Field, ...]:
    """Every field of the net dict (besides ``layers``), in the order files write them."""
    from .layers import OUTPUT

    head, tail = OUTPUT.fields[:2], OUTPUT.fields[2:]  # ffb, ffW, then rL as the toolbox has
    return (*head, NET_FIELDS[0], *tail, *NET_FIELDS[1:])


def layer_fields(kind: str) -> tuple[Field, ...]:
    """The fields a layer of type ``kind`` may have (none for an unknown type)."""
    from .layers import KINDS

    return KINDS[kind].fields if kind in KINDS else ()


@functools.cache
def field_table(kind: str | None = None) -> dict[str, Field]:
    """The fields by name, in table order, of a layer of type ``kind`` (the net dict's when
    ``kind`` is None; none for an unknown type): made once per kind."""
    return {f.name: f for f in (top_fields() if kind is None else layer_fields(kind))}


def field_of(key: str, kind: str | None = None) -> Field | None:
    """The field ``key`` of a layer of type ``kind``, or of the net dict when ``kind`` is None."""
    return field_table(kind).get(key)


def params_of(kind: str | None = None) -> tuple[Field, ...]:
    """The trained fields of a layer of type ``kind`` (of the net dict: None)."""
    table = top_fields() if kind is None else layer_fields(kind)
    return tuple(f for f in table if f.role == "param")


# --------------------------------------------------------------------------- shape rules


def dtype_of(value) -> np.dtype:
    """The dtype a net computes in for data ``value``: float32 for float32, else float64."""
    return np.dtype(np.float32 if getattr(value, "dtype", None) == np.float32 else np.float64)


def channels(net: dict) -> int:
    """The net's input channel count (1 unless its input layer says otherwise)."""
    from .layers import kind_of

    return kind_of(net["layers"][0]).channels(net["layers"][0])


def map_sizes(
    layers: list, mapsize: tuple[int, int], channels: int = 1
) -> list[tuple[int, int, int]]:
    """(maps, rows, cols) of every layer for ``channels`` input maps of ``mapsize``; each kind
    checks that its input fits (an error names the layer)."""
    from .layers import kind_of

    sizes = [(channels, *mapsize)]
    for l, layer in enumerate(layers[1:], start=1):
        sizes.append(kind_of(layer).out_shape(layer, sizes[-1], l))
    return sizes


class ConvGeometry(NamedTuple):
    """How a convolution layer reads its input maps: ks x ks kernels over the maps zero-padded
    by ``pad`` on every side, every ``stride``-th position. (ks, 0, 1) is the toolbox's 'valid'
    convolution."""

    ks: int
    pad: int = 0
    stride: int = 1

    def out_size(self, n: int) -> int:
        """The output rows (or columns) for ``n`` input rows: floor((n + 2 pad - ks) / stride)
        + 1 (rows past the last whole stride are not read)."""
        return (n + 2 * self.pad - self.ks) // self.stride + 1

    def used(self, n_out: int) -> int:
        """The padded input rows that ``n_out`` output rows read."""
        return (n_out - 1) * self.stride + self.ks


def flatten(maps: list) -> np.ndarray:
    """(features, batch): each (rows, cols, batch) map flattened column-major (MATLAB's
    ``reshape``) and stacked map after map, as the toolbox's ``fv``; never a view of the maps."""
    stack = map_array(maps)  # (maps, rows, cols, batch)
    fv = stack.transpose(0, 2, 1, 3).reshape(-1, stack.shape[-1])
    return fv.copy() if np.may_share_memory(fv, stack) else fv


def unflatten(features: np.ndarray, maps: int, rows: int, cols: int) -> MapStack:
    """The inverse of :func:`flatten`: (features, batch) as maps, views of ``features``."""
    batch = features.shape[-1]
    return MapStack(features.reshape(maps, cols, rows, batch).transpose(0, 2, 1, 3))


# --------------------------------------------------------------------------- containers


class MapStack(list):
    """The list of maps ``[stack[0], stack[1], ...]``, each a view of shape (rows, cols, batch).

    It behaves as the plain list the net documents; :func:`map_array` reads ``stack`` (maps,
    rows, cols, batch) directly as long as the list still holds exactly those views.
    ``record`` is what the engine that computed the maps keeps for the backward pass (a conv
    layer's patch matrix, see :mod:`dltoolbox.engines`), or None; it is neither saved nor
    compared, and a copy of the list (a plain list) has none: the engine then recomputes it.
    """

    def __init__(self, stack: np.ndarray, record: object = None) -> None:
        super().__init__(stack)
        self.stack = stack
        self.views = tuple(self)
        self.record = record

    def __reduce__(self):
        """Pickled and deep-copied as the plain list of maps."""
        return list, (list(self),)


def stack_of(maps: list) -> np.ndarray | None:
    """The (maps, rows, cols, batch) array behind ``maps`` if it is an intact
    :class:`MapStack` (it still holds exactly its views), else None."""
    if (
        isinstance(maps, MapStack)
        and len(maps) == len(maps.views)
        and all(map(operator.is_, maps, maps.views))
    ):
        return maps.stack
    return None


def map_array(maps: list) -> np.ndarray:
    """The (maps, rows, cols, batch) array of a list of (rows, cols, batch) maps: the array
    behind an intact :class:`MapStack` or a lone contiguous map (not a copy: do not write to
    it), else a new one."""
    stack = stack_of(maps)
    if stack is not None:
        return stack
    if len(maps) == 1:  # e.g. the input layer: batch innermost makes the patch copies cheap
        return np.ascontiguousarray(maps[0])[None]
    return np.stack(maps)


def as_maps(maps: list) -> MapStack:
    """``maps`` as a :class:`MapStack` (itself when it already is one)."""
    return maps if isinstance(maps, MapStack) else MapStack(np.stack(maps))


class KernelStack(list):
    """The nested list ``k[i][j]``, each a (ks, ks) view of one (maps_in, maps_out, ks, ks) array.

    It behaves as the plain list of lists the net documents; :func:`kernel_array` reads the
    array directly as long as the lists still hold exactly those views.
    """

    def __init__(self, stack: np.ndarray) -> None:
        stack = np.ascontiguousarray(stack)  # so that the flat views below are views of it
        maps_in, maps_out = stack.shape[:2]
        flat = list(stack.reshape(maps_in * maps_out, *stack.shape[2:]))  # views, in one pass
        super().__init__(flat[i * maps_out : (i + 1) * maps_out] for i in range(maps_in))
        self.stack = stack
        self.rows = tuple(self)
        self.flat = tuple(flat)

    def __reduce__(self):
        """Pickled and deep-copied as the plain list of lists."""
        return list, ([list(row) for row in self],)


def kernel_stack_of(k: list) -> np.ndarray | None:
    """The (maps_in, maps_out, ks, ks) array behind ``k`` if it is an intact
    :class:`KernelStack` (its lists still hold exactly its views), else None."""
    if (
        isinstance(k, KernelStack)
        and len(k) == len(k.rows)
        and all(map(operator.is_, k, k.rows))
        and sum(map(len, k)) == len(k.flat)
        and all(map(operator.is_, itertools.chain.from_iterable(k), k.flat))
    ):
        return k.stack
    return None


def kernel_array(k: list | np.ndarray) -> np.ndarray:
    """The (maps_in, maps_out, ks, ks) array of the kernels ``k[i][j]``: the array behind an
    intact :class:`KernelStack`, or ``k`` itself when it is that array already (contiguous;
    not a copy: do not write to it), else a new one."""
    if isinstance(k, np.ndarray):
        return np.ascontiguousarray(k)
    stack = kernel_stack_of(k)
    return np.array(k) if stack is None else stack


@functools.cache
def grid_fields(kind: str) -> tuple[str, ...]:
    """The names of the kernel-grid fields (``k[i][j]`` and its gradient and velocity) of a
    layer of type ``kind``."""
    return tuple(f.name for f in layer_fields(kind) if f.form == "grid")


def list_kernels(net: dict) -> dict:
    """``net`` with every kernel grid in the form it documents, in place: each field that the
    loop cores (``forward``, ``backward``, ``update``) left as one (maps_in, maps_out, ks, ks)
    array becomes the :class:`KernelStack` ``k[i][j]`` of views of it.

    The cores keep the kernels, their gradients and velocities as those arrays because a
    :class:`KernelStack` costs a view per kernel to build and to check on every step (LeNet-5's
    C5 has 1,920 kernels; see docs/performance.md); every public function that runs them
    (:func:`~dltoolbox.cnnbp`, :func:`~dltoolbox.cnnapplygrads`, :func:`~dltoolbox.cnntrain`
    at the end, before each progress callback and checkpoint, and on every error) calls this
    before the net is seen. Returns ``net``.
    """
    for layer in net["layers"]:
        for name in grid_fields(layer.get("type")):
            value = layer.get(name)
            if isinstance(value, np.ndarray):
                layer[name] = KernelStack(value)
    return net


def as_kernels(k: list) -> KernelStack:
    """``k`` as a :class:`KernelStack` (itself when it is an intact one)."""
    stack = kernel_array(k)
    return k if isinstance(k, KernelStack) and stack is k.stack else KernelStack(stack)


# --------------------------------------------------------------------------- values by form


def as_array(field: Field, value) -> np.ndarray:
    """A ``grid``, ``scalars`` or ``array`` field's value as one array (kernels as (maps_in,
    maps_out, ks, ks); read only: it may be the array behind a :class:`KernelStack`)."""
    return kernel_array(value) if field.form == "grid" else np.asarray(value)


def as_value(field: Field, array: np.ndarray):
    """``array`` in the net's layout for ``field``: a :class:`KernelStack` for a grid, a list
    of numbers (float for float64, else numpy scalars) for scalars, the array itself else."""
    if field.form == "grid":
        return KernelStack(array)
    if field.form == "scalars":
        if array.dtype == np.float64:
            return array.tolist()  # Python floats, exactly
        return list(array)  # numpy scalars of the array's dtype
    return array


def cast(field: Field, value, dtype: np.dtype):
    """``field``'s value with its numbers stored as ``dtype``."""
    if field.form == "scalars":
        return [dtype.type(v) for v in value]
    return as_value(field, as_array(field, value).astype(dtype))
