"""Octave's uniform random stream (``rand('state', s)``), reproduced bit for bit.

Octave seeds MT19937 from a key vector with ``init_by_array`` and builds each double from two
32-bit outputs ``a, b`` as ``((a >> 5) * 2**26 + (b >> 6)) / 2**53``. numpy's legacy
``RandomState`` does exactly that when it is seeded with a *list* of integers, and its
``random_sample`` is the same 53-bit construction, so it is the engine underneath.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .constraints import NON_NEGATIVE_INT, check
from .errors import InputError, InputTypeError

_UINT32_MAX = 2**32 - 1


def _key_word(value: float) -> int:
    """One seed element as Octave turns it into a uint32: round half away from zero, clamp."""
    if not math.isfinite(value):
        return 0
    rounded = math.floor(abs(value) + 0.5) * (1 if value >= 0 else -1)
    return int(min(max(rounded, 0), _UINT32_MAX))


class OctaveRandom:
    """The twin of Octave's ``rand('state', seed)`` (also ``rand('twister', seed)``).

    Parameters
    ----------
    seed : float or array_like of float
        The state argument given to Octave. Each element becomes a uint32 (rounded half away
        from zero, clamped to [0, 2**32 - 1], NaN and Inf give 0) and the vector seeds MT19937
        through ``init_by_array``.

    Examples
    --------
    >>> r = OctaveRandom(0)          # Octave: rand('state', 0)
    >>> r.rand(2, 3).shape           # Octave: rand(2, 3), filled column-major
    (2, 3)
    >>> sorted(r.randperm(5))        # Octave: randperm(5) - 1
    [0, 1, 2, 3, 4]
    """

    def __init__(self, seed: Any = 0) -> None:
        values = np.asarray(seed)
        if values.size == 0 or not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
            raise InputTypeError(
                f"seed: expected a number or a non-empty array of numbers, got {seed!r}"
            )
        if np.iscomplexobj(values):
            raise InputTypeError(f"seed: expected real numbers, got complex {seed!r}")
        self.key = [_key_word(float(v)) for v in values.ravel(order="F")]
        # A list (not an int or an array) makes numpy use init_by_array, as Octave does.
        self._stream = np.random.RandomState(self.key)

    def rand(self, *dims: int) -> np.ndarray | float:
        """Uniform doubles in [0, 1) as Octave's ``rand(dims...)``.

        ``rand()`` is one float, ``rand(n)`` is an (n, n) array, ``rand(m, n, p, ...)`` is an
        array of that shape filled in column-major order, so it equals Octave's element for
        element.

        Parameters
        ----------
        *dims : int
            Non-negative sizes, as Octave's ``rand(dims...)``.

        Returns
        -------
        float, or ndarray of float64 with shape (dims[0], dims[0]) for one size, else ``dims``
        """
        if not dims:
            return float(self._stream.random_sample())
        for d in dims:
            if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0:
                raise InputError(f"dims: expected non-negative integers, got {dims!r}")
        shape = (dims[0], dims[0]) if len(dims) == 1 else tuple(int(d) for d in dims)
        count = math.prod(shape)
        return self._stream.random_sample(count).reshape(shape, order="F")

    def randperm(self, n: int) -> np.ndarray:
        """A random permutation of ``0 .. n-1``: Octave's ``randperm(n) - 1`` from the same stream.

        Octave draws n doubles ``r`` and, for i = 0 .. n-1, swaps ``idx[i]`` with
        ``idx[i + floor(r[i] * (n - i))]``.

        Parameters
        ----------
        n : int, non-negative

        Returns
        -------
        ndarray of int64, shape (n,)
        """
        n = check(n, NON_NEGATIVE_INT, "n")
        r = self._stream.random_sample(n)
        k = np.arange(n) + np.floor(r * (n - np.arange(n))).astype(np.int64)
        idx = list(range(n))
        for i, j in enumerate(k.tolist()):
            idx[i], idx[j] = idx[j], idx[i]
        return np.array(idx, dtype=np.int64)

    def get_state(self) -> tuple:
        """The generator state (numpy's ``RandomState.get_state`` tuple), for checkpoints."""
        return self._stream.get_state()

    def set_state(self, state: tuple) -> None:
        """Restore a state returned by :meth:`get_state`."""
        self._stream.set_state(state)

    def __repr__(self) -> str:
        return f"OctaveRandom(key={self.key!r})"
