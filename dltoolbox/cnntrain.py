"""cnntrain: mini-batch gradient descent over epochs (port of ``CNN/cnntrain.m``).

Beyond the toolbox: a progress bar or callback, checkpoints after each epoch with resume, and a
stop with :class:`NonFiniteLossError` when the loss becomes NaN or Inf.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import checks, netcheck
from .checkpoint import load_checkpoint, rng_state, save_checkpoint
from .cnnapplygrads import update
from .cnnbp import backward
from .cnnff import forward, prepare
from .cnnsetup import as_rng
from .constraints import (
    BOOLEAN,
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    POSITIVE_REAL,
    Instance,
    Options,
    validate,
)
from .engines import ENGINES, create
from .engines import kernels as compiled
from .errors import DltoolboxError, InputError, InputTypeError, NetFileError
from .fileutil import check_writable
from .matlab_random import MatlabRandom
from .net import channels, list_kernels, map_sizes
from .netcheck import output_classes
from .spec import spec_of

#: cnntrain's options and their allowed values (see :mod:`dltoolbox.constraints`).
OPTIONS = {
    "alpha": POSITIVE_REAL,
    "batchsize": POSITIVE_INT,
    "numepochs": NON_NEGATIVE_INT,
    "progress": Instance(
        "None, False, True (a tqdm bar) or a callable progress(epoch, batch, numbatches, net)",
        lambda v: v is None or isinstance(v, bool) or callable(v),
    ),
    "checkpoint": Instance("a file path", lambda v: v is None or isinstance(v, (str, os.PathLike))),
    "resume": BOOLEAN,
    "engine": Options(tuple(sorted(ENGINES))),
    "last_batch": Options((None, "drop", "keep")),
    **checks.OPTIMIZER,
}
REQUIRED = ("alpha", "batchsize", "numepochs")


class NonFiniteLossError(DltoolboxError, FloatingPointError):
    """The loss ``L`` of a batch was NaN or Inf: training diverged.

    Attributes ``epoch`` and ``batch`` are 0-based; the message counts from 1. The net is left as
    it was before that batch.
    """

    def __init__(
        self, loss: float, epoch: int, numepochs: int, batch: int, numbatches: int, alpha: float
    ) -> None:
        self.loss, self.epoch, self.batch, self.alpha = loss, epoch, batch, alpha
        super().__init__(
            f"cnntrain: the loss L became {loss} at epoch {epoch + 1}/{numepochs}, batch "
            f"{batch + 1}/{numbatches}; training diverged. Try a smaller opts['alpha'] (it is "
            f"{alpha:g}; e.g. {alpha / 10:g}). The net is left as it was before that batch."
        )


class _ProgressBar:
    """A tqdm bar over each epoch's batches showing the smoothed loss ``rL[-1]`` and the rate."""

    def __init__(self, numepochs: int) -> None:
        try:
            from tqdm import tqdm
        except ImportError:
            raise ImportError(
                'opts["progress"]=True needs tqdm: pip install tqdm (or "dltoolbox[demo]"), '
                "or pass a callable progress(epoch, batch, numbatches, net)"
            ) from None
        self.tqdm, self.numepochs, self.bar = tqdm, numepochs, None

    def __call__(self, epoch: int, batch: int, numbatches: int, net: dict) -> None:
        if batch == 0:
            self.close()
            desc = f"epoch {epoch + 1}/{self.numepochs}"
            self.bar = self.tqdm(total=numbatches, desc=desc, unit="batch", mininterval=0.25)
        self.bar.set_postfix_str(f"loss {net['rL'][-1]:.4f}", refresh=False)
        self.bar.update(1)
        if batch + 1 == numbatches:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _progress_option(value, numepochs: int) -> Callable | None:
    if value is None or value is False:
        return None
    if value is True:
        return _ProgressBar(numepochs)

    def shown(epoch: int, batch: int, numbatches: int, net: dict) -> None:
        value(epoch, batch, numbatches, list_kernels(net))  # the net as it documents itself

    return shown


def _snapshot(net: dict) -> tuple[dict, list[dict]]:
    """Shallow copies of the net and its layer dicts: cnnff/cnnbp assign new field values."""
    return dict(net), [dict(layer) for layer in net["layers"]]


