"""Argument checks shared by the cnn* functions: each error names the argument, what was
expected and what was given."""

from __future__ import annotations

import math

import numpy as np

from . import net as layout
from .constraints import POSITIVE_INT, POSITIVE_REAL, Interval, check, validate
from .constraints import describe as _describe
from .engines import engine_name
from .errors import InputError, InputTypeError, NetFieldError
from .layers import INPUT, KINDS, OUTPUT, hidden_kinds, kind_of

#: The training options beyond the toolbox's (cnnapplygrads, cnntrain).
OPTIMIZER = {
    "momentum": Interval(0, 1, "left"),
    "weight_decay": Interval(0, math.inf, "left"),
    "lr_decay": Interval(0, 1, "right"),
}
#: The keys of cnntrain's opts that a single step (cnnapplygrads) does not read.
TRAINING_ONLY = ("batchsize", "numepochs", "progress", "checkpoint", "resume", "engine")
TRAINING_ONLY += ("last_batch",)


def numeric_array(
    value, name: str, ndims: tuple[int, ...] | None, dtype=np.float64, finite: bool = True
) -> np.ndarray:
    """``value`` as a ``dtype`` (float64 unless told; None: its own) array with ndim in
    ``ndims`` (None: any), all finite unless ``finite`` is False."""
    arr = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if (
        arr.dtype == object
        or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool)
        or np.iscomplexobj(arr)
    ):
        raise InputTypeError(f"{name}: expected a real numeric array, got {_describe(value)}")
    if ndims is not None and arr.ndim not in ndims:
        want = " or ".join(f"{n}-D" for n in ndims)
        raise InputError(f"{name}: expected a {want} array, got shape {arr.shape}")
    arr = np.asarray(arr, dtype=dtype)
    if finite and not np.all(np.isfinite(arr)):
        raise InputError(f"{name}: expected finite values, found NaN or Inf")
    return arr


def maps_input(x) -> np.ndarray:
    """x as (rows, cols, batch), float32 if x is float32, else float64; a 2-D x is one sample."""
    x = numeric_array(x, "x", (2, 3), layout.dtype_of(x))
    return _some_samples(x[:, :, None] if x.ndim == 2 else x)


def _some_samples(x: np.ndarray) -> np.ndarray:
    if x.shape[-1] == 0:
        raise InputError(f"x: expected at least one sample, got shape {x.shape} (an empty batch)")
    return x


def net_input(x, nchannels: int) -> np.ndarray:
    """x for a net with ``nchannels`` input channels: (rows, cols, batch) for one channel (a
    2-D x is one sample; a 4-D x with one channel is accepted), else (rows, cols, channels,
    batch) (a 3-D x is one sample (rows, cols, channels)). float32 stays float32."""
    if nchannels == 1:
        if np.ndim(x) == 4 and np.shape(x)[2] == 1:
            x = np.asarray(x)[:, :, 0, :]
        elif np.ndim(x) == 4:
            raise InputError(
                f"x: expected (rows, cols, batch) for a one-channel net, got shape {np.shape(x)} "
                f'(set net["layers"][0]["channels"] or give cnnsetup a 4-D x for more channels)'
            )
        return maps_input(x)
    x = numeric_array(x, "x", (3, 4), layout.dtype_of(x))
    if x.shape[2] != nchannels:
        raise InputError(
            f"x: expected (rows, cols, {nchannels}, batch) or one sample (rows, cols, "
            f"{nchannels}) for a net with {nchannels} input channels, got shape {x.shape}"
        )
    return _some_samples(x[..., None] if x.ndim == 3 else x)


def labels(y, batch: int, classes: int | None = None, dtype=np.float64) -> np.ndarray:
    """y as (classes, batch) of ``dtype``, with its column count equal to the batch size."""
    y = numeric_array(y, "y", (2,), dtype)
    if y.shape[0] == 0:
        raise InputError(f"y: expected at least one row (one per class), got shape {y.shape}")
    if y.shape[1] != batch:
        raise InputError(f"y: expected {batch} columns (one per sample of x), got shape {y.shape}")
    if classes is not None and y.shape[0] != classes:
        raise InputError(
            f"y: expected {classes} rows (the net's output count, rows of ffW), got shape {y.shape}"
        )
    return y


def positive_int(value, name: str) -> int:
    """``value`` as an int if it is a positive integral number; else an error naming ``name``."""
    return check(value, POSITIVE_INT, name)


