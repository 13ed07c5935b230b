"""The numerical kernels behind cnnff/cnnbp: engines, selectable per net with ``net["engine"]``.

- ``"fast"`` (the default, :class:`.fast.FastEngine`): each layer for all maps and samples at
  once, one matrix product per convolution.
- ``"reference"`` (:class:`.reference.ReferenceEngine`): the toolbox's loops over maps with
  ``convn``; slow, kept as the oracle the fast engine is tested against.

Choose with ``net["engine"] = "reference"`` (or ``opts["engine"]`` in :func:`cnntrain`). Both
give the toolbox's numbers to within rounding (about 1e-15 relative per step).

An engine is an object with the operations of :class:`Engine`, on the lists the net stores
(maps ``a[j]`` (rows, cols, batch), kernels ``k[i][j]`` (ks, ks)); the layer kinds of
:mod:`dltoolbox.layers` call them, and know nothing else of the engine. :func:`create` makes
one; it owns its scratch buffers for its lifetime (``cnntrain`` holds one for the whole loop,
``cnnff``/``cnnbp`` make one per call). What an engine keeps from the forward pass for the
backward pass travels with the maps it computed, in the net (the ``record`` of a conv layer's
``a``, a :class:`~dltoolbox.net.MapStack`), so nothing is hidden in module state. Another
engine (on another array library, say) is a class with these methods and one line in
:data:`ENGINES`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np

from ..constraints import Options, check
from ..net import ConvGeometry
from .fast import FastEngine
from .reference import ReferenceEngine


class Engine(Protocol):
    """The operations the layer kinds call. Maps are lists of (rows, cols, batch) arrays."""

    name: str

    def conv_forward(
        self, a_prev: list, k: list, b: list, activation: str, slot: int, geometry: ConvGeometry
    ) -> list:
        """``a[j] = f(sum_i convn(a_prev[i], k[i][j], 'valid') + b[j])`` (the input zero-padded
        and read at a stride as ``geometry`` says); what :meth:`conv_grads` may reuse goes in
        the result's ``record`` (a :class:`~dltoolbox.net.MapStack`). ``slot`` names this
        layer's reusable buffers."""

    def conv_grads(
        self, a_prev: list, d: list, a: list, geometry: ConvGeometry
    ) -> tuple[np.ndarray, list]:
        """(``dk``, ``db``): ``convn(flipall(a_prev[i]), d[j], 'valid') / batch`` as one
        (maps_in, maps_out, ks, ks) array (:func:`~dltoolbox.net.list_kernels` makes it the
        net's ``dk[i][j]``) and the list ``sum(d[j]) / batch``; ``a`` is what
        :meth:`conv_forward` returned for the layer."""

    def conv_input_grad(
        self, d: list, k: list, geometry: ConvGeometry, size: tuple[int, int]
    ) -> list:
        """``[sum_j convn(d[j], rot180(k[i][j]), 'full') for i]``: the gradient of a conv
        layer's input maps, of ``size`` (rows, cols)."""

    def activation_delta(self, a: list, grad: Any, activation: str) -> list:
        """``f'(z) .* grad`` written with the output ``a = f(z)``: a layer's delta."""

    def pool_forward(self, a_prev: list, scale: int, method: str) -> list:
        """The mean (or max) of each scale x scale block of every map."""

    def unpool(self, d: list, a_prev: list, scale: int, method: str) -> Any:
        """The gradient of a pooling layer's input maps ``a_prev`` from its delta ``d``:
        ``expand(d[j], [scale, scale, 1]) / scale^2`` (mean), or ``d`` sent to each block's
        first maximum in column-major order (max). May be in a form of the engine's own that
        only :meth:`activation_delta` and :meth:`dense` read."""

    def dense(self, grad: Any) -> list:
        """A gradient from these operations as a plain list of maps."""

    def running(self) -> AbstractContextManager:
        """The context a whole forward or backward pass runs in (the fast engine's keeps
        numpy's BLAS off the cores its own BLAS threads use; see
        :func:`~dltoolbox.engines.blas.numpy_on_one_thread`)."""


#: The engines by name, each a class that makes a fresh :class:`Engine`.
ENGINES: dict[str, type] = {"fast": FastEngine, "reference": ReferenceEngine}
DEFAULT_ENGINE = "fast"


def engine_name(value, name: str = 'net["engine"]') -> str:
    """``value`` if it names an engine of :data:`ENGINES`; else a ValueError naming ``name``."""
    return check(value, Options(tuple(sorted(ENGINES))), name)


def create(net: dict) -> Engine:
    """A new engine of the kind ``net.get("engine")`` names (default :data:`DEFAULT_ENGINE`)."""
    return ENGINES[engine_name(net.get("engine", DEFAULT_ENGINE))]()
