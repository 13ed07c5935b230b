"""cnnapplygrads: one plain gradient-descent step (port of ``CNN/cnnapplygrads.m``)."""

from __future__ import annotations

import numpy as np

from . import checks


def cnnapplygrads(net: dict, opts: dict) -> dict:
    """``param -= opts["alpha"] * gradient`` for every kernel, bias, ``ffW`` and ``ffb``.

    Parameters
    ----------
    net : dict
        A net after :func:`cnnbp`. Modified in place (new arrays are assigned to its
        parameter fields, the old ones are left untouched; the new ``k[i][j]`` of a layer
        are views of one (inputmaps, outputmaps, ks, ks) array) and returned.
    opts : dict
        ``{"alpha": float}``, the learning rate, positive and finite.
    """
    checks.require_setup(net)
    checks.require_keys(net, ("dffW", "dffb"), "cnnapplygrads", "cnnbp")
    if not isinstance(opts, dict) or "alpha" not in opts:
        raise ValueError(f'opts: expected a dict with key "alpha", got {opts!r}')
    alpha = checks.positive_float(opts["alpha"], 'opts["alpha"]')
    for layer in net["layers"][1:]:
        if layer["type"] == "c":
            # every k[i][j] - alpha * dk[i][j] at once, on (inputmaps, outputmaps, ks, ks) stacks
            k = np.array(layer["k"]) - alpha * np.array(layer["dk"])
            layer["k"] = [list(row) for row in k]
            layer["b"] = [b - alpha * db for b, db in zip(layer["b"], layer["db"])]
    net["ffW"] = net["ffW"] - alpha * net["dffW"]
    net["ffb"] = net["ffb"] - alpha * net["dffb"]
    return net