def positive_float(value, name: str) -> float:
    """``value`` as a float if it is a positive finite number; else an error naming ``name``."""
    return check(value, POSITIVE_REAL, name)


def layers(net) -> list:
    """Check ``net["layers"]``: each layer's type and keys (by its kind, see
    :mod:`dltoolbox.layers`), the order the toolbox's cnnbp can handle, and ``net["output"]``."""
    if not isinstance(net, dict):
        raise InputTypeError(f"net: expected a dict, got {_describe(net)}")
    if "layers" not in net:
        raise InputError('net: expected a "layers" key (a list of layer dicts), found none')
    lays = net["layers"]
    if not isinstance(lays, (list, tuple)) or not lays:
        raise InputTypeError(
            f'net["layers"]: expected a non-empty list of dicts, got {_describe(lays)}'
        )
    names = [repr(kind.type) for kind in hidden_kinds()]
    hidden = ", ".join(names[:-1]) + f" or {names[-1]}"
    for l, layer in enumerate(lays):
        where = f'net["layers"][{l}]'
        if not isinstance(layer, dict):
            raise InputTypeError(f"{where}: expected a dict, got {_describe(layer)}")
        if "type" not in layer:
            raise InputError(f'{where}: missing key "type"')
        kind = layer["type"]
        if l == 0 and kind != INPUT.type:
            raise InputError(f"{where}: the first layer must have type 'i', got {kind!r}")
        if l > 0 and (not isinstance(kind, str) or kind not in KINDS or kind == INPUT.type):
            raise InputError(f"{where}: expected type {hidden}, got {kind!r}")
        kind_of(layer).check(layer, where)
        if l > 0 and kind_of(lays[l - 1]).flat and not kind_of(layer).flat:
            raise InputError(
                f"{where}: a {kind_of(layer).name} layer ({kind!r}) after a "
                f"{kind_of(lays[l - 1]).name} layer ({lays[l - 1]['type']!r}): expected the "
                "'f' layers after every layer of maps, just before the output"
            )
    for key, (constraint, _) in OUTPUT.optional.items():
        if key in net:
            check(net[key], constraint, f'net["{key}"]')
    if "engine" in net:
        engine_name(net["engine"])
    return lays


def optimizer(opts: dict) -> dict:
    """The options of one step (cnnapplygrads), checked: ``{"alpha": float > 0, "momentum":
    float in [0, 1), "weight_decay": float >= 0, "lr_decay": float in (0, 1]}``, those ``opts``
    has. The keys only cnntrain reads (:data:`TRAINING_ONLY`) are let through, as the toolbox
    hands cnntrain's opts to cnnapplygrads; any other key (a typo) is an error."""
    table = {"alpha": POSITIVE_REAL, **OPTIMIZER}
    name = lambda key: f'opts["{key}"]'  # noqa: E731
    return validate(opts, table, name, required=("alpha",), ignore=TRAINING_ONLY)


def require_setup(net) -> None:
    """The net has been through cnnsetup."""
    layers(net)
    if not OUTPUT.is_set_up(net):
        raise InputError("net: not set up (no ffW/ffb); call cnnsetup(net, x, y) first")


def last_pass_sizes(net: dict, call: str) -> tuple[list, int]:
    """(map sizes, batch) of the last cnnff of a set-up net, from its input maps
    ``net["layers"][0]["a"]``, which ``call`` (cnnbp, cnnapplygrads) needs."""
    maps = net["layers"][0].get("a")
    if maps is None:
        raise InputError(f'net: {call} needs net["layers"][0]["a"] from cnnff; call cnnff first')
    first = maps[0] if isinstance(maps, (list, tuple)) and maps else None
    if not (isinstance(first, np.ndarray) and first.ndim == 3):
        raise NetFieldError(
            'net["layers"][0]["a"]',
            f"expected a list of (rows, cols, batch) maps, got {_describe(maps)}",
        )
    rows, cols, batch = first.shape
    return layout.map_sizes(net["layers"], (rows, cols), layout.channels(net)), batch


def require_keys(net, keys: tuple[str, ...], call: str, before: str) -> None:
    """The net holds ``keys``, which ``before`` sets; else an error saying to call it first."""
    missing = [k for k in keys if k not in net]
    if missing:
        raise InputError(f"net: {call} needs {missing} from {before}; call {before} first")
