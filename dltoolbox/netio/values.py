"""The values the file formats share: checks of what is written, and the net's layout of what
is read back (scalars as floats, kernels as a :class:`~dltoolbox.net.KernelStack`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..checks import numeric_array
from ..constraints import NON_NEGATIVE_INT, POSITIVE_INT, check
from ..errors import InputError
from ..net import Field, as_value


def numeric(value: Any, where: str) -> np.ndarray:
    """``value`` as a real numeric array of any shape and its own dtype (NaN allowed)."""
    return numeric_array(value, where, None, None, finite=False)


def one_number(value: Any, where: str) -> np.ndarray:
    """``value`` as an array of one number, floating point (integers become float64)."""
    arr = numeric(value, where)
    if arr.size != 1:
        raise InputError(f"{where}: expected a number, got an array of shape {arr.shape}")
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def layer_int(value: Any, where: str) -> int:
    """An ``int`` field's value (a positive integral number) as an int."""
    return check(value, POSITIVE_INT, where)


def option_value(value: Any, where: str) -> int | str:
    """A ``value`` field's value (a non-negative integer, or a string) as it is stored."""
    return value if isinstance(value, str) else check(value, NON_NEGATIVE_INT, where)


def table_value(arr: np.ndarray, where: str) -> np.ndarray:
    """A ``table`` field read back: a boolean array (MATLAB stores logicals as 0/1 numbers)."""
    if not np.isin(arr, (0, 1)).all():
        raise InputError(f"{where}: expected a table of 0 and 1 (true/false), got other values")
    return arr.astype(bool)


def scalar_value(arr: np.ndarray) -> Any:
    """A 1-element array as the net stores scalars: float for double, else a numpy scalar."""
    value = arr.reshape(-1)[0]
    return float(value) if arr.dtype == np.float64 else value


def grid_value(field: Field, rows: list[list[np.ndarray]]) -> list:
    """Kernels ``k[i][j]`` read from a file, as the net keeps them: a :class:`KernelStack`
    when they are 2-D arrays of one shape and dtype in a full grid, else the lists as read."""
    kernels = [k for row in rows for k in row]
    if (
        not kernels
        or len({len(row) for row in rows}) != 1
        or len({(k.shape, k.dtype) for k in kernels}) != 1
        or kernels[0].ndim != 2
    ):
        return rows
    return as_value(field, np.array(rows))