def _restore(net: dict, snapshot: tuple[dict, list[dict]]) -> None:
    top, layers = snapshot
    net.clear()
    net.update(top)
    for layer, saved in zip(net["layers"], layers):
        layer.clear()
        layer.update(saved)


def _resume(net: dict, x: np.ndarray, path, run: dict, settings: dict, rng) -> tuple:
    """The checkpoint at ``path``, checked to continue this run: (its net, the epochs it had
    finished); ``rng`` is set to its state. Nothing else is changed when it does not fit."""
    saved, epochs_done, state, saved_run = load_checkpoint(path)
    if saved_run != run:
        raise InputError(
            f'opts["checkpoint"]: {path} was saved by another run ({saved_run}); this run is '
            f"{run}. Remove it or set opts['resume'] to False to start afresh"
        )
    if epochs_done > settings["numepochs"]:
        raise InputError(
            f'opts["numepochs"]: the checkpoint {path} has already done {epochs_done} epochs, '
            f"more than the {settings['numepochs']} asked for"
        )
    _check_resumed(net, x, saved, epochs_done * settings["numbatches"] + bool(epochs_done), path)
    dtype, saved_dtype = net["ffW"].dtype, saved["ffW"].dtype
    if saved_dtype != dtype:
        raise InputError(
            f'opts["checkpoint"]: {path} holds a {saved_dtype} net, but this run\'s net is '
            f"{dtype}: resume with the net and data of the checkpoint's dtype "
            f"(x.astype(np.{saved_dtype})), or remove it to start afresh"
        )
    before = rng.get_state()
    try:
        rng.set_state(state)
    except Exception as err:  # the stream's own check of the saved state
        rng.set_state(before)
        raise NetFileError(path, f"its random-stream state does not fit the rng ({err})") from None
    return saved, epochs_done


def _continue(net: dict, saved: dict, epochs_done: int, rL: np.ndarray) -> int:
    """``net`` becomes the checked checkpoint's net ``saved``, its losses the start of the
    run's ``rL``; returns the epoch to go on with."""
    for layer, saved_layer in zip(net["layers"], saved.pop("layers")):
        layer.update(saved_layer)
    net.update(saved)
    rL[: len(net["rL"])] = net["rL"]
    net["rL"] = rL[: len(net["rL"])]
    return epochs_done


def _check_resumed(net: dict, x: np.ndarray, saved: dict, losses: int, path) -> None:
    """The checkpoint's net fits the net and data of this run, with ``losses`` entries of rL;
    else a NetFileError naming the file."""
    rL = saved.get("rL")
    if not (isinstance(rL, np.ndarray) and rL.shape == (losses,)):
        got = rL.shape if isinstance(rL, np.ndarray) else type(rL).__name__
        raise NetFileError(path, f"its rL is {got}, expected {losses} losses for its epochs")
    if len(saved["layers"]) != len(net["layers"]):
        raise NetFileError(path, f"holds {len(saved['layers'])} layers, this net has another count")
    layers = [dict(layer, **mine) for layer, mine in zip(net["layers"], saved["layers"])]
    candidate = {**net, **saved, "layers": layers}
    try:
        checks.require_setup(candidate)
        sizes = map_sizes(candidate["layers"], x.shape[:2], channels(candidate))
        netcheck.check_params(candidate, sizes, "x")
    except DltoolboxError as err:
        raise NetFileError(path, f"holds a net that does not fit this run: {err}") from None


