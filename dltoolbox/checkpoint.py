"""Training checkpoints for :func:`cnntrain`: the net, its ``rL``, the epoch and the random stream.

A checkpoint is a dltoolbox ``.npz`` net (see :mod:`dltoolbox.netio`) with three more entries: the
number of finished epochs and the run's settings (JSON), and the random-stream state: the Mersenne
Twister key (uint32) of an OctaveRandom (or of a twister MatlabRandom), or the JSON state of a
v5uniform :class:`~dltoolbox.matlab_random.MatlabRandom`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputTypeError, NetFileError
from .fileutil import PathLike, write_atomically
from .netio import net_from_arrays, net_to_arrays
from .netio.npzfile import read_arrays

_INFO = "checkpoint.info"
_KEY = "checkpoint.rng_key"
_STATE_KINDS = ("MT19937", "v5uniform")


def rng_state(rng: Any) -> tuple:
    """``rng.get_state()``, checked to be numpy's MT19937 state tuple (as OctaveRandom gives) or
    the ``("v5uniform", ...)`` tuple of a v5uniform MatlabRandom."""
    get_state = getattr(rng, "get_state", None)
    if not callable(get_state) or not callable(getattr(rng, "set_state", None)):
        raise InputTypeError(
            'opts["checkpoint"]: needs an rng with get_state() and set_state() (an OctaveRandom, '
            f"a MatlabRandom or an int seed), got {type(rng).__name__}"
        )
    state = get_state()
    if not (isinstance(state, tuple) and len(state) == 5 and state[0] in _STATE_KINDS):
        raise InputTypeError(
            'opts["checkpoint"]: rng.get_state() must give numpy\'s MT19937 state tuple or a '
            f"MatlabRandom's v5uniform one, got {type(state).__name__}"
        )
    return state


def save_checkpoint(path: PathLike, net: dict, epochs_done: int, rng: Any, run: dict) -> None:
    """Write the checkpoint atomically (a temporary file beside ``path``, then a rename).

    Parameters
    ----------
    path : str or path-like
        The checkpoint file (``.npz`` content whatever its name).
    net : dict
        The whole net, activations of the last batch and ``rL`` included.
    epochs_done : int
        Epochs finished so far.
    rng : OctaveRandom or similar
        Its state after those epochs.
    run : dict
        JSON-able settings a resumed run must share (alpha, batch size, sample count, layers).
    """
    kind, *state = rng_state(rng)
    arrays = net_to_arrays(net)
    if kind == "MT19937":
        key, pos, has_gauss, cached_gaussian = state
        arrays[_KEY] = np.asarray(key, dtype=np.uint32)
        saved_rng: Any = [int(pos), int(has_gauss), float(cached_gaussian)]
    else:  # v5uniform: 32 words below 2**53 (exact in JSON), index, borrow, register
        words, i, borrow, j = state
        saved_rng = {"v5uniform": [int(w) for w in words], "i": i, "borrow": borrow, "j": j}
    info = {"epochs_done": int(epochs_done), "run": run, "rng": saved_rng}
    arrays[_INFO] = np.array(json.dumps(info))
    write_atomically(path, lambda f: np.savez(f, **arrays))


def load_checkpoint(path: PathLike) -> tuple[dict, int, tuple, dict]:
    """Read a checkpoint.

    Returns
    -------
    net : dict
        As saved.
    epochs_done : int
    state : tuple
        For ``rng.set_state``.
    run : dict
        The settings it was saved with.

    Raises
    ------
    NetFileError
        The file is damaged (see :func:`dltoolbox.netio.npzfile.read_arrays`), no checkpoint,
        or its epoch count, settings or random-stream state are not of the kinds saved.
    """
    arrays = read_arrays(Path(path), "cnntrain checkpoint")
    if _INFO not in arrays:
        raise NetFileError(path, f"not a cnntrain checkpoint (no {_INFO!r} entry)")
    try:
        info = json.loads(str(arrays[_INFO]))
    except ValueError as err:
        raise NetFileError(path, f"unreadable {_INFO!r} entry ({err})") from None
    if not isinstance(info, dict) or not isinstance(info.get("run"), dict):
        raise _bad(path, "its description is not a dict with the run's settings")
    epochs_done = info.get("epochs_done")
    if not _is_int(epochs_done) or epochs_done < 0:
        raise _bad(path, f"epochs_done is {epochs_done!r}, expected a non-negative integer")
    state = _saved_state(info.get("rng"), arrays.get(_KEY), path)
    return net_from_arrays(arrays, str(path)), epochs_done, state, info["run"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bad(path: PathLike, what: str) -> NetFileError:
    return NetFileError(path, f"not a usable cnntrain checkpoint: {what}")


def _saved_state(saved: Any, key: Any, path: PathLike) -> tuple:
    """The random-stream state of a checkpoint, checked to be of the kinds :func:`rng_state`
    writes (its values are checked by the stream's ``set_state``)."""
    if isinstance(saved, dict):  # v5uniform
        words = saved.get("v5uniform")
        parts = [saved.get(k) for k in ("i", "borrow", "j")]
        if not (isinstance(words, list) and len(words) == 32 and all(map(_is_int, words))):
            raise _bad(path, "its v5uniform state is not 32 integers")
        if not all(map(_is_int, parts)):
            raise _bad(path, f"its v5uniform i, borrow, j are {parts}, expected integers")
        return ("v5uniform", tuple(words), *parts)
    if not (isinstance(saved, list) and len(saved) == 3):
        raise _bad(path, f"its random-stream state is {saved!r:.60}")
    pos, has_gauss, cached_gaussian = saved
    if not (_is_int(pos) and 0 <= pos <= 624 and has_gauss in (0, 1)):
        raise _bad(path, f"its Mersenne Twister position {pos!r} is not in 0..624")
    if not (isinstance(key, np.ndarray) and key.dtype == np.uint32 and key.shape == (624,)):
        raise _bad(path, f"its Mersenne Twister key {_KEY!r} is not 624 uint32 words")
    if not isinstance(cached_gaussian, (int, float)):
        raise _bad(path, f"its cached gaussian is {cached_gaussian!r}")
    return ("MT19937", key, pos, int(has_gauss), float(cached_gaussian))
