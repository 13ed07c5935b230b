"""MATLAB's own uniform random streams: ``rand('state', s)`` (legacy v5) and ``rng(s, 'twister')``.

In MATLAB, ``rand('state', s)`` (what ``test_example_CNN`` calls) selects the legacy generator
MATLAB 5 to 7.3 used by default, ``rng(s, 'v5uniform')`` since R2008b; GNU Octave seeds a Mersenne
Twister there instead (:class:`~dltoolbox.octave_random.OctaveRandom`). The legacy generator is
the one Cleve Moler publishes in "Numerical Computing with MATLAB" (chapter "Random Numbers",
``randtx.m``): Marsaglia's subtract-with-borrow on 32 doubles of 53 bits,

    x = z[(i + 20) % 32] - z[(i + 5) % 32] - b,   then x += 1, b = 2**-53 where x < 0,

stored back as ``z[i]`` (i runs 0..31 cyclically), and each result is ``x`` with the 52 fraction
bits below its leading bit xored with ``(j_new mod 2**20) * 2**32 + j_old``, where ``j`` is a 32-bit
xorshift register (``j ^= j << 13; j ^= j >> 17; j ^= j << 5``) advanced once per result.
``rand('state', s)`` sets ``j = s`` (``2**31`` for 0), fills ``z`` bit by bit from 53 register
steps each (bit 19 of the register, from a copy: ``j`` itself keeps the seed), ``i = 0``,
``b = 0``.

``rng(s, 'twister')`` (``rng(s)``, MATLAB's current default generator) is MT19937 seeded with
``init_genrand(s)`` (``s = 0`` is the reference seed 5489), each double made from two 32-bit
outputs as numpy's legacy ``RandomState.random_sample`` does, which is the engine underneath.

``randperm(n)`` is MATLAB's: the permutation that sorts ``rand(1, n)`` (a stable sort), 0-based.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .constraints import NON_NEGATIVE_INT, check
from .errors import InputError, InputTypeError
from .octave_random import OctaveRandom

GENERATORS = ("v5uniform", "twister")
#: The ``--rng`` choices of the command line and the stream each one builds (see make_rng).
RNG_CHOICES = ("octave", "matlab", "matlab-twister")

_M32 = 0xFFFFFFFF
_M53 = (1 << 53) - 1
_LOW20 = (1 << 20) - 1


def _xorshift(j: int) -> int:
    """One step of the 32-bit shift-register integer generator (13, 17, 5)."""
    j ^= (j << 13) & _M32
    j ^= j >> 17
    return j ^ ((j << 5) & _M32)


def _v5_setup(j: int) -> list[int]:
    """The 32 SWB words (as integers, value / 2**53), each built from 53 register bits."""
    words = []
    for _ in range(32):
        x = 0
        for _ in range(53):
            j = _xorshift(j)
            x = 2 * x + ((j >> 19) & 1)
        words.append(x)
    return words


def _check_seed(seed: Any) -> int:
    """``seed`` as an int in [0, 2**32 - 1]; integral floats (MATLAB's doubles) are accepted."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(
        seed, (int, np.integer, float, np.floating)
    ):
        raise InputTypeError(f"seed: expected an integer in [0, 2**32 - 1], got {seed!r}")
    if not (math.isfinite(seed) and seed == int(seed) and 0 <= seed <= _M32):
        raise InputError(f"seed: expected an integer in [0, 2**32 - 1], got {seed!r}")
    return int(seed)


def _shape(dims: tuple) -> tuple[int, ...]:
    """MATLAB's ``rand(dims...)`` shape: (n, n) for one size, else ``dims``."""
    for d in dims:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 0:
            raise InputError(f"dims: expected non-negative integers, got {dims!r}")
    return (int(dims[0]),) * 2 if len(dims) == 1 else tuple(int(d) for d in dims)


