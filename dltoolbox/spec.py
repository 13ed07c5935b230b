"""Layer specs such as ``i-6c5-2s-12c5-2s``: the short form of a ``net["layers"]`` list.

Tokens are joined by ``-``: an optional leading ``i`` (the input layer, always added), or
``i<channels>`` for an input of several channels (``i3``: RGB); ``<maps>c<kernelsize>`` for a
convolution layer, followed by ``r`` for relu or ``t`` for tanh (``6c5r``; no letter: the
toolbox's sigm), then ``p<n>`` or ``ps`` (padding n or "same"), ``s<n>`` (stride n; ``s<n>d``:
drop the remainder) and ``@lenet5`` (LeCun's C3 connection table), in that order (``16c3rp1s2d``);
``<scale>s`` for a (mean) subsampling layer and ``<scale>m`` for max pooling; ``<outputs>f`` for a
fully connected layer, with ``r``/``t`` and ``d<q>`` for dropout q (``128frd0.5``). Specs without
the new letters are exactly the toolbox's. Each layer kind (:mod:`dltoolbox.layers`) defines its
own token; docs/options.md lists them all.
"""

from __future__ import annotations

from .errors import InputError, InputTypeError
from .layers import INPUT, KINDS, hidden_kinds


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
        raise InputTypeError(f"spec: expected a string such as '6c5-2s-12c5-2s', got {spec!r}")
    tokens = spec.strip().split("-")
    layers: list[dict] = [{"type": "i"}]
    first = INPUT.spec_pattern.fullmatch(tokens[0]) if tokens else None
    if first:
        layer = INPUT.from_spec(first)
        if layer is None:
            raise InputError(f"spec: the input {tokens[0]!r} of {spec!r} has no channels")
        layers[0] = layer
        tokens = tokens[1:]
    if not tokens or tokens == [""]:
        raise InputError(f"spec: expected at least one layer after the input, got {spec!r}")
    for pos, token in enumerate(tokens, start=1):
        layer = _parse_token(token)
        if layer is None:
            forms = " or ".join(kind.spec_help for kind in hidden_kinds())
            raise InputError(
                f"spec: layer {pos} of {spec!r} is {token!r}; expected {forms} with positive "
                f"integers, {INPUT.spec_help}, all joined by '-'"
            )
        layers.append(layer)
    return layers


def _parse_token(token: str) -> dict | None:
    for kind in hidden_kinds():
        match = kind.spec_pattern.fullmatch(token)
        if match:
            return kind.from_spec(match)
    return None


def spec_of_layers(layers: list) -> str:
    """The spec of a layer list, as ``i-6c5-2s-12c5-2s`` (the inverse of :func:`parse_spec`
    for the options it knows; unknown values are written as they are)."""
    return "-".join(
        KINDS[layer["type"]].spec(layer) if layer.get("type") in KINDS else str(layer["type"])
        for layer in layers
    )


def spec_of(net: dict) -> str:
    """The spec of a net's layers, as ``i-6c5-2s-12c5-2s`` (see :func:`spec_of_layers`)."""
    return spec_of_layers(net["layers"])
