"""Layer kinds: each kind of layer defined in one place, and the registry that finds them.

A kind (:class:`~.base.LayerKind`) holds everything about its layers: the keys a layer dict
may have and their allowed values, its fields (:mod:`dltoolbox.net`), its output shape, its
initial weights (drawn from the rng in the toolbox's order), its forward and backward pass
(through the engine's operations, :mod:`dltoolbox.engines`), its summary row and its spec
token. ``cnnsetup``, ``cnnff``, ``cnnbp`` and ``cnnapplygrads`` loop over the layers and hand
each to its kind; the output (``ffW``, ``ffb``) is :data:`OUTPUT`.

How to add a kind (say a fully connected hidden layer 'f'):

1. Write ``layers/<name>.py`` with a subclass of :class:`~.base.LayerKind`: ``type``, ``name``,
   ``required``/``optional`` keys with their constraints (:mod:`dltoolbox.constraints`),
   ``fields`` (every field it stores, with its form and role: ``param`` fields are updated by
   cnnapplygrads through their ``grad`` and ``velocity`` names), and the methods ``out_shape``,
   ``setup``, ``param_shapes`` (the shapes of its trained fields, checked by
   :mod:`dltoolbox.netcheck`), ``forward``, ``backward``, ``summary``, ``spec``/``from_spec`` (with
   ``spec_pattern`` and ``spec_help``) and ``entries`` (for the gradient check).
2. If its passes need an operation the engines lack, add it to
   :class:`dltoolbox.engines.Engine` and to each engine.
3. Register it: one line in :data:`KINDS` below.

Files, updates, comparisons, summaries, specs and the gradient check then handle it.
"""

from __future__ import annotations

from .base import KINDS, LayerKind, kind_of
from .conv import Conv
from .fc import FullyConnected
from .input import Input
from .output import Output
from .pool import Pool

#: The kinds by ``layer["type"]`` (see :data:`.base.KINDS`); the first is the input layer's.
KINDS.update((kind.type, kind) for kind in (Input(), Conv(), Pool(), FullyConnected()))
INPUT = KINDS["i"]
OUTPUT = Output()


def hidden_kinds() -> list[LayerKind]:
    """The kinds that may follow the input layer."""
    return [kind for kind in KINDS.values() if kind is not INPUT]


__all__ = ["INPUT", "KINDS", "OUTPUT", "LayerKind", "hidden_kinds", "kind_of"]
