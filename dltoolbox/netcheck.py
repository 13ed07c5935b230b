"""A net's stored fields checked against the shapes its layers give them.

Each layer kind says what shape its trained fields must have for the maps it reads
(:meth:`~dltoolbox.layers.base.LayerKind.param_shapes`: a conv layer's ``k`` is (maps below,
outputmaps, ks, ks) and ``b`` has outputmaps numbers) and what the last pass left
(:meth:`~dltoolbox.layers.base.LayerKind.pass_shapes`); this module walks the layers once and
checks every field by its form (:mod:`dltoolbox.net`), its gradient and velocity with it.

The checks are shape, length and dtype tests, plus one finiteness pass over the parameters:
cheap, and made once per call of a public function (once per ``cnntrain``, not per batch). A
field that is missing, mis-shaped, not float32/float64 or not finite is a
:class:`~dltoolbox.errors.NetFieldError` naming it::

    net["layers"][1]["b"]: expected 2 biases (outputmaps), got 1
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .constraints import describe
from .errors import InputError, NetFieldError
from .layers import OUTPUT, kind_of
from .net import (
    Field,
    as_array,
    field_of,
    kernel_array,
    kernel_stack_of,
    layer_fields,
    stack_of,
    top_fields,
)

#: The dtypes a net's numbers may have.
FLOATS = (np.dtype(np.float64), np.dtype(np.float32))
_SETUP = "missing; call cnnsetup(net, x, y) first, or load a set-up net"


def output_classes(net: dict) -> int:
    """The net's output count: the rows of ``ffW``, checked to be a 2-D float array."""
    ffW = net.get("ffW")
    if not (isinstance(ffW, np.ndarray) and ffW.ndim == 2 and ffW.dtype in FLOATS):
        raise NetFieldError('net["ffW"]', f"expected a 2-D float array, got {describe(ffW)}")
    return ffW.shape[0]


def check_params(
    net: dict, sizes: list, source: str, grads: bool = False, finite: bool = True
) -> None:
    """Every trained field of a set-up net (and its velocity, if any; its gradient too, which
    must then be there, when ``grads``) has the shape that the layers give it for their map
    sizes ``sizes`` (:func:`dltoolbox.net.map_sizes` of ``source``'s maps, such as x), a float
    dtype, and (``finite``) no NaN or Inf."""
    layers, checked = net["layers"], []
    for l in range(1, len(layers)):
        layer, kind, where = layers[l], kind_of(layers[l]), f'net["layers"][{l}]'
        shapes = kind.param_shapes(layer, sizes[l - 1])
        if not shapes:  # no weights (a pooling layer)
            continue
        _check_features(layer, kind, layers[l - 1], shapes, sizes[0], where, source)
        checked += _check_fields(layer, layer["type"], shapes, where, _SETUP, grads)
    shapes = OUTPUT.param_shapes(math.prod(sizes[-1]), output_classes(net))
    _check_features(net, OUTPUT, layers[-1], shapes, sizes[0], "net", source)
    checked += _check_fields(net, None, shapes, "net", _SETUP, grads)
    if finite and not np.isfinite(np.concatenate([arr.ravel() for _, arr, _ in checked])).all():
        for field, arr, at in checked:  # one pass over all the numbers; then find the field
            require_finite(field, arr, at)


def check_last_pass(net: dict, sizes: list, batch: int) -> None:
    """The maps of the last cnnff that cnnbp reads (every layer's ``a``, ``fv``, ``o``) are
    there, with the shapes of ``sizes`` for ``batch`` samples."""
    missing = "missing; call cnnff(net, x) first"
    for l, layer in enumerate(net["layers"]):
        shapes = kind_of(layer).pass_shapes(layer, sizes[l], batch)
        _check_fields(layer, layer["type"], shapes, f'net["layers"][{l}]', missing)
    shapes = OUTPUT.pass_shapes(math.prod(sizes[-1]), output_classes(net), batch)
    _check_fields(net, None, shapes, "net", missing)


def _check_features(
    owner: dict, kind: Any, below: dict, shapes: dict, size_in: tuple, where: str, source: str
) -> None:
    """The columns of the field that reads the flattened maps below (an 'f' layer's ``W``, or
    ``ffW``) against their feature count for ``source``'s maps (``size_in``: the input layer's
    (channels, rows, cols)): a mismatch is the input's size, unless the field is mis-shaped
    otherwise (then the field checks say so)."""
    name = kind.features_field
    if name is None:
        return
    value = owner.get(name)
    if kind_of(below).flat or not isinstance(value, np.ndarray) or value.ndim != 2:
        return
    (rows, features), _ = shapes[name]
    if value.shape[0] == rows and value.shape[1] != features:
        raise InputError(
            f"{source}: maps of size {size_in[1:]} give {features} features, but {name} expects "
            f'{value.shape[1]} (the columns of {where}["{name}"]): {source} does not match the '
            f"size the net was set up for (or {name} was changed)"
        )


def _check_fields(
    owner: dict, kind: str | None, shapes: dict, where: str, missing: str, grads: bool = False
) -> list[tuple[Field, np.ndarray, str]]:
    """Each field of ``shapes`` in ``owner`` (a layer dict, or the net: ``kind`` None) by its
    form; a parameter's velocity when present, its gradient too (required when ``grads``).
    Returns (field, its numbers, its name) of each field checked."""
    checked = []
    for name, (shape, words) in shapes.items():
        field = field_of(name, kind)
        if name not in owner:
            raise NetFieldError(f'{where}["{name}"]', missing)
        at = f'{where}["{name}"]'
        checked.append((field, _check_value(field, owner[name], shape, words, at), at))
        for other, needed in ((field.grad, grads), (field.velocity, False)):
            if other is None or (other not in owner and not needed):
                continue
            at = f'{where}["{other}"]'
            if other not in owner:
                raise NetFieldError(at, "missing; call cnnbp(net, y) first")
            other_field = field_of(other, kind)
            arr = _check_value(other_field, owner[other], shape, f"as {name}", at)
            checked.append((other_field, arr, at))
    return checked


