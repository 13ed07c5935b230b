"""cnnsetup: shapes of every layer and the initial weights (port of ``CNN/cnnsetup.m``)."""

from __future__ import annotations

import math

import numpy as np

from . import checks
from .octave_random import OctaveRandom


def as_rng(rng):
    """None: a fresh OS-seeded OctaveRandom; int: OctaveRandom(rng); else an object with
    ``rand(*dims)`` and ``randperm(n)`` used as it is."""
    if rng is None:
        return OctaveRandom(np.random.SeedSequence().generate_state(4).tolist())
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return OctaveRandom(int(rng))
    if callable(getattr(rng, "rand", None)) and callable(getattr(rng, "randperm", None)):
        return rng
    raise TypeError(
        "rng: expected None, an int seed, or an object with rand(*dims) and randperm(n), "
        f"got {type(rng).__name__}"
    )


def map_sizes(
    layers: list, mapsize: tuple[int, int], channels: int = 1
) -> list[tuple[int, int, int]]:
    """(maps, rows, cols) of every layer for ``channels`` input maps of ``mapsize``; checks
    they fit."""
    rows, cols = mapsize
    maps = channels
    sizes = [(maps, rows, cols)]
    for l, layer in enumerate(layers[1:], start=1):
        if layer["type"] == "s":
            scale = layer["scale"]
            if rows % scale or cols % scale:
                raise ValueError(
                    f"Layer {l} size must be integer. Actual: {rows / scale:g} x {cols / scale:g} "
                    f'(a {rows} x {cols} map subsampled by scale {scale}; net["layers"][{l}])'
                )
            rows, cols = rows // scale, cols // scale
        else:
            ks = layer["kernelsize"]
            if ks > rows or ks > cols:
                raise ValueError(
                    f'net["layers"][{l}]["kernelsize"]: expected at most the input map size '
                    f"{rows} x {cols}, got {ks}"
                )
            rows, cols = rows - ks + 1, cols - ks + 1
            maps = layer["outputmaps"]
        sizes.append((maps, rows, cols))
    return sizes


def cnnsetup(net: dict, x: np.ndarray, y: np.ndarray, rng=None) -> dict:
    """Draw the initial kernels and output weights, as the toolbox does.

    Parameters
    ----------
    net : dict
        ``{"layers": [{"type": "i"}, {"type": "c", "outputmaps": 6, "kernelsize": 5},
        {"type": "s", "scale": 2}, ...]}``. Modified in place and returned.
    x : ndarray, shape (rows, cols, batch) or (rows, cols), or (rows, cols, channels, batch)
        Only its map size and channel count are used. A 4-D x sets up a net with
        ``channels`` input maps, recorded as ``net["layers"][0]["channels"]`` (when more than
        one); a net whose input layer already says ``"channels"`` reads a 3-D x as one sample
        (rows, cols, channels). An RGB array ``img`` of shape (batch, height, width, 3) is
        passed as ``img.transpose(1, 2, 3, 0)``.
    y : ndarray, shape (classes, batch)
        Only its row count (the number of outputs) is used.
    rng : None, int or object with ``rand(*dims)`` and ``randperm(n)``
        The random stream (see :func:`as_rng`); pass one ``OctaveRandom`` to ``cnnsetup`` and
        then ``cnntrain`` to consume it exactly as Octave does.

    Returns
    -------
    net : dict
        The same dict with, per conv layer, ``k[i][j]`` (ks, ks) and ``b[j] = 0.0``; per
        subsampling layer ``b[j] = 0.0`` (unused, as in the toolbox); ``ffW`` (classes,
        features) and ``ffb`` (classes, 1). All float64, or float32 (``b[j]`` then
        ``np.float32``) when ``x`` is float32: the net then computes in float32.

    Draw order (it fixes the random-stream parity): per conv layer, output map j outer, input
    map i inner, ``k = (rand(ks) - 0.5) * 2 * sqrt(6 / (fan_in + fan_out))``; then ``ffW``.
    The first conv layer's fan-in counts the input channels: ``channels * ks^2``.
    """
    layers = checks.layers(net)
    nchannels = checks.channels(net)
    if "channels" not in layers[0] and np.ndim(x) == 4:
        nchannels = np.shape(x)[2]
    x = checks.net_input(x, nchannels)
    y = checks.labels(y, x.shape[-1])
    rng = as_rng(rng)
    sizes = map_sizes(layers, x.shape[:2], nchannels)
    if nchannels > 1:
        layers[0]["channels"] = nchannels
    inputmaps = nchannels
    for layer in layers[1:]:
        if layer["type"] == "s":
            layer["b"] = [0.0] * inputmaps
            continue
        maps, ks = int(layer["outputmaps"]), int(layer["kernelsize"])
        fan_in, fan_out = inputmaps * ks**2, maps * ks**2
        bound = math.sqrt(6 / (fan_in + fan_out))
        k = [[None] * maps for _ in range(inputmaps)]
        for j in range(maps):
            for i in range(inputmaps):
                k[i][j] = (rng.rand(ks) - 0.5) * 2 * bound
        layer["k"] = k
        layer["b"] = [0.0] * maps
        inputmaps = maps
    maps, rows, cols = sizes[-1]
    fvnum, onum = maps * rows * cols, y.shape[0]
    net["ffb"] = np.zeros((onum, 1))
    net["ffW"] = (rng.rand(onum, fvnum) - 0.5) * 2 * math.sqrt(6 / (onum + fvnum))
    if x.dtype == np.float32:  # drawn in float64 as above, so a seed gives the same start
        _cast(net, x.dtype)
    return net


def _cast(net: dict, dtype: np.dtype) -> None:
    """Store the kernels, conv biases, ffW and ffb of ``net`` as ``dtype``."""
    for layer in net["layers"][1:]:
        if layer["type"] == "c":
            layer["k"] = [[k.astype(dtype) for k in row] for row in layer["k"]]
            layer["b"] = [dtype.type(b) for b in layer["b"]]
    net["ffW"] = net["ffW"].astype(dtype)
    net["ffb"] = net["ffb"].astype(dtype)
