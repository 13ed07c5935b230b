"""Allowed values of every option, declared in tables and checked by one function.

In the manner of scikit-learn's ``_parameter_constraints``: a table maps each option name to a
constraint (:class:`Interval`, :class:`Options`, :class:`Instance`, or a tuple of them: any one
may hold), and :func:`validate` checks a dict of options against it, so the API, ``cnntrain``
and the command line give messages of one shape::

    opts["momentum"]: expected a number in [0, 1), got 1.5

The tables themselves live beside what they configure: each layer kind's in its home
(:mod:`dltoolbox.layers`), the training options in :mod:`dltoolbox.cnntrain`.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from .errors import InputError, InputTypeError


def describe(value: Any) -> str:
    """A short description of ``value`` for an error message."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:56] + ' ...'}"


def _is_real(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (Real, np.number))


@dataclass(frozen=True)
class Interval:
    """A real number (``integer=True``: an integral one, returned as int) between ``low`` and
    ``high``; ``closed`` says which ends belong to it: "both", "left", "right" or "neither"."""

    low: float = -math.inf
    high: float = math.inf
    closed: str = "both"
    integer: bool = False

    def __str__(self) -> str:
        if self.integer and self.high == math.inf:
            low = self.low + (self.closed in ("right", "neither"))
            return {0: "a non-negative integer", 1: "a positive integer"}.get(
                low, f"an integer >= {low:g}"
            )
        if self.low == 0 and self.high == math.inf and self.closed in ("right", "neither"):
            return "a positive finite number"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        return f"a number in {left}{self.low:g}, {self.high:g}{right}"

    def convert(self, value: Any, name: str) -> int | float:
        if not _is_real(value):
            bounded = self.integer or math.isfinite(self.low) or math.isfinite(self.high)
            raise InputTypeError(
                f"{name}: expected {self if bounded else 'a number'}, got {describe(value)}"
            )
        if not self.contains(value) or (self.integer and value != int(value)):
            raise InputError(f"{name}: expected {self}, got {value!r}")
        return int(value) if self.integer else float(value)

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        low_ok = value >= self.low if self.closed in ("both", "left") else value > self.low
        high_ok = value <= self.high if self.closed in ("both", "right") else value < self.high
        return low_ok and high_ok


@dataclass(frozen=True)
class Options:
    """One of ``values`` (compared with ==)."""

    values: tuple

    def __str__(self) -> str:
        return f"one of {list(self.values)}"

    def convert(self, value: Any, name: str) -> Any:
        if not any(value is v or (type(value) is type(v) and value == v) for v in self.values):
            raise InputError(f"{name}: expected {self}, got {value!r}")
        return value


@dataclass(frozen=True)
class Instance:
    """A value for which ``test(value)`` holds; ``what`` says what that is in words."""

    what: str
    test: Callable[[Any], bool]

    def __str__(self) -> str:
        return self.what

    def convert(self, value: Any, name: str) -> Any:
        if not self.test(value):
            raise InputTypeError(f"{name}: expected {self.what}, got {describe(value)}")
        return value


POSITIVE_INT = Interval(0, math.inf, "right", integer=True)
NON_NEGATIVE_INT = Interval(0, math.inf, "both", integer=True)
POSITIVE_REAL = Interval(0, math.inf, "right")
BOOLEAN = Instance("True or False", lambda v: isinstance(v, (bool, np.bool_)))
PATH = Instance("a file path", lambda v: isinstance(v, (str, os.PathLike)))
NONE = Instance("None", lambda v: v is None)
CALLABLE = Instance("a callable", callable)

Constraint = Interval | Options | Instance | tuple


def check(value: Any, constraint: Constraint, name: str) -> Any:
    """``value`` converted by ``constraint`` (see the module docstring); else a TypeError or
    ValueError naming ``name``, saying what was expected and what was given."""
    if not isinstance(constraint, tuple):
        return constraint.convert(value, name)
    for each in constraint:
        try:
            return each.convert(value, name)
        except (TypeError, ValueError):
            continue
    wanted = ", ".join(str(c) for c in constraint[:-1]) + f" or {constraint[-1]}"
    # a value of a type one of them takes (-1 for "a non-negative integer or 'same'") is a bad
    # value; any other a bad type
    error = InputError if any(_takes_type(c, value) for c in constraint) else InputTypeError
    raise error(f"{name}: expected {wanted}, got {describe(value)}")


def _takes_type(constraint: Constraint, value: Any) -> bool:
    """Whether ``constraint`` takes values of ``value``'s type (if not all of them)."""
    if isinstance(constraint, Interval):
        return _is_real(value)
    if isinstance(constraint, Options):
        return any(type(value) is type(v) for v in constraint.values)
    return False


def validate(
    given: Mapping,
    table: Mapping[str, Constraint],
    name: Callable[[str], str],
    required: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
) -> dict:
    """Every entry of ``given`` checked against ``table``; returns the converted values.

    ``name(key)`` is how a key is named in messages (``opts["alpha"]``). A key missing from
    ``required``, or a key that is not in ``table`` nor in ``ignore`` (a typo, or an option
    that does not apply here), is an error listing the known keys, with a near miss suggested.
    """
    known = sorted((*table, *ignore))
    out = {}
    for key in given:
        if key in ignore:
            continue
        if key not in table:
            near = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise InputError(f"{name(key)}: unknown key{hint}; expected one of {known}")
        out[key] = check(given[key], table[key], name(key))
    missing = [key for key in required if key not in given]
    if missing:
        raise InputError(f"{name(missing[0])}: missing; needed are {list(required)}")
    return out
