"""cnnsetup: shapes of every layer and the initial weights (port of ``CNN/cnnsetup.m``)."""

from __future__ import annotations

import numpy as np

from . import checks
from .errors import InputTypeError
from .layers import INPUT, OUTPUT, kind_of
from .net import cast, map_sizes, params_of
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
    raise InputTypeError(
        "rng: expected None, an int seed, or an object with rand(*dims) and randperm(n), "
        f"got {type(rng).__name__}"
    )


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
    nchannels = INPUT.channels_for(layers[0], x)
    x = checks.net_input(x, nchannels)
    y = checks.labels(y, x.shape[-1])
    rng = as_rng(rng)
    sizes = map_sizes(layers, x.shape[:2], nchannels)
    INPUT.record_channels(layers[0], nchannels)
    for l in range(1, len(layers)):  # each kind draws its weights, in layer order
        kind_of(layers[l]).setup(layers[l], sizes[l - 1], rng)
    maps, rows, cols = sizes[-1]
    OUTPUT.setup(net, maps * rows * cols, y.shape[0], rng)
    if x.dtype == np.float32:  # drawn in float64 as above, so a seed gives the same start
        _cast(net, x.dtype)
    return net


def _cast(net: dict, dtype: np.dtype) -> None:
    """Store every trained field of ``net`` (kernels, conv biases, ffW, ffb) as ``dtype``."""
    for owner, kind in [(layer, layer["type"]) for layer in net["layers"]] + [(net, None)]:
        for field in params_of(kind):
            owner[field.name] = cast(field, owner[field.name], dtype)
