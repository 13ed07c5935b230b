"""The numerical kernels behind cnnff/cnnbp, selectable per net with ``net["engine"]``.

Every engine is a module with the same five functions, each working on a whole layer given as
the lists the net stores (``a[j]`` of shape (rows, cols, batch), ``k[i][j]`` of shape (ks, ks)):

- ``conv_forward(a_prev, k, b)`` -> ``a``: sigm of the 'valid' convolutions summed over input maps
- ``pool_forward(a_prev, scale)`` -> ``a``: mean over scale x scale blocks
- ``conv_delta(a, d_next, scale)`` -> ``d``: conv layer delta from the pooling layer above
- ``pool_delta(d_next, k_next)`` -> ``d``: pooling layer delta from the conv layer above
- ``conv_grads(a_prev, d)`` -> ``(dk, db)``: kernel and bias gradients, averaged over the batch
"""

from __future__ import annotations

from types import ModuleType

from . import reference

ENGINES: dict[str, ModuleType] = {"reference": reference}
DEFAULT_ENGINE = "reference"


def get_engine(net: dict) -> ModuleType:
    """The engine module named by ``net.get("engine")`` (default :data:`DEFAULT_ENGINE`)."""
    name = net.get("engine", DEFAULT_ENGINE)
    if name not in ENGINES:
        raise ValueError(
            f'net["engine"]: expected one of {sorted(ENGINES)}, got {name!r}'
        )
    return ENGINES[name]
