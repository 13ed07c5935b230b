"""The numerical kernels behind cnnff/cnnbp, selectable per net with ``net["engine"]``.

- ``"fast"`` (the default, :mod:`.fast`): each layer for all maps and samples at once, one
  matrix product per convolution.
- ``"reference"`` (:mod:`.reference`): the toolbox's loops over maps with ``convn``; slow, kept
  as the oracle the fast engine is tested against.

Choose with ``net["engine"] = "reference"`` (or ``opts["engine"]`` in :func:`cnntrain`). Both
give the toolbox's numbers to within rounding (about 1e-15 relative per step).

Every engine is a module with the same five functions, each working on a whole layer given as
the lists the net stores (``a[j]`` of shape (rows, cols, batch), ``k[i][j]`` of shape (ks, ks)):

- ``conv_forward(a_prev, k, b, activation="sigm")`` -> ``a``: the activation (sigm, relu or
  tanh, see :mod:`dltoolbox.activations`) of the 'valid' convolutions summed over input maps
- ``pool_forward(a_prev, scale, method="mean")`` -> ``a``: mean (or max) over scale x scale blocks
- ``conv_delta(a, d_next, scale, activation="sigm", method="mean")`` -> ``d``: conv layer delta
  from the pooling layer above (for max pooling: to each block's first maximum in column-major
  order)
- ``pool_delta(d_next, k_next)`` -> ``d``: pooling layer delta from the conv layer above
- ``conv_grads(a_prev, d)`` -> ``(dk, db)``: kernel and bias gradients, averaged over the batch

``cnnff`` and ``cnnbp`` always pass the option arguments; with their defaults the engines
compute the toolbox's net exactly as before.

The lists returned may be views of larger arrays; an engine reads the kernels afresh on every
call, so kernels edited in place or replaced by new lists take effect at once.
"""

from __future__ import annotations

from types import ModuleType

from . import fast, reference

ENGINES: dict[str, ModuleType] = {"fast": fast, "reference": reference}
DEFAULT_ENGINE = "fast"


def engine_name(value, name: str = 'net["engine"]') -> str:
    """``value`` if it names an engine of :data:`ENGINES`; else a ValueError naming ``name``."""
    if not isinstance(value, str) or value not in ENGINES:
        raise ValueError(f"{name}: expected one of {sorted(ENGINES)}, got {value!r}")
    return value


def get_engine(net: dict) -> ModuleType:
    """The engine module named by ``net.get("engine")`` (default :data:`DEFAULT_ENGINE`)."""
    return ENGINES[engine_name(net.get("engine", DEFAULT_ENGINE))]
