"""cnnapplygrads: one gradient-descent step (port of ``CNN/cnnapplygrads.m``), with optional
momentum and weight decay."""

from __future__ import annotations

import numpy as np

from . import checks, netcheck
from .errors import InputError
from .layers import kind_of
from .net import Field, as_array, as_value, kernel_array, list_kernels, params_of


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

        The other keys of cnntrain's opts (``batchsize``, ``numepochs``, ...) are let through,
        as the toolbox passes them; any other key is an error naming it.

    Returns
    -------
    net : dict
        The same dict, with updated ``k``, ``b``, ``ffW`` and ``ffb`` (in the dtype of the net).
    """
    checks.require_setup(net)
    checks.require_keys(net, ("dffW", "dffb"), "cnnapplygrads", "cnnbp")
    if not isinstance(opts, dict) or "alpha" not in opts:
        raise InputError(f'opts: expected a dict with key "alpha", got {opts!r}')
    extra = checks.optimizer(opts)
    sizes, _ = checks.last_pass_sizes(net, "cnnapplygrads")
    netcheck.check_params(net, sizes, 'net["layers"][0]["a"]', grads=True)
    momentum, decay = extra.get("momentum", 0.0), extra.get("weight_decay", 0.0)
    return list_kernels(update(net, extra["alpha"], momentum, decay))


def update(net: dict, alpha: float, momentum: float = 0.0, weight_decay: float = 0.0) -> dict:
    """:func:`cnnapplygrads` without its checks, for a loop over batches (arguments as
    checked there); the new kernels and velocities are left as (maps_in, maps_out, ks, ks)
    arrays (:func:`~dltoolbox.net.list_kernels`)."""
    for owner, field, mask in _params(net):
        grad = owner[field.grad]
        if momentum or weight_decay:
            owner[field.name] = _step(owner, field, grad, alpha, (momentum, weight_decay), mask)
        else:
            owner[field.name] = _plain_step(field, owner[field.name], grad, alpha)
    return net


def _params(net: dict) -> list[tuple[dict, Field, np.ndarray | None]]:
    """(dict holding it, field, where a step may change it: see
    :meth:`~dltoolbox.layers.base.LayerKind.step_mask`) of every trained parameter: the
    layers', then the output's."""
    out = [
        (layer, f, kind_of(layer).step_mask(layer, f.name))
        for layer in net["layers"]
        for f in params_of(layer["type"])
    ]
    return out + [(net, f, None) for f in params_of(None)]


def _plain_step(field: Field, param, grad, alpha: float):
    """``param - alpha * grad``, computed as the toolbox does (per scalar for biases)."""
    if field.form == "scalars":
        return [p - alpha * g for p, g in zip(param, grad)]
    if field.form == "grid":  # every k[i][j] at once, on (inputmaps, outputmaps, ks, ks) stacks
        return kernel_array(param) - alpha * kernel_array(grad)
    return param - alpha * grad


def _step(owner: dict, field: Field, grad, alpha: float, rates: tuple, mask=None):
    """The new value of the parameter ``field`` of ``owner``; updates its velocity there.
    ``rates``: (momentum, weight decay); ``mask``: 0 where the value is no parameter (its step,
    decay and velocity are then 0)."""
    momentum, decay = rates
    param = as_array(field, owner[field.name])
    g = np.asarray(as_array(field, grad), dtype=param.dtype)
    if decay and field.decays:
        g = g + decay * param
    if momentum:
        v = owner.get(field.velocity)
        g = g if v is None else momentum * np.asarray(as_array(field, v), dtype=param.dtype) + g
    if mask is not None:
        g = g * mask
    if momentum:
        owner[field.velocity] = _working(field, g)
    return _working(field, param - alpha * g)


def _working(field: Field, array: np.ndarray):
    """``array`` as the loop keeps ``field``: kernels as the array itself, else
    :func:`~dltoolbox.net.as_value`."""
    return array if field.form == "grid" else as_value(field, array)
