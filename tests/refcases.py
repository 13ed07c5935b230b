"""Read the Octave reference cases in ../shared/reference into plain Python values.

scipy.io.loadmat with ``squeeze_me=False`` keeps one-element cells; cells become lists walked
in column-major order, structs dicts, char arrays strings, and the 1-based index fields
(``kk``, ``bad``) stay as Octave wrote them: callers subtract 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io


def _plain(value):
    if isinstance(value, np.ndarray):
        if value.dtype.names is not None:
            recs = [{n: _plain(r[n]) for n in value.dtype.names} for r in value.ravel(order="F")]
            return recs[0] if value.size == 1 else recs
        if value.dtype == object:
            return [_plain(v) for v in value.ravel(order="F")]
        if value.dtype.kind == "U":
            return "".join(value.ravel().tolist())
    return value


def load_case(path: Path) -> dict:
    raw = scipy.io.loadmat(path, struct_as_record=True, squeeze_me=False)
    return {k: _plain(v) for k, v in raw.items() if not k.startswith("__")}


def scalar(value) -> float:
    return float(np.asarray(value).ravel()[0])


def layers_of(case: dict) -> list[dict]:
    """The case's layer list as a dltoolbox ``net["layers"]``."""
    out = []
    for layer in case["layers"]:
        d = {"type": layer["type"]}
        for key in ("outputmaps", "kernelsize", "scale"):
            if key in layer:
                d[key] = int(scalar(layer[key]))
        out.append(d)
    return out


def kgrid(cell) -> list[list]:
    """Octave's k{i}{j} as a list over i of lists over j."""
    return [row if isinstance(row, list) else [row] for row in cell]


def set_params(net: dict, ref: dict) -> dict:
    """Give ``net`` the reference net's k, b, ffW, ffb (copies)."""
    for layer, r in zip(net["layers"], ref["layers"]):
        if r["type"] == "c":
            layer["k"] = [[np.array(k, dtype=float) for k in row] for row in kgrid(r["k"])]
            layer["b"] = [scalar(b) for b in r["b"]]
    net["ffW"] = np.array(ref["ffW"], dtype=float)
    net["ffb"] = np.array(ref["ffb"], dtype=float).reshape(-1, 1)
    return net


def cases(kind: str | None = None) -> list[Path]:
    from conftest import REFERENCE

    paths = sorted(REFERENCE.glob("*.mat"))
    if kind is None:
        return paths
    return [p for p in paths if load_case(p)["kind"] == kind]
