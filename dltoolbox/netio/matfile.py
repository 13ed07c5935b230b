"""The ``.mat`` format: the net as the toolbox's MATLAB struct, written and read field by field.

``layers`` is a cell column of structs; each field is written by its form (see
:mod:`dltoolbox.net`): integers as doubles (as MATLAB's literals are), ``k`` a (1, inputmaps)
cell of (1, outputmaps) cells of (ks, ks) kernels, maps and per-map scalars (1, maps) cells,
arrays as they are (``rL`` a row). Reading turns each form back, and gives maps Octave stored
without their batch axis (a batch of one) that axis again.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from ..errors import InputError, NetFileError
from ..fileutil import PathLike, write_atomically
from ..net import Field
from .fields import fields_to_write, in_table_order, table_of, warn_skipped, writing
from .values import (
    grid_value,
    layer_int,
    numeric,
    one_number,
    option_value,
    scalar_value,
    table_value,
)

_SELECTOR = re.compile(r"[A-Za-z]\w*(?:\.[A-Za-z]\w*|\{[1-9]\d*\})*")
_SELECTOR_STEP = re.compile(r"\.([A-Za-z]\w*)|\{(\d+)\}")


# --------------------------------------------------------------------------- net -> struct


def _cell(items: list, shape: tuple[int, int]) -> np.ndarray:
    """An object array (a MATLAB cell) of ``shape`` filled column-major from ``items``."""
    out = np.empty(shape, dtype=object)
    for n, item in enumerate(items):
        out[np.unravel_index(n, shape, order="F")] = item
    return out


def _row(items: list) -> np.ndarray:
    return _cell(items, (1, len(items)))


def _option_out(value: int | str) -> float | str:
    return value if isinstance(value, str) else float(value)  # MATLAB: doubles


def _grid_out(value: Any, where: str) -> np.ndarray:
    return _row([_row([numeric(v, where) for v in row]) for row in value])


#: Form -> the writer of a field's value as a struct field (value, name in messages).
_WRITERS: dict[str, Callable[[Any, str], Any]] = {
    "str": lambda value, where: value,
    "int": lambda value, where: float(layer_int(value, where)),
    "real": lambda value, where: one_number(value, where),
    "value": lambda value, where: _option_out(option_value(value, where)),
    "table": numeric,
    "grid": _grid_out,
    "maps": lambda value, where: _row([numeric(v, where) for v in value]),
    "scalars": lambda value, where: _row([one_number(v, where) for v in value]),
    "array": numeric,
    "vector": numeric,
    "scalar": numeric,
}


def _struct_of(
    d: dict, table: dict, where: str, activations: bool, skipped: list, exclude: tuple = ()
) -> dict:
    out: dict[str, Any] = {}
    for key, form, value in fields_to_write(d, table, activations, exclude):
        at = f'{where}["{key}"]'
        if form is None:
            skipped.append(at)
        else:
            with writing(at, form):
                out[key] = _WRITERS[form](value, at)
    return out


def to_struct(net: dict, activations: bool = True) -> dict:
    """The toolbox's struct of a checked net (see :func:`dltoolbox.netio.save_net`)."""
    skipped: list[str] = []
    layers = [
        _struct_of(layer, table_of(layer["type"]), f'net["layers"][{l}]', activations, skipped)
        for l, layer in enumerate(net["layers"])
    ]
    top = _struct_of(net, table_of(), "net", activations, skipped, ("layers",))
    warn_skipped(skipped, "save_net")
    return {"layers": _cell(layers, (len(layers), 1)), **top}


# --------------------------------------------------------------------------- struct -> net


def _struct_fields(value: np.ndarray) -> dict[str, Any]:
    return {n: value[n].reshape(-1)[0] for n in value.dtype.names}


def _cell_items(value: Any, where: str) -> list:
    if not isinstance(value, np.ndarray) or value.dtype != object:
        raise InputError(f"{where}: expected a cell, got {_kind(value)}")
    return list(value.reshape(-1, order="F"))


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        if value.dtype.names is not None:
            return f"a struct array of shape {value.shape}"
        what = "a cell" if value.dtype == object else f"a {value.dtype} array"
        return f"{what} of shape {value.shape}"
    return type(value).__name__


