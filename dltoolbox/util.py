"""The toolbox's small helpers (``util/sigm.m``, ``expand.m``, ``flipall.m`` and ``rot180``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import InputError


def sigm(p: np.ndarray) -> np.ndarray:
    """Logistic sigmoid ``1 / (1 + exp(-p))``, elementwise.

    Parameters
    ----------
    p : ndarray, any shape (or a scalar)

    Returns
    -------
    ndarray, the shape of ``p``
        ``p``'s dtype for float input (float32 stays float32), float64 for integer input.
    """
    return 1.0 / (1.0 + np.exp(-p))


def expand(a: np.ndarray, s: Sequence[int]) -> np.ndarray:
    """Replicate each element of ``a`` into an ``s[0] x s[1] x ...`` block (MATLAB's ``expand``).

    Parameters
    ----------
    a : ndarray, shape (n0, n1, ...)
    s : sequence of int, one non-negative integer per dimension of ``a``

    Returns
    -------
    ndarray, shape (n0 * s[0], n1 * s[1], ...)
        The dtype of ``a``.

    Examples
    --------
    >>> expand(np.array([[1, 2], [3, 4]]), [2, 1])
    array([[1, 2],
           [1, 2],
           [3, 4],
           [3, 4]])
    """
    a = np.asarray(a)
    s = list(s)
    if len(s) != a.ndim:
        raise InputError(
            f"s: expected one factor per dimension of a ({a.ndim}), got {len(s)} factors {s!r}"
        )
    for factor in s:
        if isinstance(factor, bool) or int(factor) != factor or factor < 0:
            raise InputError(f"s: expected non-negative integers, got {s!r}")
    for axis, factor in enumerate(s):
        a = np.repeat(a, int(factor), axis=axis)
    return a


def flipall(x: np.ndarray) -> np.ndarray:
    """Reverse ``x`` along every dimension (for a map stack, the batch axis too).

    Parameters
    ----------
    x : ndarray, any shape, e.g. (rows, cols, batch)

    Returns
    -------
    ndarray, the shape and dtype of ``x``
        A view: ``flipall(x)[i, j, n] == x[-1 - i, -1 - j, -1 - n]``.
    """
    return np.flip(x)


def rot180(x: np.ndarray) -> np.ndarray:
    """Rotate by 180 degrees in the first two dimensions (flip rows and columns).

    Parameters
    ----------
    x : ndarray, shape (rows, cols, ...), at least 2-D

    Returns
    -------
    ndarray, the shape and dtype of ``x``
        A view: ``rot180(x)[i, j, ...] == x[-1 - i, -1 - j, ...]``.
    """
    return np.flip(np.flip(x, 0), 1)
