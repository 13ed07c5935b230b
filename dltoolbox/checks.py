"""Argument checks shared by the cnn* functions: each error names the argument, what was
expected and what was given."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from .activations import ACTIVATIONS, OUTPUTS

LAYER_KEYS = {"c": ("outputmaps", "kernelsize"), "s": ("scale",)}
#: Optional string keys of a layer type: the allowed values, the first being the default.
LAYER_CHOICES = {"c": {"activation": ACTIVATIONS}, "s": {"method": ("mean", "max")}}


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"


def numeric_array(value, name: str, ndims: tuple[int, ...], dtype=np.float64) -> np.ndarray:
    """``value`` as a ``dtype`` (float64 unless told) array with ndim in ``ndims``, all finite."""
    arr = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if (
        arr.dtype == object
        or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool)
        or np.iscomplexobj(arr)
    ):
        raise TypeError(f"{name}: expected a real numeric array, got {_describe(value)}")
    if arr.ndim not in ndims:
        want = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(f"{name}: expected a {want} array, got shape {arr.shape}")
    arr = np.asarray(arr, dtype=dtype)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite values, found NaN or Inf")
    return arr


def maps_input(x) -> np.ndarray:
    """x as (rows, cols, batch), float32 if x is float32, else float64; a 2-D x is one sample."""
    dtype = np.float32 if getattr(x, "dtype", None) == np.float32 else np.float64
    x = numeric_array(x, "x", (2, 3), dtype)
    return x[:, :, None] if x.ndim == 2 else x


def channels(net: dict) -> int:
    """The net's input channel count: ``net["layers"][0]["channels"]``, 1 when absent."""
    return net["layers"][0].get("channels", 1)


def net_input(x, nchannels: int) -> np.ndarray:
    """x for a net with ``nchannels`` input channels: (rows, cols, batch) for one channel (a
    2-D x is one sample; a 4-D x with one channel is accepted), else (rows, cols, channels,
    batch) (a 3-D x is one sample (rows, cols, channels)). float32 stays float32."""
    if nchannels == 1:
        if np.ndim(x) == 4 and np.shape(x)[2] == 1:
            x = np.asarray(x)[:, :, 0, :]
        elif np.ndim(x) == 4:
            raise ValueError(
                f"x: expected (rows, cols, batch) for a one-channel net, got shape {np.shape(x)} "
                f'(set net["layers"][0]["channels"] or give cnnsetup a 4-D x for more channels)'
            )
        return maps_input(x)
    dtype = np.float32 if getattr(x, "dtype", None) == np.float32 else np.float64
    x = numeric_array(x, "x", (3, 4), dtype)
    if x.shape[2] != nchannels:
        raise ValueError(
            f"x: expected (rows, cols, {nchannels}, batch) or one sample (rows, cols, "
            f"{nchannels}) for a net with {nchannels} input channels, got shape {x.shape}"
        )
    return x[..., None] if x.ndim == 3 else x


def labels(y, batch: int, classes: int | None = None, dtype=np.float64) -> np.ndarray:
    """y as (classes, batch) of ``dtype``, with its column count equal to the batch size."""
    y = numeric_array(y, "y", (2,), dtype)
    if y.shape[1] != batch:
        raise ValueError(f"y: expected {batch} columns (one per sample of x), got shape {y.shape}")
    if classes is not None and y.shape[0] != classes:
        raise ValueError(
            f"y: expected {classes} rows (the net's output count, rows of ffW), got shape {y.shape}"
        )
    return y