def _is_text(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "U"


def _array(value: Any, where: str) -> np.ndarray:
    """A numeric array read from the file, in C order as the net's own arrays are (scipy reads
    MATLAB's column-major data as Fortran-ordered arrays, whose products can round otherwise,
    so that a net read back would not train on to the same bits)."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        raise InputError(f"{where}: expected a numeric array, got {_kind(value)}")
    return np.ascontiguousarray(value if value.dtype.kind == "f" else value.astype(np.float64))


def _text(value: Any, where: str) -> str:
    if not _is_text(value):
        raise InputError(f"{where}: expected a string, got {_kind(value)}")
    return "".join(value.reshape(-1).tolist())


def _scalar_in(value: Any, where: str) -> Any:
    arr = _array(value, where)
    if arr.size != 1:
        raise InputError(f"{where}: expected a scalar, got shape {arr.shape}")
    return scalar_value(arr)


def _int_in(value: Any, where: str, field: Field) -> int:
    number = _scalar_in(value, where)
    return option_value(number, where) if field.form == "value" else layer_int(number, where)


def _grid_in(value: Any, where: str, field: Field) -> list:
    rows = [
        [
            _array(k, f"{where}{{{i + 1}}}{{{j + 1}}}")
            for j, k in enumerate(_cell_items(row, f"{where}{{{i + 1}}}"))
        ]
        for i, row in enumerate(_cell_items(value, where))
    ]
    return grid_value(field, rows)


def _maps_in(value: Any, where: str, field: Field, batch: int | None) -> list[np.ndarray]:
    maps = []
    for j, item in enumerate(_cell_items(value, where)):
        arr = _array(item, f"{where}{{{j + 1}}}")
        if arr.ndim == 2:  # MATLAB drops a trailing singleton: this is a batch of one
            if batch not in (None, 1):
                raise InputError(
                    f"{where}{{{j + 1}}}: a 2-D map (batch of one) in a net whose batch is {batch}"
                )
            arr = arr[:, :, None]
        maps.append(arr)
    return maps


def _scalars_in(value: Any, where: str, field: Field) -> list:
    return [_scalar_in(b, f"{where}{{{j + 1}}}") for j, b in enumerate(_cell_items(value, where))]


#: Form -> the reader of a struct field's value (value, name in messages, the field); maps:
#: see :func:`_readers`.
_READERS: dict[str, Callable[[Any, str, Field], Any]] = {
    "str": lambda value, where, field: _text(value, where),
    "int": _int_in,
    "real": lambda value, where, field: float(_scalar_in(value, where)),
    "value": lambda value, where, field: option_value(
        _text(value, where) if _is_text(value) else _int_in(value, where, field), where
    ),
    "table": lambda value, where, field: table_value(_array(value, where), where),
    "grid": _grid_in,
    "scalars": _scalars_in,
    "array": lambda value, where, field: _array(value, where),
    "vector": lambda value, where, field: _array(value, where).reshape(-1),
    "scalar": lambda value, where, field: _scalar_in(value, where),
}


def _readers(batch: int | None) -> dict[str, Callable[[Any, str, Field], Any]]:
    """The readers of a net whose batch size is ``batch`` (None: unknown), which 2-D maps
    (a batch of one) must match."""
    return {**_READERS, "maps": functools.partial(_maps_in, batch=batch)}


def _dict_of(fields: dict, table: dict, where: str, readers: dict, skipped: list) -> dict:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        field = table.get(key)
        form = "str" if field is None else field.form
        if form == "str" and not _is_text(value):
            skipped.append(f"{where}.{key}")
        else:
            out[key] = readers[form](value, f"{where}.{key}", field)
    return in_table_order(out, table)


def _batch_of(fields: dict) -> int | None:
    """The batch size of the last pass: the columns of a top-level array of that pass (``fv``,
    ``o``, ...), None when there is none."""
    for key, field in table_of().items():
        value = fields.get(key)
        if field.role == "pass" and isinstance(value, np.ndarray) and value.ndim == 2:
            return value.shape[1]
    return None


def from_struct(value: np.ndarray, source: str) -> dict:
    """The net of a struct scipy read (``squeeze_me=False``); ``source`` names it in errors."""
    fields = _struct_fields(value)
    readers = _readers(_batch_of(fields))
    skipped: list[str] = []
    layers = []
    for l, item in enumerate(_cell_items(fields.pop("layers"), f"{source}.layers")):
        where = f"{source}.layers{{{l + 1}}}"
        if not (isinstance(item, np.ndarray) and item.dtype.names and item.size == 1):
            raise InputError(f"{where}: expected a struct, got {_kind(item)}")
        layer = _struct_fields(item)
        if "type" not in layer:
            raise InputError(f"{where}: no type field")
        table = table_of(_text(layer["type"], f"{where}.type"))
        layers.append(_dict_of(layer, table, where, readers, skipped))
    net = _dict_of(fields, table_of(), source, readers, skipped)
    warn_skipped(skipped, "load_net")
    return {"layers": layers, **net}


# --------------------------------------------------------------------------- files


def split_selector(path: PathLike) -> tuple[Path, str | None]:
    """``"FILE.mat:VARIABLE"`` -> (FILE.mat, "VARIABLE"); a plain path -> (path, None)."""
    text = os.fspath(path)
    if os.path.exists(text) or ":" not in text:
        return Path(text), None
    file, selector = text.rsplit(":", 1)
    if not file.lower().endswith(".mat"):
        return Path(text), None
    return Path(file), selector


def _walk(value: np.ndarray, selector: str, source: str) -> np.ndarray:
    """Follow ``.field`` and ``{n}`` (1-based, column-major) steps of ``selector``."""
    first = re.match(r"[A-Za-z]\w*", selector).group(0)
    where = first
    for step in _SELECTOR_STEP.finditer(selector, len(first)):
        field, index = step.groups()
        if field is not None:
            if value.dtype.names is None or field not in value.dtype.names or value.size != 1:
                raise InputError(f"{source}: {where} is not a struct with a field {field!r}")
            value = value[field].reshape(-1)[0]
            where += f".{field}"
        else:
            n = int(index)
            if value.dtype != object or not 1 <= n <= value.size:
                raise InputError(
                    f"{source}: {where} is not a cell with an element {{{n}}} "
                    f"(it has shape {value.shape})"
                )
            value = value.reshape(-1, order="F")[n - 1]
            where += f"{{{n}}}"
    return value


def _is_net_struct(value: Any) -> bool:
    names = getattr(getattr(value, "dtype", None), "names", None)
    return names is not None and "layers" in names and value.size == 1


def _read(path: Path, call: Callable, **kwargs: Any) -> Any:
    """``call(path, **kwargs)`` (a scipy.io reader); any error a NetFileError naming the file."""
    try:
        return call(path, **kwargs)
    except Exception as err:  # scipy raises many kinds on foreign or damaged files
        problem = f"not a readable MATLAB .mat file: damaged, truncated or foreign ({err})"
        raise NetFileError(path, problem) from None


def _the_only_net(path: Path, structs: list[str]) -> dict:
    raw = _read(path, scipy.io.loadmat, variable_names=structs, squeeze_me=False) if structs else {}
    nets = [v for v in structs if _is_net_struct(raw[v])]
    if len(nets) != 1:
        if nets:
            found = f"several nets: {nets}"
        else:
            found = f"no net (a struct with a layers field); struct variables: {structs}"
        raise NetFileError(
            path,
            f"holds {found}. Pick one with name=VARIABLE or "
            f"'{path}:VARIABLE' (a field or cell element too: VAR.field, VAR{{2}})",
        )
    return from_struct(raw[nets[0]], f"{path}:{nets[0]}")


def load_mat(path: Path, selector: str | None) -> dict:
    """The net of a ``.mat`` file: the one it holds, or the struct ``selector`` names. What
    the file holds that is no toolbox net is a NetFileError naming the file."""
    if selector is not None and not _SELECTOR.fullmatch(selector):
        raise InputError(
            f"name: expected a variable name, optionally with .field and {{n}} steps "
            f"(e.g. net_setup, dup2.net_bp, net_after_epoch{{2}}), got {selector!r}"
        )
    variables = _read(path, scipy.io.whosmat)
    try:
        if selector is None:
            return _the_only_net(path, [v for v, _, cls in variables if cls == "struct"])
        first = re.match(r"[A-Za-z]\w*", selector).group(0)
        if first not in [v for v, _, _ in variables]:
            raise NetFileError(
                path, f"no variable {first!r}; its variables are {[v for v, _, _ in variables]}"
            )
        raw = _read(path, scipy.io.loadmat, variable_names=[first], squeeze_me=False)
        value = _walk(raw[first], selector, str(path))
        if not _is_net_struct(value):
            raise NetFileError(
                path, f"{path}:{selector} is not a net (a struct with a layers field)"
            )
        return from_struct(value, f"{path}:{selector}")
    except NetFileError:
        raise
    except (ValueError, TypeError, IndexError, KeyError) as err:  # not shaped like a net
        raise NetFileError(path, str(err)) from None


def save_mat(path: Path, net: dict, name: str, activations: bool) -> Path:
    """Write the struct of a checked net to ``path`` as the variable ``name`` (v7, compressed)."""
    struct = to_struct(net, activations)
    return write_atomically(
        path, lambda f: scipy.io.savemat(f, {name: struct}, do_compression=True, oned_as="row")
    )
