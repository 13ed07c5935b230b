"""A naive forward pass of a dltoolbox net, written from the layers' definitions alone.

Nothing here comes from dltoolbox (not even an import): plain loops over output maps, output
positions and kernel offsets, computed in float64 whatever the net's dtype, so that
``tests/test_layer_reference.py`` can check both engines against a third, independent text.
Only the innermost axis, the batch, is a numpy vector: every sample is computed alike.

The definitions (0-based, maps (rows, cols, batch) as in the toolbox):

- input: its maps are x (rows, cols, batch), or the channels x[:, :, c, :] of a 4-D x.
- conv ('c'): every input map zero-padded by p on each side (p = (ks - 1) // 2 for "same"),
  P_i; then ``z_j[r, c] = b_j + sum over connected i, u, v of
  P_i[s r + ks - 1 - u, s c + ks - 1 - v] * k_ij[u, v]``: MATLAB's convn 'valid' (a true
  convolution, the kernel turned by 180 degrees) read every s-th position; floor((n + 2p - ks)
  / s) + 1 rows (with "drop", rows past the last whole step are never read). ``a_j = f(z_j)``.
- pool ('s'): ``a_j[r, c]`` = the mean (or the maximum) of ``a_prev_j[s r + p, s c + q]`` over
  p, q < s.
- 'f': x the features below (maps flattened as ``fv``, or the vector of an 'f' layer);
  ``a[o] = f(b[o] + sum_m W[o, m] x[m])``, times 1 - q with dropout q (a pass outside training).
- ``fv``: feature ``j R C + c R + r`` is ``a_j[r, c]`` (each map column-major, map after map).
- output: ``o = sigm(ffW fv + ffb)``, or its softmax per sample (column).
"""

from __future__ import annotations

import math

import numpy as np


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def activation(z: np.ndarray, name: str) -> np.ndarray:
    """``f(z)`` element by element, for a (batch,) vector z."""
    f = {"sigm": sigmoid, "tanh": math.tanh, "relu": lambda v: v if v > 0 else 0.0}[name]
    return np.array([f(float(v)) for v in z])


def padded(m: np.ndarray, p: int) -> np.ndarray:
    """(rows + 2p, cols + 2p, batch): ``m`` inside a border of p zeros."""
    rows, cols, batch = m.shape
    out = np.zeros((rows + 2 * p, cols + 2 * p, batch))
    for r in range(rows):
        for c in range(cols):
            out[r + p, c + p] = m[r, c]
    return out


def conv(layer: dict, maps: list) -> list:
    """A 'c' layer's maps (rows_out, cols_out, batch) from the maps below, by the definition."""
    ks, s = layer["kernelsize"], layer.get("stride", 1)
    p = layer.get("padding", 0)
    p = (ks - 1) // 2 if p == "same" else p
    table = layer.get("connections")
    pad = [padded(m, p) for m in maps]
    rows = (pad[0].shape[0] - ks) // s + 1
    cols = (pad[0].shape[1] - ks) // s + 1
    out = []
    for j in range(layer["outputmaps"]):
        a = np.zeros((rows, cols, maps[0].shape[2]))
        for r in range(rows):
            for c in range(cols):
                z = np.full(maps[0].shape[2], float(layer["b"][j]))
                for i in range(len(maps)):
                    if table is not None and not table[i][j]:
                        continue
                    k = layer["k"][i][j]
                    for u in range(ks):
                        for v in range(ks):
                            z = z + pad[i][s * r + ks - 1 - u, s * c + ks - 1 - v] * float(k[u, v])
                a[r, c] = activation(z, layer.get("activation", "sigm"))
        out.append(a)
    return out


def pool(layer: dict, maps: list) -> list:
    """An 's' layer's maps: the mean or maximum of every scale x scale block."""
    s, method = layer["scale"], layer.get("method", "mean")
    out = []
    for m in maps:
        a = np.zeros((m.shape[0] // s, m.shape[1] // s, m.shape[2]))
        for r in range(a.shape[0]):
            for c in range(a.shape[1]):
                block = [m[s * r + p, s * c + q] for p in range(s) for q in range(s)]
                if method == "max":
                    best = block[0]
                    for value in block[1:]:
                        best = np.maximum(best, value)
                    a[r, c] = best
                else:
                    a[r, c] = sum(block) / (s * s)
        out.append(a)
    return out


def features(a) -> np.ndarray:
    """(features, batch): an 'f' layer's vector as it is, maps flattened as ``fv``."""
    if not isinstance(a, list):
        return np.array(a, dtype=float)
    rows, cols, batch = a[0].shape
    fv = np.zeros((len(a) * rows * cols, batch))
    for j, m in enumerate(a):
        for c in range(cols):
            for r in range(rows):
                fv[j * rows * cols + c * rows + r] = m[r, c]
    return fv


def affine(W: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(outputs, batch): ``b[o] + sum_m W[o, m] x[m]``, one output row at a time."""
    z = np.zeros((W.shape[0], x.shape[1]))
    for o in range(W.shape[0]):
        z[o] = float(b[o, 0])
        for m in range(W.shape[1]):
            z[o] = z[o] + float(W[o, m]) * x[m]
    return z


def full(layer: dict, a) -> np.ndarray:
    """An 'f' layer's output (outputs, batch) at test time: dropout q scales it by 1 - q."""
    z = affine(layer["W"], layer["b"], features(a))
    h = np.array([activation(row, layer.get("activation", "sigm")) for row in z])
    return h * (1.0 - layer.get("dropout", 0.0))


def output(net: dict, fv: np.ndarray) -> np.ndarray:
    """(classes, batch): sigm of ``ffW fv + ffb``, or the softmax of each column."""
    z = affine(net["ffW"], net["ffb"], fv)
    if net.get("output", "sigm") == "sigm":
        return np.array([activation(row, "sigm") for row in z])
    o = np.zeros_like(z)
    for n in range(z.shape[1]):
        top = max(z[:, n])
        e = [math.exp(v - top) for v in z[:, n]]
        o[:, n] = [v / sum(e) for v in e]
    return o


def naive_forward(net: dict, x: np.ndarray) -> dict:
    """The forward pass of a set-up ``net`` on x (rows, cols, batch) or (rows, cols, channels,
    batch), in float64. Returns ``{"a": [per layer: a list of (rows, cols, batch) maps, or an
    'f' layer's (outputs, batch)], "fv": (features, batch), "o": (classes, batch)}``."""
    x = np.array(x, dtype=float)
    a = [x] if x.ndim == 3 else [x[:, :, c] for c in range(x.shape[2])]
    acts = [a]
    for layer in net["layers"][1:]:
        kind = {"c": conv, "s": pool, "f": full}[layer["type"]]
        a = kind(layer, a)
        acts.append(a)
    fv = features(a)
    return {"a": acts, "fv": fv, "o": output(net, fv)}