def _settings(opts: dict, m: int) -> dict:
    """``opts`` checked against :data:`OPTIONS` (an unknown key is an error), with the
    defaults of the optional ones that cnntrain reads."""
    if not isinstance(opts, dict):
        raise InputTypeError(f"opts: expected a dict, got {type(opts).__name__}")
    for key in REQUIRED:
        if key not in opts:
            raise InputError(
                f"opts: missing key {key!r} (cnntrain needs alpha, batchsize, numepochs)"
            )
    settings = validate(opts, OPTIONS, lambda key: f'opts["{key}"]')
    batchsize, last_batch = settings["batchsize"], settings.get("last_batch")
    if last_batch is None and m % batchsize:
        raise InputError(
            f'opts["batchsize"]: expected a divisor of the sample count {m} '
            f'(numbatches not integer), got {batchsize}; or set opts["last_batch"] to '
            '"drop" or "keep"'
        )
    if last_batch == "drop" and batchsize > m:
        raise InputError(
            f'opts["batchsize"]: {batchsize} is more than the {m} samples, so opts["last_batch"] '
            '"drop" leaves no batch: expected at most the sample count'
        )
    if settings.get("resume") and settings.get("checkpoint") is None:
        raise InputError('opts["resume"]: True needs opts["checkpoint"], the file to resume from')
    numbatches = -(-m // batchsize) if last_batch == "keep" else m // batchsize
    defaults = {"checkpoint": None, "resume": False, "progress": None, "last_batch": None}
    return {**defaults, **settings, "numbatches": numbatches}


def _run_settings(net: dict, x: np.ndarray, settings: dict, rng) -> dict:
    """What a checkpoint records of the run, and a resumed run must share (JSON-able)."""
    run = {
        "alpha": settings["alpha"],
        "batchsize": settings["batchsize"],
        "samples": x.shape[-1],
        "layers": spec_of(net),
        "mapsize": list(x.shape[:2]),
        **{key: settings[key] for key in checks.OPTIMIZER if key in settings},
    }
    if settings["last_batch"] is not None:
        run["last_batch"] = settings["last_batch"]
    if isinstance(rng, MatlabRandom):  # resuming with another generator would go astray
        run["rng"] = rng.name
    return run


def cnntrain(net: dict, x: np.ndarray, y: np.ndarray, opts: dict, rng=None) -> dict:
    """Train for ``opts["numepochs"]`` epochs of ``m / opts["batchsize"]`` batches.

    Parameters
    ----------
    net : dict
        A net from :func:`cnnsetup`. Modified in place and returned.
    x : ndarray, shape (rows, cols, m), or (rows, cols, channels, m) for a net with several
        input channels (see :func:`cnnsetup`)
    y : ndarray, shape (classes, m)
    opts : dict
        ``alpha`` (learning rate), ``batchsize`` (must divide m unless ``last_batch`` is
        set), ``numepochs``; optional:

        - ``last_batch``: None (the default: as the toolbox, batchsize must divide m),
          ``"drop"`` (floor(m / batchsize) batches per epoch; the last ``m % batchsize``
          samples of each epoch's permutation are not used in it) or ``"keep"`` (one more,
          smaller batch of those samples, whose gradient is its own mean, as every batch's).

        - ``progress``: None or False (silent, the default); True, a tqdm bar per epoch over its
          batches showing the smoothed loss ``rL[-1]`` and the rate; or a callable
          ``progress(epoch, batch, numbatches, net)`` called after every batch (0-based epoch
          and batch; ``net["rL"]`` is up to date).
        - ``checkpoint``: a file path; after each epoch the whole net (``rL`` included), the
          number of finished epochs and the random-stream state are written to it atomically
          (dltoolbox ``.npz`` content).
        - ``resume``: with True and an existing ``checkpoint`` file, start from it: the net and
          ``rng`` are restored and training goes on after its last finished epoch, ending with
          exactly the net an uninterrupted run gives. The checkpoint must come from the same
          alpha, batch size, sample count and layers (the data themselves are not checked).
        - ``engine``: ``"fast"`` (the default) or ``"reference"``; stored as ``net["engine"]``,
          it picks the kernels of :mod:`dltoolbox.engines` for this and later calls.
        - ``momentum`` and ``weight_decay``: passed to :func:`cnnapplygrads` (velocities are
          kept in the net, and so in checkpoints).
        - ``lr_decay`` (in (0, 1]): epoch e (0-based) steps with ``alpha * lr_decay**e``.

        Absent, these three give the toolbox's plain SGD exactly.
    rng : None, int or object with ``randperm(n)``
        Each epoch draws ``kk = rng.randperm(m)`` (m integer sample indices, 0-based: not
        MATLAB's 1-based ones); batch b is ``kk[b*bs:(b+1)*bs]``. With a
        checkpoint it also needs ``get_state``/``set_state`` (as :class:`OctaveRandom` and
        :class:`MatlabRandom`).

    Returns
    -------
    net : dict
        Trained, with ``rL`` (1 + numepochs * numbatches,): ``rL[0]`` is the first batch's
        loss, then each batch (the smaller last one of ``"keep"`` too) appends
        ``0.99 * rL[-1] + 0.01 * L``.

    Raises
    ------
    NonFiniteLossError
        A batch's loss ``L`` is NaN or Inf; the net is left as it was before that batch.
    """
    x = prepare(net, x)  # cnnff's checks, once for all batches
    y = checks.labels(y, x.shape[-1], output_classes(net))
    settings = _settings(opts, x.shape[-1])
    rng = as_rng(rng)
    run, resumed = None, None
    if settings["checkpoint"] is not None:
        rng_state(rng)  # fail now, not after the first epoch
        check_writable(settings["checkpoint"], 'opts["checkpoint"]')
        run = _run_settings(net, x, settings, rng)
        if settings["resume"] and Path(settings["checkpoint"]).is_file():
            resumed = _resume(net, x, settings["checkpoint"], run, settings, rng)
    progress = _progress_option(settings["progress"], settings["numepochs"])
    kept = {key: net[key] for key in ("engine", "rL") if key in net}
    if "engine" in settings:  # the kernels cnnff/cnnbp use from now on (dltoolbox.engines)
        net["engine"] = settings["engine"]
    rL = np.empty(1 + settings["numepochs"] * settings["numbatches"])
    net["rL"], first_epoch = rL[:0], 0
    if resumed is not None:
        first_epoch = _continue(net, *resumed, rL)
    try:
        _epochs(net, x, y, settings, rng, rL, first_epoch, progress, run)
    except InputError:  # rng.randperm's indices, before the first step: the net as it was
        if resumed is None and not len(net["rL"]):
            for key in ("engine", "rL"):  # in their places among the keys
                if key in kept:
                    net[key] = kept[key]
                else:
                    net.pop(key, None)
        raise
    finally:
        list_kernels(net)  # the loop's kernel arrays as k[i][j], errors and interrupts too
        if isinstance(progress, _ProgressBar):
            progress.close()
    return net


def _permutation(rng, m: int) -> np.ndarray:
    """``rng.randperm(m)`` as an index array: m integer indices in [0, m), else an error."""
    kk = np.asarray(rng.randperm(m))
    if kk.shape != (m,) or kk.dtype.kind not in "iu" or not (0 <= kk.min() and kk.max() < m):
        got = f"shape {kk.shape} and dtype {kk.dtype}"
        if kk.dtype.kind in "iuf" and kk.size:
            got += f", values {kk.min()} to {kk.max()}"
        raise InputError(
            f"rng.randperm({m}): expected {m} integer sample indices in [0, {m}) (0-based), "
            f"got {got}"
        )
    return kk


def _epochs(net, x, y, settings: dict, rng, rL, first_epoch: int, progress, run) -> None:
    """cnntrain's loop over epochs and batches, from ``first_epoch`` on: ``rL`` is the whole
    run's loss record (its first ``len(net["rL"])`` entries filled)."""
    m, n = x.shape[-1], len(net["rL"])  # n: entries of rL filled so far
    alpha, batchsize, numepochs = settings["alpha"], settings["batchsize"], settings["numepochs"]
    numbatches, decay = settings["numbatches"], settings.get("lr_decay")
    momentum, weight_decay = settings.get("momentum", 0.0), settings.get("weight_decay", 0.0)
    engine = create(net)  # that of a resumed net too; its buffers serve the whole loop
    for epoch in range(first_epoch, numepochs):
        kk = _permutation(rng, m)
        step_alpha = alpha * decay**epoch if decay is not None else alpha
        for b in range(numbatches):
            idx = kk[b * batchsize : (b + 1) * batchsize]  # the last of "keep" may be smaller
            before = _snapshot(net)
            forward(net, compiled.samples(x, idx), engine, rng)  # cnnff, cnnbp, cnnapplygrads
            backward(net, y[:, idx], engine)
            if not math.isfinite(net["L"]):
                loss = net["L"]
                _restore(net, before)
                raise NonFiniteLossError(loss, epoch, numepochs, b, numbatches, alpha)
            update(net, step_alpha, momentum, weight_decay)
            if n == 0:
                rL[0] = net["L"]
                n = 1
            rL[n] = 0.99 * rL[n - 1] + 0.01 * net["L"]
            n += 1
            net["rL"] = rL[:n]
            if progress is not None:
                progress(epoch, b, numbatches, net)
        if run is not None:
            save_checkpoint(settings["checkpoint"], list_kernels(net), epoch + 1, rng, run)
