"""cnnapplygrads: one gradient-descent step (port of ``CNN/cnnapplygrads.m``), with optional
momentum and weight decay."""

from __future__ import annotations

import numpy as np

from . import checks
from .engines.fast import KernelStack, kernel_array

#: The velocity field of each parameter field: (net key or layer key, velocity key).
VELOCITY = {"k": "vk", "b": "vb", "ffW": "vffW", "ffb": "vffb"}


def cnnapplygrads(net: dict, opts: dict) -> dict:
    """``param -= opts["alpha"] * gradient`` for every kernel, bias, ``ffW`` and ``ffb``.

    Parameters
    ----------
    net : dict
        A net after :func:`cnnbp`. Modified in place (new arrays are assigned to its
        parameter fields, the old ones are left untouched; the new ``k[i][j]`` of a layer
        are views of one (inputmaps, outputmaps, ks, ks) array) and returned.
    opts : dict
        ``{"alpha": float}``, the learning rate, positive and finite; optional (absent or 0:
        the toolbox's plain step, computed exactly as it does):

        - ``weight_decay`` (>= 0): L2 decay of the weights (kernels and ``ffW``, not the
          biases): the step uses ``g = gradient + weight_decay * param``, the gradient of
          ``L + weight_decay / 2 * sum(param^2)``.
        - ``momentum`` (in [0, 1)): ``v = momentum * v + g; param -= alpha * v``. The
          velocities live in the net beside their parameters, in the parameters' shapes:
          ``net["vffW"]``, ``net["vffb"]``, and per conv layer ``vk[i][j]`` and ``vb[j]``;
          absent velocities count as 0 (the first step is a plain one). They are saved by
          :func:`dltoolbox.save_net` and in cnntrain checkpoints, so a resumed run goes on
          exactly.

    Returns
    -------
    net : dict
        The same dict, with updated ``k``, ``b``, ``ffW`` and ``ffb`` (in the dtype of the net).
    """
    checks.require_setup(net)
    checks.require_keys(net, ("dffW", "dffb"), "cnnapplygrads", "cnnbp")
    if not isinstance(opts, dict) or "alpha" not in opts:
        raise ValueError(f'opts: expected a dict with key "alpha", got {opts!r}')
    alpha = checks.positive_float(opts["alpha"], 'opts["alpha"]')
    extra = checks.optimizer(opts)
    return update(net, alpha, extra.get("momentum", 0.0), extra.get("weight_decay", 0.0))


def update(net: dict, alpha: float, momentum: float = 0.0, weight_decay: float = 0.0) -> dict:
    """:func:`cnnapplygrads` without its checks, for a loop over batches (arguments as
    checked there)."""
    if momentum or weight_decay:
        return _apply_with_options(net, alpha, momentum, weight_decay)
    for layer in net["layers"][1:]:
        if layer["type"] == "c":
            # every k[i][j] - alpha * dk[i][j] at once, on (inputmaps, outputmaps, ks, ks) stacks
            k = kernel_array(layer["k"]) - alpha * kernel_array(layer["dk"])
            layer["k"] = KernelStack(k)
            layer["b"] = [b - alpha * db for b, db in zip(layer["b"], layer["db"])]
    net["ffW"] = net["ffW"] - alpha * net["dffW"]
    net["ffb"] = net["ffb"] - alpha * net["dffb"]
    return net


def _step(owner: dict, key: str, grad, alpha: float, momentum: float, decay: float):
    """The new value of ``owner[key]`` (an array); updates its velocity in ``owner``."""
    param = _as_array(key, owner[key])
    g = np.asarray(_as_array(key, grad), dtype=param.dtype)
    if decay and key in ("k", "ffW"):
        g = g + decay * param
    if momentum:
        v = owner.get(VELOCITY[key])
        g = g if v is None else momentum * np.asarray(_as_array(key, v), dtype=param.dtype) + g
        owner[VELOCITY[key]] = _as_field(key, g)
    return param - alpha * g


def _as_array(key: str, value) -> np.ndarray:
    """Field ``key``'s value as one array (kernels as (inputmaps, outputmaps, ks, ks); read
    only: it may be the array behind a :class:`KernelStack`)."""
    return kernel_array(value) if key == "k" else np.asarray(value)


def _as_field(key: str, value: np.ndarray):
    """``value`` in the net's layout for field ``key``: lists for ``k`` and ``b``."""
    if key == "k":
        return KernelStack(value)
    if key == "b":
        return [value.dtype.type(v) if value.dtype != np.float64 else float(v) for v in value]
    return value


def _apply_with_options(net: dict, alpha: float, momentum: float, decay: float) -> dict:
    for layer in net["layers"][1:]:
        if layer["type"] == "c":
            for key, grad in (("k", layer["dk"]), ("b", layer["db"])):
                layer[key] = _as_field(key, _step(layer, key, grad, alpha, momentum, decay))
    net["ffW"] = _step(net, "ffW", net["dffW"], alpha, momentum, decay)
    net["ffb"] = _step(net, "ffb", net["dffb"], alpha, momentum, decay)
    return net
