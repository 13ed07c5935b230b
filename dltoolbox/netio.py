"""Nets in files: MATLAB/Octave ``.mat`` structs, a native ``.npz``, and side-by-side comparison.

A ``.mat`` file holds the net as the toolbox's struct (``layers`` a cell column of structs with
``type``, ``outputmaps``, ``kernelsize``, ``scale``, ``k`` a cell of cells ``k{i}{j}``, ``b`` a
cell; ``ffW``, ``ffb``, ``rL`` ...), so MATLAB or Octave can ``load`` it and run the original
``cnnff`` / ``cnntest`` on it, and a net MATLAB or Octave saved (``save``, v6/v7; Octave
``save -v7`` / ``-mat``) loads here. ``.npz`` is the native format: an exact round trip, no pickle.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from .fileutil import PathLike, write_atomically
from .spec import spec_of

#: Top-level numeric fields of the toolbox's net, in the order they are written.
#: Then the momentum velocities of cnnapplygrads (training state, kept with the parameters).
TOP_ARRAYS = (
    "ffb", "ffW", "rL", "fv", "o", "e", "L", "od", "fvd", "dffW", "dffb", "vffW", "vffb"
)  # fmt: skip
#: Layer fields: integers, lists of maps (rows, cols, batch), grids k{i}{j}, lists of scalars
#: (``channels`` of the input layer, ``vk``/``vb`` the velocities of ``k``/``b``).
LAYER_INTS = ("channels", "outputmaps", "kernelsize", "scale")
LAYER_MAPS = ("a", "d")
LAYER_GRIDS = ("k", "dk", "vk")
LAYER_SCALARS = ("b", "db", "vb")
#: Activations and gradients of the last pass (``save_net(..., activations=False)`` drops them).
PASS_FIELDS = frozenset(("fv", "o", "e", "L", "od", "fvd", "dffW", "dffb", "a", "d", "dk", "db"))

NPZ_FORMAT = "dltoolbox-net"
NPZ_VERSION = 1
_META_KEY = "__dltoolbox__"
_MATLAB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
_SELECTOR = re.compile(r"[A-Za-z]\w*(?:\.[A-Za-z]\w*|\{[1-9]\d*\})*")
_SELECTOR_STEP = re.compile(r"\.([A-Za-z]\w*)|\{(\d+)\}")


# --------------------------------------------------------------------------- checking a net


def _numeric(value: Any, where: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{where}: expected a real numeric array, got {type(value).__name__}")
    return arr


def _checked_net(net: Any) -> dict:
    """The net's fields as this module writes them: raises on anything it cannot write."""
    if not isinstance(net, dict):
        raise TypeError(f"net: expected a dict (a dltoolbox net), got {type(net).__name__}")
    layers = net.get("layers")
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError('net["layers"]: expected a non-empty list of layer dicts')
    for l, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("type"), str):
            raise TypeError(f'net["layers"][{l}]: expected a dict with a str "type"')
    return net


def _unknown(keys: list[str], action: str) -> None:
    if keys:
        warnings.warn(
            f"{action}: fields {keys} are not toolbox net fields (nor strings); skipped",
            stacklevel=3,
        )


# --------------------------------------------------------------------------- .mat writing


def _cell(items: list, shape: tuple[int, int]) -> np.ndarray:
    """An object array (a MATLAB cell) of ``shape`` filled column-major from ``items``."""
    out = np.empty(shape, dtype=object)
    for n, item in enumerate(items):
        out[np.unravel_index(n, shape, order="F")] = item
    return out


def _mat_scalar(value: Any, where: str) -> np.ndarray:
    arr = _numeric(value, where)
    if arr.size != 1:
        raise ValueError(f"{where}: expected a number, got an array of shape {arr.shape}")
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def _layer_int(value: Any, where: str) -> int:
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not real or not math.isfinite(value) or value != int(value):
        raise TypeError(f"{where}: expected an integer, got {value!r}")
    return int(value)


