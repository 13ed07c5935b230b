"""The ``.npz`` format, dltoolbox's own: flat named arrays and a JSON description, no pickle.

Entry ``"__dltoolbox__"`` holds the JSON: ``format``, ``version``, per layer its ``type`` and its
fields by section (``ints``: the values; ``grids``: the row lengths of ``k[i][j]``; ``lists``:
the number of maps; ``strings``: the values), the net's ``strings``, and ``scalars`` (the
top-level fields stored as one number). Arrays are stored under dotted names: ``ffW``,
``layers.1.k.0.2`` (``k[0][2]``), ``layers.1.a.3`` (map 3), ``layers.1.b`` (all the biases).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NetFileError, PathError
from ..fileutil import write_atomically
from ..net import Field, as_value
from .fields import (
    checked_net,
    fields_to_write,
    in_table_order,
    table_of,
    warn_skipped,
    writing,
)
from .values import grid_value, layer_int, numeric, one_number, option_value, scalar_value

NPZ_FORMAT = "dltoolbox-net"
NPZ_VERSION = 1
META_KEY = "__dltoolbox__"
#: The JSON section of each form the description holds (other forms are arrays only).
SECTIONS = {"int": "ints", "grid": "grids", "maps": "lists", "str": "strings"}
SECTIONS |= {"real": "values", "value": "values"}  # written only where a layer has one
#: A reader's answer for a field the file does not hold.
ABSENT = object()


@dataclass
class _Entries:
    """The arrays and the JSON description of one dict (a layer, or the net), being written
    or read: the dict's arrays are named ``prefix + key`` (``"layers.1."`` or ``""``);
    ``skipped`` collects the fields no file holds (one list for the net and its layers)."""

    arrays: Any
    meta: dict
    prefix: str = ""
    skipped: list = field(default_factory=list)


# --------------------------------------------------------------------------- net -> arrays


def _put_grid(out: _Entries, key: str, value: Any, where: str) -> None:
    out.meta["grids"][key] = [len(row) for row in value]
    for i, row in enumerate(value):
        for j, v in enumerate(row):
            out.arrays[f"{out.prefix}{key}.{i}.{j}"] = numeric(v, where)


def _put_maps(out: _Entries, key: str, value: Any, where: str) -> None:
    out.meta["lists"][key] = len(value)
    for j, v in enumerate(value):
        out.arrays[f"{out.prefix}{key}.{j}"] = numeric(v, where)


def _put_scalars(out: _Entries, key: str, value: Any, where: str) -> None:
    numbers = [one_number(v, where) for v in value]
    out.arrays[out.prefix + key] = np.array(numbers).reshape(len(value))


def _put_array(out: _Entries, key: str, value: Any, where: str) -> None:
    out.arrays[out.prefix + key] = numeric(value, where)


def _put_int(out: _Entries, key: str, value: Any, where: str) -> None:
    out.meta["ints"][key] = layer_int(value, where)


def _put_str(out: _Entries, key: str, value: Any, where: str) -> None:
    out.meta["strings"][key] = value


def _put_value(out: _Entries, key: str, value: Any, where: str) -> None:
    out.meta.setdefault("values", {})[key] = option_value(value, where)


def _put_real(out: _Entries, key: str, value: Any, where: str) -> None:
    out.meta.setdefault("values", {})[key] = float(one_number(value, where).reshape(-1)[0])


#: Form -> the writer of a field's value (into the entries, key, value, name in messages).
_WRITERS: dict[str, Callable[[_Entries, str, Any, str], None]] = {
    "str": _put_str,
    "int": _put_int,
    "real": _put_real,
    "value": _put_value,
    "table": _put_array,
    "grid": _put_grid,
    "maps": _put_maps,
    "scalars": _put_scalars,
    "array": _put_array,
    "vector": _put_array,
    "scalar": _put_array,
}


def _put_fields(
    out: _Entries, d: dict, table: dict, where: str, activations: bool, exclude: tuple
) -> None:
    for key, form, value in fields_to_write(d, table, activations, exclude):
        at = f'{where}["{key}"]'
        if form is None:
            out.skipped.append(at)
        else:
            with writing(at, form):
                _WRITERS[form](out, key, value, at)


def net_to_arrays(net: dict, activations: bool = True) -> dict[str, np.ndarray]:
    """The net as flat named arrays for :func:`numpy.savez` (no object arrays).

    Parameters
    ----------
    net : dict
        A dltoolbox net (see :func:`dltoolbox.netio.save_net` for the fields written).
    activations : bool
        False leaves out the maps and gradients of the last pass.

    Returns
    -------
    dict of str to ndarray
        ``"__dltoolbox__"`` holds a JSON description (layer types, integer fields, list
        lengths, string fields); every array is stored under a dotted name such as
        ``"layers.1.k.0.2"``.
    """
    checked_net(net)
    top = _Entries({}, {"strings": {}})
    layers_meta = []
    for l, layer in enumerate(net["layers"]):
        meta = {"type": layer["type"], **{section: {} for section in SECTIONS.values()}}
        entries = _Entries(top.arrays, meta, f"layers.{l}.", top.skipped)
        where = f'net["layers"][{l}]'
        _put_fields(entries, layer, table_of(layer["type"]), where, activations, ("type",))
        layers_meta.append(meta)
    _put_fields(top, net, table_of(), "net", activations, ("layers",))
    warn_skipped(top.skipped, "save_net")
    scalars = [key for key, f in table_of().items() if f.form == "scalar" and key in top.arrays]
    meta = {
        "format": NPZ_FORMAT,
        "version": NPZ_VERSION,
        "layers": layers_meta,
        "strings": top.meta["strings"],
        "scalars": scalars,
    }
    top.arrays[META_KEY] = np.array(json.dumps(meta))
    return top.arrays


# --------------------------------------------------------------------------- arrays -> net


def _get_section(src: _Entries, key: str, field: Field) -> Any:
    return src.meta.get(SECTIONS[field.form], {}).get(key, ABSENT)


def _get_grid(src: _Entries, key: str, field: Field) -> Any:
    lens = src.meta["grids"].get(key)
    if lens is None:
        return ABSENT
    rows = [
        [src.arrays[f"{src.prefix}{key}.{i}.{j}"] for j in range(n)] for i, n in enumerate(lens)
    ]
    return grid_value(field, rows)


def _get_maps(src: _Entries, key: str, field: Field) -> Any:
    n = src.meta["lists"].get(key)
    return ABSENT if n is None else [src.arrays[f"{src.prefix}{key}.{j}"] for j in range(n)]


def _get_array(src: _Entries, key: str, field: Field) -> Any:
    name = src.prefix + key
    if name not in src.arrays:
        return ABSENT
    if field.form == "scalar":
        return scalar_value(src.arrays[name])
    return as_value(field, src.arrays[name])


#: Form -> the reader of a field (from the entries, key, field): its value, or ABSENT.
_READERS: dict[str, Callable[[_Entries, str, Field], Any]] = {
    "str": _get_section,
    "int": _get_section,
    "real": _get_section,
    "value": _get_section,
    "table": _get_array,
    "grid": _get_grid,
    "maps": _get_maps,
    "scalars": _get_array,
    "array": _get_array,
    "vector": _get_array,
    "scalar": _get_array,
}


def _get_fields(src: _Entries, table: dict, where: str) -> dict:
    out: dict[str, Any] = {}
    for key, f in table.items():
        value = _READERS[f.form](src, key, f) if key != "type" else ABSENT
        if value is not ABSENT:
            out[key] = value
    for section in dict.fromkeys(SECTIONS.values()):
        for key, value in src.meta.get(section, {}).items():
            if key in table:
                continue
            if section == "strings":
                out[key] = value
            else:
                src.skipped.append(f"{where}.{key}")
    return in_table_order(out, table)


def _header(arrays: Any, source: str) -> dict:
    """The JSON description, checked to be of this format and version."""
    if META_KEY not in arrays:
        raise NetFileError(source, f"not a dltoolbox net (no {META_KEY!r} entry)")
    try:
        meta = json.loads(str(arrays[META_KEY]))
        version = meta["format"], meta["version"]
    except (ValueError, KeyError, TypeError) as err:
        raise NetFileError(source, f"unreadable {META_KEY!r} entry ({err})") from None
    if version != (NPZ_FORMAT, NPZ_VERSION):
        raise NetFileError(
            source, f"expected format {NPZ_FORMAT!r} version {NPZ_VERSION}, got {version!r}"
        )
    return meta


def net_from_arrays(arrays: Any, source: str = "arrays") -> dict:
    """Inverse of :func:`net_to_arrays`.

    Parameters
    ----------
    arrays : mapping of str to ndarray
        Names to arrays, as :func:`net_to_arrays` gives them (e.g. read from an ``NpzFile``).
    source : str
        What to call them in error messages (the file name).

    Returns
    -------
    dict
        The net, its fields in the order :func:`dltoolbox.net.top_fields` and
        :func:`dltoolbox.net.layer_fields` give; kernels as :class:`dltoolbox.net.KernelStack`.

    Raises
    ------
    NetFileError
        Not a dltoolbox net, another format version, or an entry missing or malformed.
    """
    meta = _header(arrays, source)
    top = _Entries(arrays, meta)
    try:
        layers = []
        for l, layer_meta in enumerate(meta["layers"]):
            src = _Entries(arrays, layer_meta, f"layers.{l}.", top.skipped)
            table = table_of(layer_meta["type"])
            layer = _get_fields(src, table, f"{source}: layers.{l}")
            layers.append({"type": layer_meta["type"], **layer})  # type: the first field
        net = {"layers": layers, **_get_fields(top, table_of(), source)}
    except KeyError as err:
        raise NetFileError(source, f"damaged dltoolbox net, entry {err} missing") from None
    except (TypeError, AttributeError, IndexError, ValueError) as err:  # a malformed description
        raise NetFileError(source, f"damaged dltoolbox net ({err})") from None
    warn_skipped(top.skipped, "load_net")
    return net


def read_arrays(path: Path, what: str = ".npz file") -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` file ``path`` (``what`` it is, for messages). A damaged
    file (whatever zipfile or numpy finds wrong: a bad CRC, a truncated zip, a broken header)
    or one holding pickled objects (never unpickled) is a NetFileError naming it; a file that
    cannot be opened a PathError."""
    try:
        f = open(path, "rb")
    except OSError as err:
        raise PathError(f"path: cannot read {str(path)!r}: {err.strerror or err}") from None
    if f.read(4) != b"PK\x03\x04":  # else numpy would take it for a pickle
        f.close()
        raise NetFileError(
            path, f"not a readable {what}: not a zip file (damaged, or another format)"
        )
    f.seek(0)
    try:
        with f, np.load(f, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise NetFileError(path, "holds pickled objects; refusing to load them") from None
        raise NetFileError(path, f"not a readable {what} ({err})") from None
    except Exception as err:  # zipfile and numpy raise many kinds for damaged files
        problem = f"not a readable {what} ({type(err).__name__}: {err})"
        raise NetFileError(path, problem) from None


def load_npz(path: Path) -> dict:
    """The net of a dltoolbox ``.npz`` file (pickled objects are refused)."""
    return net_from_arrays(read_arrays(path), str(path))


def save_npz(path: Path, net: dict, activations: bool) -> Path:
    """Write the arrays of :func:`net_to_arrays` to ``path`` atomically."""
    arrays = net_to_arrays(net, activations)
    return write_atomically(path, lambda f: np.savez(f, **arrays))
