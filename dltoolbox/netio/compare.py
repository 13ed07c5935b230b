"""``compare_nets``: per-field differences of two nets (ours beside MATLAB/Octave's), and
``comparison_table`` to print them."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputTypeError
from ..spec import spec_of
from .fields import checked_net, table_of
from .files import load_net


def _as_net(value: Any, which: str) -> dict:
    if isinstance(value, dict):
        return checked_net(value)
    if isinstance(value, (str, os.PathLike)):
        return load_net(value)
    raise InputTypeError(
        f"{which}: expected a net dict or a path (.mat, .npz, FILE.mat:VARIABLE), "
        f"got {type(value).__name__}"
    )


def _whole(value: Any) -> tuple[str, list[np.ndarray]]:
    arr = np.asarray(value)
    return str(arr.shape), [arr]


def _grid(value: Any) -> tuple[str, list[np.ndarray]]:
    arrays = [np.asarray(v) for row in value for v in row]
    grid = f"{len(value)}x{len(value[0]) if value else 0}"
    return f"{grid} of {arrays[0].shape if arrays else ()}", arrays


def _maps(value: Any) -> tuple[str, list[np.ndarray]]:
    arrays = [np.asarray(v) for v in value]
    return f"{len(arrays)} of {arrays[0].shape if arrays else ()}", arrays


def _scalars(value: Any) -> tuple[str, list[np.ndarray]]:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    return f"{arr.size} scalars", [arr]


#: Form -> (shape text, arrays) of a field's value, for the forms that are compared.
_FLATTEN: dict[str, Callable[[Any], tuple[str, list[np.ndarray]]]] = {
    "grid": _grid,
    "maps": _maps,
    "scalars": _scalars,
    "array": _whole,
    "vector": _whole,
    "scalar": _whole,
}


def _flat_fields(net: dict) -> dict[str, tuple[str, list[np.ndarray]]]:
    """field name -> (shape text, arrays) of every numeric field, in table order."""
    tables = [("", net, table_of())] + [
        (f"layers[{l}].", layer, table_of(layer["type"])) for l, layer in enumerate(net["layers"])
    ]
    return {
        prefix + key: _FLATTEN[field.form](d[key])
        for prefix, d, table in tables
        for key, field in table.items()
        if key in d and field.form in _FLATTEN
    }


def _row(field: str, a: tuple | None, b: tuple | None) -> dict:
    """The comparison row of one field: (shape text, arrays) on each side, or None."""
    row = {"field": field, "max_abs": None, "max_rel": None, "note": ""}
    if a is None or b is None:
        row.update(shape=(a or b)[0], note=f"only in {'a' if b is None else 'b'}")
        return row
    (shape_a, arrs_a), (shape_b, arrs_b) = a, b
    row["shape"] = shape_b
    if [x.shape for x in arrs_a] != [x.shape for x in arrs_b]:
        row["note"] = f"shape differs: {shape_a} vs {shape_b}"
        return row
    diff = max(
        (float(np.max(np.abs(x - y), initial=0.0)) for x, y in zip(arrs_a, arrs_b)), default=0.0
    )
    scale = max((float(np.max(np.abs(y), initial=0.0)) for y in arrs_b), default=0.0)
    if any(np.isnan(x).any() or np.isnan(y).any() for x, y in zip(arrs_a, arrs_b)):
        diff = float("nan")
    row.update(max_abs=diff, max_rel=diff / max(1.0, scale))
    return row


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
    names = [*fields_a, *(f for f in fields_b if f not in fields_a)]
    return [_row(name, fields_a.get(name), fields_b.get(name)) for name in names]


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