def positive_int(value, name: str) -> int:
    """``value`` as an int if it is a positive integral number; else an error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (Real, np.number)):
        raise TypeError(f"{name}: expected a positive integer, got {_describe(value)}")
    if not math.isfinite(value) or value != int(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def positive_float(value, name: str) -> float:
    """``value`` as a float if it is a positive finite number; else an error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (Real, np.number)):
        raise TypeError(f"{name}: expected a positive finite number, got {_describe(value)}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
    return float(value)


def layers(net) -> list:
    """Check ``net["layers"]``: types, keys and the order the toolbox's cnnbp can handle."""
    if not isinstance(net, dict):
        raise TypeError(f"net: expected a dict, got {_describe(net)}")
    if "layers" not in net:
        raise ValueError('net: expected a "layers" key (a list of layer dicts), found none')
    lays = net["layers"]
    if not isinstance(lays, (list, tuple)) or not lays:
        raise TypeError(f'net["layers"]: expected a non-empty list of dicts, got {_describe(lays)}')
    for l, layer in enumerate(lays):
        where = f'net["layers"][{l}]'
        if not isinstance(layer, dict):
            raise TypeError(f"{where}: expected a dict, got {_describe(layer)}")
        if "type" not in layer:
            raise ValueError(f'{where}: missing key "type"')
        kind = layer["type"]
        if l == 0:
            if kind != "i":
                raise ValueError(f"{where}: the first layer must have type 'i', got {kind!r}")
            if "channels" in layer:
                positive_int(layer["channels"], f'{where}["channels"]')
            continue
        if kind not in LAYER_KEYS:
            raise ValueError(f"{where}: expected type 'c' or 's', got {kind!r}")
        for key in LAYER_KEYS[kind]:
            if key not in layer:
                raise ValueError(f"{where}: a {kind!r} layer needs key {key!r}, missing")
            positive_int(layer[key], f'{where}["{key}"]')
        for key, allowed in LAYER_CHOICES[kind].items():
            if key in layer and layer[key] not in allowed:
                raise ValueError(
                    f'{where}["{key}"]: expected one of {list(allowed)} for a {kind!r} layer, '
                    f"got {layer[key]!r}"
                )
        before = lays[l - 1]["type"]
        if kind == before:
            what = "convolution" if kind == "c" else "subsampling"
            raise ValueError(
                f"{where}: a {what} layer ({kind!r}) right after another one is not supported: "
                "the toolbox's cnnbp needs 'c' and 's' layers to alternate"
            )
    if net.get("output", OUTPUTS[0]) not in OUTPUTS:
        raise ValueError(f'net["output"]: expected one of {list(OUTPUTS)}, got {net["output"]!r}')
    return lays


def optimizer(opts: dict) -> dict:
    """The training options beyond the toolbox's, checked: ``{"momentum": float in [0, 1),
    "weight_decay": float >= 0, "lr_decay": float in (0, 1]}``, only those ``opts`` has."""
    out = {}
    for key, low, high, high_ok in (
        ("momentum", 0.0, 1.0, False),
        ("weight_decay", 0.0, math.inf, False),
        ("lr_decay", 0.0, 1.0, True),
    ):
        if key not in opts:
            continue
        value = opts[key]
        if isinstance(value, bool) or not isinstance(value, (Real, np.number)):
            raise TypeError(f'opts["{key}"]: expected a number, got {_describe(value)}')
        low_ok = key != "lr_decay"
        ok = (value >= low if low_ok else value > low) and (
            value <= high if high_ok else value < high
        )
        if not ok:
            interval = f"{'[' if low_ok else '('}{low:g}, {high:g}{']' if high_ok else ')'}"
            raise ValueError(f'opts["{key}"]: expected a number in {interval}, got {value!r}')
        out[key] = float(value)
    return out


def require_setup(net) -> None:
    """The net has been through cnnsetup."""
    layers(net)
    if "ffW" not in net or "ffb" not in net:
        raise ValueError("net: not set up (no ffW/ffb); call cnnsetup(net, x, y) first")


def require_keys(net, keys: tuple[str, ...], call: str, before: str) -> None:
    """The net holds ``keys``, which ``before`` sets; else an error saying to call it first."""
    missing = [k for k in keys if k not in net]
    if missing:
        raise ValueError(f"net: {call} needs {missing} from {before}; call {before} first")