def _mat_layer(layer: dict, where: str, activations: bool) -> dict:
    out: dict[str, Any] = {"type": layer["type"]}
    skipped = []
    for key, value in layer.items():
        if key == "type" or (not activations and key in PASS_FIELDS):
            continue
        if key in LAYER_INTS:
            out[key] = float(_layer_int(value, f'{where}["{key}"]'))  # MATLAB: doubles
        elif key in LAYER_GRIDS:
            rows = [
                _cell([_numeric(v, f'{where}["{key}"]') for v in row], (1, len(row)))
                for row in value
            ]
            out[key] = _cell(rows, (1, len(rows)))
        elif key in LAYER_MAPS:
            out[key] = _cell([_numeric(v, f'{where}["{key}"]') for v in value], (1, len(value)))
        elif key in LAYER_SCALARS:
            out[key] = _cell([_mat_scalar(v, f'{where}["{key}"]') for v in value], (1, len(value)))
        elif isinstance(value, str):
            out[key] = value
        else:
            skipped.append(f'{where}["{key}"]')
    _unknown(skipped, "save_net")
    return out


def _mat_struct(net: dict, activations: bool) -> dict:
    layers = [
        _mat_layer(layer, f'net["layers"][{l}]', activations)
        for l, layer in enumerate(net["layers"])
    ]
    out: dict[str, Any] = {"layers": _cell(layers, (len(layers), 1))}
    for key in TOP_ARRAYS:
        if key in net and (activations or key not in PASS_FIELDS):
            out[key] = _numeric(net[key], f'net["{key}"]')
    skipped = []
    for key, value in net.items():
        if key == "layers" or key in TOP_ARRAYS:
            continue
        if isinstance(value, str):
            out[key] = value
        else:
            skipped.append(f'net["{key}"]')
    _unknown(skipped, "save_net")
    return out


# --------------------------------------------------------------------------- .npz (native)


def net_to_arrays(net: dict, activations: bool = True) -> dict[str, np.ndarray]:
    """The net as flat named arrays for :func:`numpy.savez` (no object arrays).

    ``"__dltoolbox__"`` holds a JSON description (layer types, integer fields, list lengths,
    string fields); every array is stored under a dotted name such as ``"layers.1.k.0.2"``.
    """
    _checked_net(net)
    arrays: dict[str, np.ndarray] = {}
    layers_meta = []
    skipped = []
    for l, layer in enumerate(net["layers"]):
        where = f'net["layers"][{l}]'
        meta: dict[str, Any] = {
            "type": layer["type"],
            "ints": {},
            "grids": {},
            "lists": {},
            "strings": {},
        }
        for key, value in layer.items():
            if key == "type" or (not activations and key in PASS_FIELDS):
                continue
            prefix = f"layers.{l}.{key}"
            if key in LAYER_INTS:
                meta["ints"][key] = _layer_int(value, f'{where}["{key}"]')
            elif key in LAYER_GRIDS:
                meta["grids"][key] = [len(row) for row in value]
                for i, row in enumerate(value):
                    for j, v in enumerate(row):
                        arrays[f"{prefix}.{i}.{j}"] = _numeric(v, f'{where}["{key}"]')
            elif key in LAYER_MAPS:
                meta["lists"][key] = len(value)
                for j, v in enumerate(value):
                    arrays[f"{prefix}.{j}"] = _numeric(v, f'{where}["{key}"]')
            elif key in LAYER_SCALARS:
                arrays[prefix] = np.array(
                    [_mat_scalar(v, f'{where}["{key}"]') for v in value]
                ).reshape(len(value))
            elif isinstance(value, str):
                meta["strings"][key] = value
            else:
                skipped.append(f'{where}["{key}"]')
        layers_meta.append(meta)
    strings = {}
    for key, value in net.items():
        if key == "layers":
            continue
        if key in TOP_ARRAYS:
            if activations or key not in PASS_FIELDS:
                arrays[key] = _numeric(value, f'net["{key}"]')
        elif isinstance(value, str):
            strings[key] = value
        else:
            skipped.append(f'net["{key}"]')
    _unknown(skipped, "save_net")
    meta_all = {
        "format": NPZ_FORMAT,
        "version": NPZ_VERSION,
        "layers": layers_meta,
        "strings": strings,
        "scalars": [k for k in ("L",) if k in arrays],
    }
    arrays[_META_KEY] = np.array(json.dumps(meta_all))
    return arrays


def _scalar_out(arr: np.ndarray) -> Any:
    """A 1-element array as the net stores scalars: float for double, else a numpy scalar."""
    value = arr.reshape(-1)[0]
    return float(value) if arr.dtype == np.float64 else value