class MatlabRandom:
    """The twin of MATLAB's ``rand('state', seed)`` or ``rng(seed, 'twister')``.

    Parameters
    ----------
    seed : int, in [0, 2**32 - 1]
        The seed given to MATLAB (an integral float is accepted; MATLAB's conversion of other
        values is not published, so they are refused).
    generator : {"v5uniform", "twister"}
        ``"v5uniform"`` (default): ``rand('state', seed)``, the same as ``rng(seed,
        'v5uniform')``. ``"twister"``: ``rng(seed, 'twister')``, which plain ``rng(seed)`` is
        in current MATLAB.

    Examples
    --------
    >>> r = MatlabRandom(0)                  # MATLAB: rand('state', 0)
    >>> round(r.rand(), 12)                  # MATLAB: rand
    0.950129285147
    >>> (MatlabRandom(0, "twister").randperm(10) + 1).tolist()  # rng(0); randperm(10)
    [6, 3, 7, 8, 5, 1, 2, 4, 9, 10]
    """

    def __init__(self, seed: Any = 0, generator: str = "v5uniform") -> None:
        if generator not in GENERATORS:
            raise InputError(
                f"generator: expected one of {', '.join(map(repr, GENERATORS))}, got {generator!r}"
            )
        self.seed, self.generator = _check_seed(seed), generator
        if generator == "twister":
            self._stream = np.random.RandomState(self.seed or 5489)  # an int: init_genrand
            return
        self._j = self.seed or 1 << 31
        self._z = _v5_setup(self._j)
        self._i, self._borrow = 0, 0

    def _v5_draw(self, count: int) -> np.ndarray:
        """``count`` doubles of the legacy stream, advancing its state."""
        z, i, borrow, j = self._z, self._i, self._borrow, self._j
        out = np.empty(count)
        for k in range(count):
            x = z[(i + 20) & 31] - z[(i + 5) & 31] - borrow
            borrow = 1 if x < 0 else 0
            x &= _M53  # x + 2**53 where it was negative
            z[i] = x
            i = (i + 1) & 31
            j_new = _xorshift(j)
            mask = ((j_new & _LOW20) << 32) | j
            j = j_new
            if x == 0:  # no leading bit: randtx's log2(0) gives f = 0, e = 0
                out[k] = math.ldexp(mask, -53)
                continue
            lead = x.bit_length()
            out[k] = math.ldexp((x << (53 - lead)) ^ mask, lead - 106)
        self._i, self._borrow, self._j = i, borrow, j
        return out

    def _draw(self, count: int) -> np.ndarray:
        if self.generator == "twister":
            return self._stream.random_sample(count)
        return self._v5_draw(count)

    def rand(self, *dims: int) -> np.ndarray | float:
        """Uniform doubles in (0, 1) as MATLAB's ``rand(dims...)``.

        ``rand()`` is one float, ``rand(n)`` an (n, n) array, ``rand(m, n, p, ...)`` an array
        of that shape filled in column-major order, element for element MATLAB's.

        Parameters
        ----------
        *dims : int
            Non-negative sizes.

        Returns
        -------
        float, or ndarray of float64 with shape (dims[0], dims[0]) for one size, else ``dims``
        """
        if not dims:
            return float(self._draw(1)[0])
        shape = _shape(dims)
        return self._draw(math.prod(shape)).reshape(shape, order="F")

    def randperm(self, n: int) -> np.ndarray:
        """MATLAB's ``randperm(n) - 1``: the stable sort order of ``rand(1, n)``.

        Parameters
        ----------
        n : int, non-negative

        Returns
        -------
        ndarray of int64, shape (n,)
        """
        n = check(n, NON_NEGATIVE_INT, "n")
        return np.argsort(self._draw(n), kind="stable").astype(np.int64)

    def get_state(self) -> tuple:
        """The state, for checkpoints: numpy's MT19937 tuple for ``"twister"``; for
        ``"v5uniform"`` the tuple ``("v5uniform", z, i, borrow, j)`` with ``z`` the 32 words as
        integers (value times 2**53), ``i`` in 0..31, ``borrow`` 0 or 1, ``j`` the register."""
        if self.generator == "twister":
            return self._stream.get_state()
        return ("v5uniform", tuple(self._z), self._i, self._borrow, self._j)

    def set_state(self, state: Sequence) -> None:
        """Restore a state returned by :meth:`get_state` of a stream of the same generator."""
        kind = state[0] if isinstance(state, (tuple, list)) and state else None
        want = "MT19937" if self.generator == "twister" else "v5uniform"
        if kind != want:
            raise InputError(
                f"state: expected a {want} state (from get_state of a {self.generator} "
                f"MatlabRandom), got {kind!r}"
            )
        if self.generator == "twister":
            self._stream.set_state(tuple(state))
            return
        _, z, i, borrow, j = state
        z = [int(w) for w in z]
        if (
            len(z) != 32
            or not all(0 <= w <= _M53 for w in z)
            or not (0 <= int(i) <= 31 and int(borrow) in (0, 1) and 0 < int(j) <= _M32)
        ):
            raise InputError("state: not a v5uniform state (32 words < 2**53, i, borrow, j)")
        self._z, self._i, self._borrow, self._j = z, int(i), int(borrow), int(j)

    @property
    def name(self) -> str:
        """``"matlab"`` or ``"matlab-twister"``: the ``--rng`` choice this stream is."""
        return "matlab" if self.generator == "v5uniform" else "matlab-twister"

    def __repr__(self) -> str:
        return f"MatlabRandom({self.seed}, generator={self.generator!r})"


def make_rng(kind: str, seed: int) -> OctaveRandom | MatlabRandom:
    """The stream of a ``--rng`` choice: ``"octave"`` (``OctaveRandom(seed)``, GNU Octave's
    ``rand('state', seed)``), ``"matlab"`` (``MatlabRandom(seed)``, MATLAB's ``rand('state',
    seed)``) or ``"matlab-twister"`` (``MatlabRandom(seed, "twister")``, ``rng(seed)``)."""
    if kind == "octave":
        return OctaveRandom(seed)
    if kind in RNG_CHOICES:
        return MatlabRandom(seed, "v5uniform" if kind == "matlab" else "twister")
    raise InputError(f"rng: expected one of {', '.join(RNG_CHOICES)}, got {kind!r}")