def _check_value(field: Field, value: Any, shape: tuple, words: str, at: str) -> np.ndarray:
    """``value`` of ``field`` as one array, checked to have ``shape`` in the field's form and
    float numbers; else a NetFieldError naming ``at``."""
    arr = _FORMS[field.form](value, shape, words, at)
    if arr.dtype not in FLOATS:
        raise NetFieldError(at, f"expected float64 or float32 numbers, got dtype {arr.dtype}")
    return arr


def require_finite(field: Field, arr: np.ndarray, at: str, hint: str = "") -> None:
    """No NaN or Inf in ``arr``, the numbers of ``field`` (named ``at``); else a NetFieldError
    saying how many and where the first is, then ``hint``."""
    if np.isfinite(arr).all():
        return
    bad = ~np.isfinite(arr)
    first = [int(i) for i in np.unravel_index(int(np.argmax(bad)), arr.shape)]
    parts = ([first[0]], [first[1]], first[2:]) if field.form == "grid" else (first,)
    index = "".join(f"[{', '.join(map(str, part))}]" for part in parts)
    raise NetFieldError(
        at,
        f"expected finite numbers, found {np.count_nonzero(bad)} NaN or Inf (the first at "
        f"{index}): a diverged or damaged net{hint}",
    )


def check_finite(net: dict, hint: str = "") -> None:
    """Every parameter and velocity of ``net`` (a dict with a list of layer dicts) is finite;
    a value that is not numbers of its form is left to the caller's own checks."""
    owners = [
        (layer, layer.get("type"), f'net["layers"][{l}]') for l, layer in enumerate(net["layers"])
    ]
    for owner, kind, where in [*owners, (net, None, "net")]:
        for field in layer_fields(kind) if kind is not None else top_fields():
            if field.role not in ("param", "velocity") or field.name not in owner:
                continue
            try:
                arr = np.asarray(as_array(field, owner[field.name]), dtype=np.float64)
            except (TypeError, ValueError):
                continue
            require_finite(field, arr, f'{where}["{field.name}"]', hint)


def _array(value: Any, shape: tuple, words: str, at: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.shape != shape:
        got = f"shape {value.shape}" if isinstance(value, np.ndarray) else describe(value)
        raise NetFieldError(at, f"expected an array of shape {shape} ({words}), got {got}")
    return value


def _scalars(value: Any, shape: tuple, words: str, at: str) -> np.ndarray:
    (n,) = shape
    if not isinstance(value, (list, tuple, np.ndarray)) or len(value) != n:
        got = len(value) if isinstance(value, (list, tuple, np.ndarray)) else describe(value)
        raise NetFieldError(at, f"expected {n} {words}, got {got}")
    try:
        arr = np.asarray(value)
    except ValueError:  # ragged
        arr = np.asarray(None)
    if arr.shape != shape or arr.dtype == object:
        raise NetFieldError(at, f"expected {n} numbers ({words}), got {value!r:.80}")
    return arr


def _grid(value: Any, shape: tuple, words: str, at: str) -> np.ndarray:
    n_in, n_out, ks_r, ks_c = shape
    stack = value if isinstance(value, np.ndarray) else kernel_stack_of(value)
    if stack is not None and stack.shape == shape:
        return stack
    want = f"{n_in} x {n_out} kernels of {ks_r} x {ks_c} ({words})"
    if not isinstance(value, (list, tuple)) or len(value) != n_in:
        got = f"{len(value)} rows" if isinstance(value, (list, tuple)) else describe(value)
        raise NetFieldError(at, f"expected {want}, got {got}")
    for i, row in enumerate(value):
        if not isinstance(row, (list, tuple)) or len(row) != n_out:
            got = f"{len(row)}" if isinstance(row, (list, tuple)) else describe(row)
            raise NetFieldError(f"{at}[{i}]", f"expected {n_out} kernels (outputmaps), got {got}")
        for j, k in enumerate(row):
            _array(k, (ks_r, ks_c), "kernelsize x kernelsize", f"{at}[{i}][{j}]")
    return kernel_array(value)


def _maps(value: Any, shape: tuple, words: str, at: str) -> np.ndarray:
    n, *each = shape
    stack = stack_of(value)
    if stack is not None and stack.shape == shape:
        return stack
    if not isinstance(value, (list, tuple)) or len(value) != n:
        got = f"{len(value)} maps" if isinstance(value, (list, tuple)) else describe(value)
        raise NetFieldError(at, f"expected {n} maps of {tuple(each)} ({words}), got {got}")
    for j, m in enumerate(value):
        _array(m, tuple(each), words, f"{at}[{j}]")
    return np.asarray(value[0])  # pass fields: the dtype only (finite=False), of the first


#: Form -> the checker of a value of that form against a shape (value, shape, words, name):
#: its numbers as one array.
_FORMS: dict[str, Callable[[Any, tuple, str, str], np.ndarray]] = {
    "array": _array,
    "scalars": _scalars,
    "grid": _grid,
    "maps": _maps,
}
