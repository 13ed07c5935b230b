"""cnnnumgradcheck: central differences against cnnbp's gradients (port of
``CNN/cnnnumgradcheck.m``)."""

from __future__ import annotations

import numpy as np

from . import checks
from .cnnbp import cnnbp
from .cnnff import cnnff


class GradientCheckError(AssertionError):
    """A back-propagated gradient differs from its numerical estimate by more than the tolerance."""


def _params(work: dict, net: dict):
    """(name, container in ``work``, index, gradient from ``net``) for every scalar parameter,
    in the toolbox's order: ffb, ffW, then conv layers from the last down, each bias
    followed by its kernels."""
    for j in range(work["ffb"].shape[0]):
        yield f"ffb[{j}]", work["ffb"], (j, 0), net["dffb"][j, 0]
    rows, cols = work["ffW"].shape
    for i in range(rows):
        for u in range(cols):
            yield f"ffW[{i}, {u}]", work["ffW"], (i, u), net["dffW"][i, u]
    for l in range(len(work["layers"]) - 1, 0, -1):
        layer, grads = work["layers"][l], net["layers"][l]
        if layer["type"] != "c":
            continue
        for j in range(len(layer["b"])):
            yield f'layers[{l}]["b"][{j}]', layer["b"], j, grads["db"][j]
            for i in range(len(layer["k"])):
                k = layer["k"][i][j]
                for u in range(k.shape[0]):
                    for v in range(k.shape[1]):
                        yield (
                            f'layers[{l}]["k"][{i}][{j}][{u}, {v}]',
                            k,
                            (u, v),
                            grads["dk"][i][j][u, v],
                        )


def _copy_params(net: dict) -> dict:
    """A net sharing nothing mutable with ``net``'s parameters, without its activations."""
    layers = []
    for layer in net["layers"]:
        new = {key: value for key, value in layer.items() if key not in ("a", "d", "dk", "db")}
        if "k" in layer:
            new["k"] = [[k.copy() for k in row] for row in layer["k"]]
            new["b"] = list(layer["b"])
        layers.append(new)
    out = {key: value for key, value in net.items() if key != "layers"}
    out.update(layers=layers, ffW=net["ffW"].copy(), ffb=net["ffb"].copy())
    return out


def cnnnumgradcheck(
    net: dict, x: np.ndarray, y: np.ndarray, epsilon: float = 1e-4, tol: float = 1e-8
) -> dict:
    """Check every gradient of ``net`` (from :func:`cnnbp` on ``x``, ``y``) numerically.

    For each scalar parameter p, ``(L(p + epsilon) - L(p - epsilon)) / (2 * epsilon)`` must be
    within ``tol`` (absolute) of the stored gradient, as in the toolbox (epsilon 1e-4,
    tolerance 1e-8).

    Parameters
    ----------
    net : dict
        A net after ``cnnff(net, x)`` and ``cnnbp(net, y)``; not modified, returned.
    x : ndarray, shape (rows, cols, batch), or (rows, cols, channels, batch)
        The inputs given to ``cnnff``; real numbers (float64 keeps the check meaningful).
    y : ndarray, shape (classes, batch)
        The targets given to ``cnnbp``.
    epsilon : float
        The step of the central difference, positive.
    tol : float
        The largest allowed absolute difference, positive.

    Returns
    -------
    net : dict
        ``net`` itself, unchanged.

    Raises
    ------
    GradientCheckError
        Naming the first parameter whose gradient is off, with both values.
    """
    checks.require_setup(net)
    checks.require_keys(net, ("dffW", "dffb"), "cnnnumgradcheck", "cnnbp")
    epsilon = checks.positive_float(epsilon, "epsilon")
    tol = checks.positive_float(tol, "tol")
    work = _copy_params(net)

    def loss() -> float:
        return cnnbp(cnnff(work, x), y)["L"]

    for name, array, index, grad in _params(work, net):
        original = array[index]
        array[index] = original + epsilon
        loss_plus = loss()
        array[index] = original - epsilon
        loss_minus = loss()
        array[index] = original
        numeric = (loss_plus - loss_minus) / (2 * epsilon)
        if abs(numeric - grad) > tol:
            raise GradientCheckError(
                f"numerical gradient checking failed at {name}: back-propagated {grad:.12g}, "
                f"numerical {numeric:.12g}, difference {abs(numeric - grad):.3g} > tol {tol:g}"
            )
    return net
