"""cnnnumgradcheck: central differences against cnnbp's gradients (port of
``CNN/cnnnumgradcheck.m``)."""

from __future__ import annotations

import numpy as np

from . import checks, netcheck
from .cnnbp import backward
from .cnnff import forward, prepare
from .engines import create
from .errors import DltoolboxError, NetFieldError
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


class _SameMasks:
    """The training stream of the check's forward passes after a pass of cnntrain: each dropout
    layer gets the ``mask`` (outputs, batch) it drew in the net's last pass again, so the loss
    checked is the one cnnbp differentiated. Its ``rand`` returns that mask (1 where kept, 0
    where dropped: ``rand > q`` gives it back, as 0 < q < 1)."""

    def __init__(self, net: dict, batch: int) -> None:
        self.masks = []
        for l, layer in enumerate(net["layers"]):
            if layer["type"] != "f" or not kind_of(layer).get(layer, "dropout"):
                continue
            want = (kind_of(layer).get(layer, "outputs"), batch)
            mask = layer.get("mask")
            if mask is None or np.shape(mask) != want:
                raise NetFieldError(
                    f'net["layers"][{l}]["mask"]',
                    f"expected the (outputs, batch) {want} mask of the last pass, as every "
                    f"dropout layer has after a pass of cnntrain, got "
                    f"{'none' if mask is None else f'shape {np.shape(mask)}'}",
                )
            self.masks.append(np.asarray(mask))
        self._next = iter(())

    def restart(self) -> _SameMasks:
        """The stream for one more forward pass: the masks from the first dropout layer on."""
        self._next = iter(self.masks)
        return self

    def rand(self, *shape: int) -> np.ndarray:
        return next(self._next)


def cnnnumgradcheck(
    net: dict, x: np.ndarray, y: np.ndarray, epsilon: float = 1e-4, tol: float = 1e-8
) -> dict:
    """Check every gradient of ``net`` (from :func:`cnnbp` on ``x``, ``y``) numerically.

    For each scalar parameter p, ``(L(p + epsilon) - L(p - epsilon)) / (2 * epsilon)`` must be
    within ``tol`` (absolute) of the stored gradient, as in the toolbox (epsilon 1e-4,
    tolerance 1e-8).

    Dropout: after ``cnnff`` (every 'f' layer's output scaled by 1 - q) the check perturbs that
    pass; after a training pass (cnntrain's, which leaves each dropout layer's ``mask`` in the
    net) it holds those masks fixed, so it checks the gradient cnnbp took of that pass.

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
    NetFieldError
        After a training pass, for a dropout layer without a mask of (outputs, batch of x).
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
    trained = any("mask" in layer for layer in net["layers"])
    masks = _SameMasks(net, x.shape[-1]) if trained else None

    def loss() -> float:
        rng = None if masks is None else masks.restart()
        return backward(forward(work, x, engine, rng), y, engine)["L"]

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
