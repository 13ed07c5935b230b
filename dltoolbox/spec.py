"""Layer specs such as ``i-6c5-2s-12c5-2s``: the short form of a ``net["layers"]`` list.

Tokens are joined by ``-``: an optional leading ``i`` (the input layer, always added),
``<maps>c<kernelsize>`` for a convolution layer and ``<scale>s`` for a subsampling layer.
"""

from __future__ import annotations

import re

_CONV = re.compile(r"([0-9]+)c([0-9]+)")
_POOL = re.compile(r"([0-9]+)s")


def parse_spec(spec: str) -> list[dict]:
    """The layer list of ``spec``, ready for :func:`dltoolbox.cnnsetup`.

    Parameters
    ----------
    spec : str
        For example ``"6c5-2s-12c5-2s"`` or ``"i-6c5-2s-12c5-2s"``.

    Returns
    -------
    list of dict
        ``[{"type": "i"}, {"type": "c", "outputmaps": 6, "kernelsize": 5},
        {"type": "s", "scale": 2}, ...]``

    Raises
    ------
    ValueError
        A token that is neither ``<maps>c<kernelsize>`` nor ``<scale>s`` (positive integers),
        an ``i`` anywhere but first, or no layer after the input.
    """
    if not isinstance(spec, str):
        raise TypeError(f"spec: expected a string such as '6c5-2s-12c5-2s', got {spec!r}")
    tokens = spec.strip().split("-")
    if tokens and tokens[0] == "i":
        tokens = tokens[1:]
    if not tokens or tokens == [""]:
        raise ValueError(f"spec: expected at least one layer after the input, got {spec!r}")
    layers: list[dict] = [{"type": "i"}]
    for pos, token in enumerate(tokens, start=1):
        conv, pool = _CONV.fullmatch(token), _POOL.fullmatch(token)
        if conv and int(conv[1]) > 0 and int(conv[2]) > 0:
            layers.append({"type": "c", "outputmaps": int(conv[1]), "kernelsize": int(conv[2])})
        elif pool and int(pool[1]) > 0:
            layers.append({"type": "s", "scale": int(pool[1])})
        else:
            raise ValueError(
                f"spec: layer {pos} of {spec!r} is {token!r}; expected <maps>c<kernelsize> "
                "(such as 6c5) or <scale>s (such as 2s) with positive integers, an optional "
                "leading 'i', all joined by '-'"
            )
    return layers
