"""Training checkpoints for :func:`cnntrain`: the net, its ``rL``, the epoch and the random stream.

A checkpoint is a dltoolbox ``.npz`` net (see :mod:`dltoolbox.netio`) with three more entries: the
number of finished epochs and the run's settings (JSON), and the random-stream state: the Mersenne
Twister key (uint32) of an OctaveRandom (or of a twister MatlabRandom), or the JSON state of a
v5uniform :class:`~dltoolbox.matlab_random.MatlabRandom`.
"""

from __future__ import annotations

import json
import zipfile
from typing import Any

import numpy as np

from .fileutil import PathLike, write_atomically
from .netio import net_from_arrays, net_to_arrays

_INFO = "checkpoint.info"
_KEY = "checkpoint.rng_key"
_STATE_KINDS = ("MT19937", "v5uniform")


def rng_state(rng: Any) -> tuple:
    """``rng.get_state()``, checked to be numpy's MT19937 state tuple (as OctaveRandom gives) or
    the ``("v5uniform", ...)`` tuple of a v5uniform MatlabRandom."""
    get_state = getattr(rng, "get_state", None)
    if not callable(get_state) or not callable(getattr(rng, "set_state", None)):
        raise TypeError(
            'opts["checkpoint"]: needs an rng with get_state() and set_state() (an OctaveRandom, '
            f"a MatlabRandom or an int seed), got {type(rng).__name__}"
        )
    state = get_state()
    if not (isinstance(state, tuple) and len(state) == 5 and state[0] in _STATE_KINDS):
        raise TypeError(
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
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        info = json.loads(str(arrays[_INFO]))
        saved_rng = info["rng"]
        if isinstance(saved_rng, dict):
            words = tuple(saved_rng["v5uniform"])
            state = ("v5uniform", words, saved_rng["i"], saved_rng["borrow"], saved_rng["j"])
        else:
            pos, has_gauss, cached_gaussian = saved_rng
            state = ("MT19937", arrays[_KEY], pos, has_gauss, cached_gaussian)
        epochs_done, run = int(info["epochs_done"]), info["run"]
    except (KeyError, ValueError, TypeError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: not a readable cnntrain checkpoint ({err!r})") from None
    return net_from_arrays(arrays, str(path)), epochs_done, state, run
