"""Layer specs such as ``i-6c5-2s-12c5-2s``: the short form of a ``net["layers"]`` list.

Tokens are joined by ``-``: an optional leading ``i`` (the input layer, always added), or
``i<channels>`` for an input of several channels (``i3``: RGB); ``<maps>c<kernelsize>`` for a
convolution layer, followed by ``r`` for relu or ``t`` for tanh (``6c5r``; no letter: the
toolbox's sigm); ``<scale>s`` for a (mean) subsampling layer and ``<scale>m`` for max pooling.
Specs without the new letters are exactly the toolbox's.
"""

from __future__ import annotations

import re

_INPUT = re.compile(r"i([0-9]*)")
_CONV = re.compile(r"([0-9]+)c([0-9]+)([rt]?)")
_POOL = re.compile(r"([0-9]+)([sm])")
_ACTIVATION = {"": "sigm", "r": "relu", "t": "tanh"}
_METHOD = {"s": "mean", "m": "max"}


def parse_spec(spec: str) -> list[dict]:
    """The layer list of ``spec``, ready for :func:`dltoolbox.cnnsetup`.

    Parameters
    ----------
    spec : str
        For example ``"6c5-2s-12c5-2s"``, ``"i-6c5-2s-12c5-2s"`` or ``"i3-8c5r-2m-16c5r-2m"``.

    Returns
    -------
    list of dict
        ``[{"type": "i"}, {"type": "c", "outputmaps": 6, "kernelsize": 5},
        {"type": "s", "scale": 2}, ...]``; ``"activation"``, ``"method"`` and the input's
        ``"channels"`` only where the spec says something other than the default.

    Raises
    ------
    ValueError
        A token that is none of the above (positive integers), an ``i`` anywhere but first,
        or no layer after the input.
    """
    if not isinstance(spec, str):
        raise TypeError(f"spec: expected a string such as '6c5-2s-12c5-2s', got {spec!r}")
    tokens = spec.strip().split("-")
    layers: list[dict] = [{"type": "i"}]
    first = _INPUT.fullmatch(tokens[0]) if tokens else None
    if first:
        if first[1] and int(first[1]) == 0:
            raise ValueError(f"spec: the input {tokens[0]!r} of {spec!r} has no channels")
        if first[1] and int(first[1]) > 1:
            layers[0]["channels"] = int(first[1])
        tokens = tokens[1:]
    if not tokens or tokens == [""]:
        raise ValueError(f"spec: expected at least one layer after the input, got {spec!r}")
    for pos, token in enumerate(tokens, start=1):
        conv, pool = _CONV.fullmatch(token), _POOL.fullmatch(token)
        if conv and int(conv[1]) > 0 and int(conv[2]) > 0:
            layer = {"type": "c", "outputmaps": int(conv[1]), "kernelsize": int(conv[2])}
            if conv[3]:
                layer["activation"] = _ACTIVATION[conv[3]]
            layers.append(layer)
        elif pool and int(pool[1]) > 0:
            layer = {"type": "s", "scale": int(pool[1])}
            if pool[2] == "m":
                layer["method"] = "max"
            layers.append(layer)
        else:
            raise ValueError(
                f"spec: layer {pos} of {spec!r} is {token!r}; expected <maps>c<kernelsize> "
                "(such as 6c5, or 6c5r for relu, 6c5t for tanh) or <scale>s (such as 2s; 2m for "
                "max pooling) with positive integers, an optional leading 'i' (or 'i3' for three "
                "input channels), all joined by '-'"
            )
    return layers


def spec_of_layers(layers: list) -> str:
    """The spec of a layer list, as ``i-6c5-2s-12c5-2s`` (the inverse of :func:`parse_spec`
    for the options it knows; unknown values are written as they are)."""
    letter = {v: k for k, v in _ACTIVATION.items()}
    parts = []
    for layer in layers:
        kind = layer["type"]
        if kind == "c":
            act = layer.get("activation", "sigm")
            suffix = letter.get(act, f"[{act}]")
            parts.append(f"{layer.get('outputmaps', '?')}c{layer.get('kernelsize', '?')}{suffix}")
        elif kind == "s":
            method = layer.get("method", "mean")
            suffix = "m" if method == "max" else "s" if method == "mean" else f"s[{method}]"
            parts.append(f"{layer.get('scale', '?')}{suffix}")
        elif kind == "i" and layer.get("channels", 1) != 1:
            parts.append(f"i{layer['channels']}")
        else:
            parts.append(kind)
    return "-".join(parts)