def net_from_arrays(arrays: Any, source: str = "arrays") -> dict:
    """Inverse of :func:`net_to_arrays`; ``arrays`` maps names to arrays (e.g. an NpzFile)."""
    if _META_KEY not in arrays:
        raise ValueError(f"{source}: not a dltoolbox net (no {_META_KEY!r} entry)")
    try:
        meta = json.loads(str(arrays[_META_KEY]))
        version = meta["format"], meta["version"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{source}: unreadable {_META_KEY!r} entry ({err})") from None
    if version != (NPZ_FORMAT, NPZ_VERSION):
        raise ValueError(
            f"{source}: expected format {NPZ_FORMAT!r} version {NPZ_VERSION}, got {version!r}"
        )
    try:
        layers = []
        for l, lm in enumerate(meta["layers"]):
            layer: dict[str, Any] = {"type": lm["type"], **lm["ints"], **lm["strings"]}
            for key, lens in lm["grids"].items():
                layer[key] = [
                    [arrays[f"layers.{l}.{key}.{i}.{j}"] for j in range(n)]
                    for i, n in enumerate(lens)
                ]
            for key, n in lm["lists"].items():
                layer[key] = [arrays[f"layers.{l}.{key}.{j}"] for j in range(n)]
            for key in LAYER_SCALARS:
                if f"layers.{l}.{key}" in arrays:
                    values = arrays[f"layers.{l}.{key}"]
                    layer[key] = [_scalar_out(values[j : j + 1]) for j in range(values.size)]
            layers.append(dict(sorted(layer.items(), key=_layer_order)))
        net: dict[str, Any] = {"layers": layers}
        for key in TOP_ARRAYS:
            if key in arrays:
                net[key] = _scalar_out(arrays[key]) if key in meta["scalars"] else arrays[key]
        net.update(meta["strings"])
    except KeyError as err:
        raise ValueError(f"{source}: damaged dltoolbox net, entry {err} missing") from None
    return net


_LAYER_KEY_ORDER = ("type", *LAYER_INTS, "k", "b", "a", "d", "dk", "db", "vk", "vb")


def _layer_order(item: tuple[str, Any]) -> int:
    key = item[0]
    return _LAYER_KEY_ORDER.index(key) if key in _LAYER_KEY_ORDER else len(_LAYER_KEY_ORDER)


def _load_npz(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as data:
            return net_from_arrays({k: data[k] for k in data.files}, str(path))
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ValueError(f"{path}: not a readable .npz file ({err})") from None
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise ValueError(f"{path}: holds pickled objects; refusing to load them") from None
        raise


# --------------------------------------------------------------------------- save_net


def save_net(path: PathLike, net: dict, name: str = "cnn", *, activations: bool = True) -> Path:
    """Write ``net`` to ``path`` atomically, as a MATLAB struct (``.mat``) or natively (``.npz``).

    Parameters
    ----------
    path : str or path-like
        Ending in ``.mat`` (MATLAB v7 format, compressed, readable by MATLAB's and Octave's
        ``load``) or ``.npz`` (dltoolbox's own format, an exact round trip, no pickle).
    net : dict
        A dltoolbox net. Toolbox fields are written (``layers`` with ``type``, ``outputmaps``,
        ``kernelsize``, ``scale``, ``k``, ``b``, ``a``, ``d``, ``dk``, ``db``; ``ffW``, ``ffb``,
        ``rL``, ``fv``, ``o``, ``e``, ``L``, ``od``, ``fvd``, ``dffW``, ``dffb``) as they are
        present, with the options beyond the toolbox (the input layer's ``channels``; the
        momentum velocities ``vk``, ``vb``, ``vffW``, ``vffb``, kept also with
        ``activations=False``), and string fields (such as ``engine``, ``output``, a layer's
        ``activation`` and ``method``); other fields are skipped with a warning.
    name : str
        The MATLAB variable name in a ``.mat`` file (``load(path)`` then gives ``cnn``).
    activations : bool
        False writes only the layer structure and parameters (``k``, ``b``, ``ffW``, ``ffb``,
        ``rL``), not the maps and gradients of the last pass.

    Returns
    -------
    Path
        ``path``.

    In the ``.mat`` struct, ``layers`` is a cell column, ``k`` a (1, inputmaps) cell of
    (1, outputmaps) cells of (ks, ks) kernels, ``b`` a (1, maps) cell of scalars, maps
    (rows, cols, batch), ``ffb`` (classes, 1), ``rL`` a row; integers are stored as doubles, as
    MATLAB's literals are.
    """
    path = Path(path)
    _checked_net(net)
    suffix = path.suffix.lower()
    if suffix == ".mat":
        if not isinstance(name, str) or not _MATLAB_NAME.fullmatch(name):
            raise ValueError(
                f"name: expected a MATLAB variable name (a letter, then letters, digits or _; "
                f"at most 63), got {name!r}"
            )
        struct = _mat_struct(net, activations)
        return write_atomically(
            path,
            lambda f: scipy.io.savemat(f, {name: struct}, do_compression=True, oned_as="row"),
        )
    if suffix == ".npz":
        arrays = net_to_arrays(net, activations)
        return write_atomically(path, lambda f: np.savez(f, **arrays))
    raise ValueError(f"path: expected a file name ending in .mat or .npz, got {str(path)!r}")


# --------------------------------------------------------------------------- load_net


def _sniff(path: Path) -> str:
    """'npz', 'mat', or raise ValueError naming a format this module cannot read."""
    with open(path, "rb") as f:
        head = f.read(640)
    if head.startswith(b"PK\x03\x04"):
        return "npz"
    if head.startswith(b"\x89HDF\r\n\x1a\n") or head[512:520] == b"\x89HDF\r\n\x1a\n":
        raise ValueError(
            f"{path}: an HDF5 file (MATLAB save -v7.3, or Octave save -hdf5), which dltoolbox "
            "does not read; in MATLAB save it with save(FILE, 'cnn', '-v7'), in Octave with "
            "save -v7 FILE cnn"
        )
    if head.startswith(b"Octave-1-"):
        raise ValueError(
            f"{path}: Octave's own binary format; save it with save -v7 FILE cnn instead"
        )
    if head.startswith(b"\x1f\x8b"):
        raise ValueError(
            f"{path}: a gzip-compressed file (Octave save -z); save it with save -v7 FILE cnn"
        )
    if head.startswith(b"# Created by Octave") or head.startswith(b"# name:"):
        raise ValueError(
            f"{path}: Octave's text format (what Octave's save writes by default); save it "
            "with save -v7 FILE cnn (or -mat) so it is a .mat file"
        )
    return "mat"


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
                raise ValueError(f"{source}: {where} is not a struct with a field {field!r}")
            value = value[field].reshape(-1)[0]
            where += f".{field}"
        else:
            n = int(index)
            if value.dtype != object or not 1 <= n <= value.size:
                raise ValueError(
                    f"{source}: {where} is not a cell with an element {{{n}}} "
                    f"(it has shape {value.shape})"
                )
            value = value.reshape(-1, order="F")[n - 1]
            where += f"{{{n}}}"
    return value


def _is_net_struct(value: Any) -> bool:
    names = getattr(getattr(value, "dtype", None), "names", None)
    return names is not None and "layers" in names and value.size == 1


def _load_mat(path: Path, selector: str | None) -> dict:
    try:
        variables = scipy.io.whosmat(path)
    except Exception as err:  # scipy raises many kinds on foreign or damaged files
        raise ValueError(f"{path}: not a readable MATLAB .mat file ({err})") from None
    structs = [v for v, _, cls in variables if cls == "struct"]
    if selector is None:
        raw = scipy.io.loadmat(path, variable_names=structs, squeeze_me=False) if structs else {}
        nets = [v for v in structs if _is_net_struct(raw[v])]
        if len(nets) != 1:
            if nets:
                found = f"several nets: {nets}"
            else:
                found = f"no net (a struct with a layers field); struct variables: {structs}"
            raise ValueError(
                f"{path}: holds {found}. Pick one with name=VARIABLE or "
                f"'{path}:VARIABLE' (a field or cell element too: VAR.field, VAR{{2}})"
            )
        return _net_from_struct(raw[nets[0]], f"{path}:{nets[0]}")
    if not _SELECTOR.fullmatch(selector):
        raise ValueError(
            f"name: expected a variable name, optionally with .field and {{n}} steps "
            f"(e.g. net_setup, dup2.net_bp, net_after_epoch{{2}}), got {selector!r}"
        )
    first = re.match(r"[A-Za-z]\w*", selector).group(0)
    if first not in [v for v, _, _ in variables]:
        raise ValueError(
            f"{path}: no variable {first!r}; its variables are {[v for v, _, _ in variables]}"
        )
    raw = scipy.io.loadmat(path, variable_names=[first], squeeze_me=False)
    value = _walk(raw[first], selector, str(path))
    if not _is_net_struct(value):
        raise ValueError(f"{path}:{selector} is not a net (a struct with a layers field)")
    return _net_from_struct(value, f"{path}:{selector}")


def load_net(path: PathLike, name: str | None = None) -> dict:
    """Read a net from a ``.mat`` struct (MATLAB or Octave) or a dltoolbox ``.npz``.

    Parameters
    ----------
    path : str or path-like
        A ``.mat`` file (MATLAB ``save``, v6/v7; Octave ``save -v7`` / ``-mat``), optionally
        ``"FILE.mat:VARIABLE"``, or an ``.npz`` written by :func:`save_net`.
    name : str, optional
        The struct variable to read from a ``.mat`` file; it may follow fields and cells, as
        ``dup2.net_bp`` or ``net_after_epoch{2}`` (1-based). Without it the file must hold
        exactly one net struct (a struct with a ``layers`` field).

    Returns
    -------
    net : dict
        0-based lists: ``layers[l]`` with ``type`` (str), ``outputmaps``, ``kernelsize``,
        ``scale`` (int), ``k[i][j]`` (ks, ks), ``b[j]`` (float), and, when present, ``a[j]`` /
        ``d[j]`` (rows, cols, batch), ``dk``, ``db``; ``ffW`` (classes, features), ``ffb``
        (classes, 1), ``rL`` (n,), ``fv``, ``o``, ``e``, ``L`` (float), ``od``, ``fvd``,
        ``dffW``, ``dffb``. Maps Octave stored without their trailing singleton batch axis get it
        back. Arrays keep their dtype (double or single).

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        HDF5 (MATLAB -v7.3, Octave -hdf5), Octave text or binary formats; no net in the file, or
        several and no ``name``; a struct that is not shaped like the toolbox's net.
    """
    file, selector = split_selector(path)
    if name is not None:
        if not isinstance(name, str):
            raise TypeError(f"name: expected a str or None, got {type(name).__name__}")
        if selector is not None and selector != name:
            raise ValueError(f"name: {name!r} conflicts with the variable in path {str(path)!r}")
        selector = name
    if not file.is_file():
        raise FileNotFoundError(f"path: no such file {str(file)!r}")
    kind = _sniff(file)
    if kind == "npz":
        if selector is not None:
            raise ValueError(f"name: an .npz file holds one net; got variable {selector!r}")
        return _load_npz(file)
    return _load_mat(file, selector)


# --------------------------------------------------------------------------- .mat struct -> net


def _struct_fields(value: np.ndarray) -> dict[str, Any]:
    return {n: value[n].reshape(-1)[0] for n in value.dtype.names}


def _cell_items(value: Any, where: str) -> list:
    if not isinstance(value, np.ndarray) or value.dtype != object:
        raise ValueError(f"{where}: expected a cell, got {_kind(value)}")
    return list(value.reshape(-1, order="F"))


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        if value.dtype.names is not None:
            return f"a struct array of shape {value.shape}"
        what = "a cell" if value.dtype == object else f"a {value.dtype} array"
        return f"{what} of shape {value.shape}"
    return type(value).__name__


def _array(value: Any, where: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        raise ValueError(f"{where}: expected a numeric array, got {_kind(value)}")
    return value if value.dtype.kind == "f" else value.astype(np.float64)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, np.ndarray) or value.dtype.kind != "U":
        raise ValueError(f"{where}: expected a string, got {_kind(value)}")
    return "".join(value.reshape(-1).tolist())


def _scalar_in(value: Any, where: str) -> Any:
    arr = _array(value, where)
    if arr.size != 1:
        raise ValueError(f"{where}: expected a scalar, got shape {arr.shape}")
    return _scalar_out(arr)


def _int_in(value: Any, where: str) -> int:
    number = _scalar_in(value, where)
    if not np.isfinite(number) or number != int(number):
        raise ValueError(f"{where}: expected an integer, got {number!r}")
    return int(number)


def _maps_in(value: Any, where: str, batch: int | None) -> list[np.ndarray]:
    maps = []
    for j, item in enumerate(_cell_items(value, where)):
        arr = _array(item, f"{where}{{{j + 1}}}")
        if arr.ndim == 2:  # MATLAB drops a trailing singleton: this is a batch of one
            if batch not in (None, 1):
                raise ValueError(
                    f"{where}{{{j + 1}}}: a 2-D map (batch of one) in a net whose batch is {batch}"
                )
            arr = arr[:, :, None]
        maps.append(arr)
    return maps


def _net_from_struct(value: np.ndarray, source: str) -> dict:
    fields = _struct_fields(value)
    batch = None
    for key in ("o", "fv", "e", "od", "fvd"):
        if key in fields and isinstance(fields[key], np.ndarray) and fields[key].ndim == 2:
            batch = fields[key].shape[1]
            break
    net: dict[str, Any] = {"layers": []}
    skipped = []
    for l, item in enumerate(_cell_items(fields["layers"], f"{source}.layers")):
        where = f"{source}.layers{{{l + 1}}}"
        if not (isinstance(item, np.ndarray) and item.dtype.names and item.size == 1):
            raise ValueError(f"{where}: expected a struct, got {_kind(item)}")
        layer_fields = _struct_fields(item)
        if "type" not in layer_fields:
            raise ValueError(f"{where}: no type field")
        layer: dict[str, Any] = {}
        for key, v in layer_fields.items():
            at = f"{where}.{key}"
            if key == "type":
                layer[key] = _text(v, at)
            elif key in LAYER_INTS:
                layer[key] = _int_in(v, at)
            elif key in LAYER_GRIDS:
                layer[key] = [
                    [
                        _array(k, f"{at}{{{i + 1}}}{{{j + 1}}}")
                        for j, k in enumerate(_cell_items(row, f"{at}{{{i + 1}}}"))
                    ]
                    for i, row in enumerate(_cell_items(v, at))
                ]
            elif key in LAYER_MAPS:
                layer[key] = _maps_in(v, at, batch)
            elif key in LAYER_SCALARS:
                layer[key] = [
                    _scalar_in(b, f"{at}{{{j + 1}}}") for j, b in enumerate(_cell_items(v, at))
                ]
            elif isinstance(v, np.ndarray) and v.dtype.kind == "U":
                layer[key] = _text(v, at)
            else:
                skipped.append(at)
        net["layers"].append(dict(sorted(layer.items(), key=_layer_order)))
    for key, v in fields.items():
        at = f"{source}.{key}"
        if key == "layers":
            continue
        if key == "L":
            net[key] = _scalar_in(v, at)
        elif key == "rL":
            net[key] = _array(v, at).reshape(-1)
        elif key in TOP_ARRAYS:
            net[key] = _array(v, at)
        elif isinstance(v, np.ndarray) and v.dtype.kind == "U":
            net[key] = _text(v, at)
        else:
            skipped.append(at)
    _unknown(skipped, "load_net")
    order = ("layers", *TOP_ARRAYS)
    return dict(sorted(net.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99))


# --------------------------------------------------------------------------- comparison


def _as_net(value: Any, which: str) -> dict:
    if isinstance(value, dict):
        return _checked_net(value)
    if isinstance(value, (str, os.PathLike)):
        return load_net(value)
    raise TypeError(
        f"{which}: expected a net dict or a path (.mat, .npz, FILE.mat:VARIABLE), "
        f"got {type(value).__name__}"
    )


def _flat_fields(net: dict) -> dict[str, tuple[str, list[np.ndarray]]]:
    """field name -> (shape text, arrays) for every numeric field, in a fixed order."""
    out: dict[str, tuple[str, list[np.ndarray]]] = {}
    for key in TOP_ARRAYS:
        if key in net:
            arr = np.asarray(net[key])
            out[key] = (str(arr.shape), [arr])
    for l, layer in enumerate(net["layers"]):
        for key in ("k", "b", "a", "d", "dk", "db", "vk", "vb"):
            if key not in layer:
                continue
            name = f"layers[{l}].{key}"
            if key in LAYER_GRIDS:
                arrays = [np.asarray(v) for row in layer[key] for v in row]
                grid = f"{len(layer[key])}x{len(layer[key][0]) if layer[key] else 0}"
                out[name] = (f"{grid} of {arrays[0].shape if arrays else ()}", arrays)
            elif key in LAYER_MAPS:
                arrays = [np.asarray(v) for v in layer[key]]
                out[name] = (f"{len(arrays)} of {arrays[0].shape if arrays else ()}", arrays)
            else:
                arr = np.asarray(layer[key], dtype=np.float64).reshape(-1)
                out[name] = (f"{arr.size} scalars", [arr])
    return out


def compare_nets(a: Any, b: Any) -> list[dict]:
    """Per-field differences between two nets, ``b`` being the reference.

    Parameters
    ----------
    a, b : dict or str or path-like
        Nets, or files :func:`load_net` reads (``.mat``, ``.npz``, ``"FILE.mat:VARIABLE"``).

    Returns
    -------
    list of dict
        One row per field (``ffW``, ``layers[1].k``, ``layers[3].a``, ...) with ``field``,
        ``shape`` (text; cells as ``"1x6 of (5, 5)"``), ``max_abs`` (max |a - b|), ``max_rel``
        (max_abs / max(1, max |b|)) and ``note`` (``""`` when compared). A field present on one
        side only, or with other shapes, or a net with other layers, gets ``max_abs`` and
        ``max_rel`` None and a note saying so (``"only in a"``, ``"only in b"``, ``"shape
        differs: ..."``, ``"layers differ: ..."``). NaN in either side gives NaN.
    """
    net_a, net_b = _as_net(a, "a"), _as_net(b, "b")
    spec_a, spec_b = spec_of(net_a), spec_of(net_b)
    if spec_a != spec_b:
        return [
            {
                "field": "layers",
                "shape": f"{spec_a} / {spec_b}",
                "max_abs": None,
                "max_rel": None,
                "note": f"layers differ: {spec_a} vs {spec_b}",
            }
        ]
    fields_a, fields_b = _flat_fields(net_a), _flat_fields(net_b)
    rows = []
    for field in [*fields_a, *(f for f in fields_b if f not in fields_a)]:
        row = {"field": field, "max_abs": None, "max_rel": None, "note": ""}
        if field not in fields_b or field not in fields_a:
            side = "a" if field in fields_a else "b"
            row.update(shape=(fields_a.get(field) or fields_b[field])[0], note=f"only in {side}")
        else:
            (shape_a, arrs_a), (shape_b, arrs_b) = fields_a[field], fields_b[field]
            row["shape"] = shape_b
            if [x.shape for x in arrs_a] != [x.shape for x in arrs_b]:
                row["note"] = f"shape differs: {shape_a} vs {shape_b}"
            else:
                diff = max(
                    (float(np.max(np.abs(x - y), initial=0.0)) for x, y in zip(arrs_a, arrs_b)),
                    default=0.0,
                )
                scale = max((float(np.max(np.abs(y), initial=0.0)) for y in arrs_b), default=0.0)
                if any(np.isnan(x).any() or np.isnan(y).any() for x, y in zip(arrs_a, arrs_b)):
                    diff = float("nan")
                row.update(max_abs=diff, max_rel=diff / max(1.0, scale))
        rows.append(row)
    return rows


def comparison_table(rows: list[dict], tol: float | None = None) -> str:
    """Rows of :func:`compare_nets` as an aligned text table.

    With ``tol``, a last column says ``ok`` (max_rel <= tol), ``ABOVE`` (max_rel > tol or NaN)
    or ``-`` (not compared: see the note).
    """

    def number(x: float | None) -> str:
        return "-" if x is None else f"{x:.3e}"

    header = ["field", "shape", "max abs", "max rel"] + (["status"] if tol is not None else [])
    table = [header]
    for row in rows:
        line = [row["field"], row["shape"], number(row["max_abs"]), number(row["max_rel"])]
        if tol is not None:
            rel = row["max_rel"]
            line.append("-" if rel is None else "ok" if rel <= tol else "ABOVE")
        if row.get("note"):
            line.append(row["note"])
        table.append(line)
    ncols = len(header)
    widths = [max(len(r[c]) for r in table if c < len(r)) for c in range(ncols)]
    lines = []
    for r in table:
        cells = [r[c].ljust(widths[c]) if c < 2 else r[c].rjust(widths[c]) for c in range(ncols)]
        lines.append("  ".join(cells + r[ncols:]).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
