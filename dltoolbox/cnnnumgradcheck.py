"""cnnnumgradcheck: central differences against cnnbp's gradients (port of
``CNN/cnnnumgradcheck.m``)."""

from __future__ import annotations

import numpy as np

from . import checks, netcheck
from .cnnbp import backward
from .cnnff import forward, prepare
from .engines import create
from .errors import DltoolboxError
from .layers import OUTPUT, kind_of
from .net import as_array, as_value, channels, field_of, map_sizes
from .netcheck import output_classes


class GradientCheckError(DltoolboxError, AssertionError):
    """A back-propagated gradient differs from its numerical estimate by more than the tolerance."""


def _entries(work: dict, net: dict):
    """(name, container in ``work``, index, gradient from ``net``) for every scalar parameter,
    in the toolbox's order: ffb, ffW, then the layers from the last down (a conv layer's bias
    j followed by its kernels k[i][j])."""
    yield from OUTPUT.entries(work, net)
    for l in range(len(work["layers"]) - 1, 0, -1):
        layer = work["layers"][l]
        yield from kind_of(layer).entries(layer, net["layers"][l], f"layers[{l}]")


def _copy_params(net: dict) -> dict:
    """A net sharing nothing mutable with ``net``'s parameters, without its last pass."""

    def copy(owner: dict, kind: str | None) -> dict:
        out = {}
        for key, value in owner.items():
            f = field_of(key, kind)
            if f is not None and f.role == "param":
                out[key] = as_value(f, as_array(f, value).copy())
            elif key != "layers" and (f is None or not f.of_last_pass):
                out[key] = value
        return out

    work = copy(net, None)
    work["layers"] = [copy(layer, layer["type"]) for layer in net["layers"]]
    return work


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
    x = prepare(net, x)  # the checks of cnnff, cnnbp and cnnapplygrads, once
    y = checks.labels(y, x.shape[-1], output_classes(net))
    sizes = map_sizes(net["layers"], x.shape[:2], channels(net))
    netcheck.check_params(net, sizes, "x", grads=True)
    work, engine = _copy_params(net), create(net)

    def loss() -> float:
        return backward(forward(work, x, engine), y, engine)["L"]

    for name, array, index, grad in _entries(work, net):
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
