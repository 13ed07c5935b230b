"""Figures of a net: the smoothed loss ``rL``, the first-layer kernels, one sample's feature maps.

matplotlib is imported only when a figure is drawn (``pip install "dltoolbox[demo]"``); the
figures are drawn with its Agg renderer, without pyplot, and written atomically as PNG.

The toolbox's MNIST maps are transposed images (see :func:`dltoolbox.datasets.load_mnist`);
with ``transposed=True`` (the default) maps and kernels are drawn transposed back, upright.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .cnnff import cnnff
from .errors import InputError
from .fileutil import write_atomically
from .net import params_of


def require_matplotlib():
    """The ``matplotlib.figure`` module, or ImportError saying how to install matplotlib."""
    try:
        from matplotlib import figure
    except ImportError as exc:
        raise ImportError(
            'dltoolbox.plots needs matplotlib: pip install "dltoolbox[demo]" '
            "(or pip install matplotlib)"
        ) from exc
    return figure


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=100))


def _image(ax, a: np.ndarray, transposed: bool, **scale) -> None:
    ax.imshow(a.T if transposed else a, cmap="gray", interpolation="nearest", **scale)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_loss(rL, path: str | os.PathLike) -> Path:
    """Draw ``rL`` (n,), the smoothed loss after each batch (the toolbox's ``plot(cnn.rL)``).

    Returns the PNG's path.
    """
    rL = np.asarray(rL, dtype=float).ravel()
    if rL.size == 0:
        raise InputError("rL: expected at least one loss value, got an empty array")
    fig = require_matplotlib().Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.plot(np.arange(rL.size), rL)
    ax.set_xlabel("batch")
    ax.set_ylabel("smoothed loss rL")
    ax.set_title("training loss (0.99 * rL + 0.01 * L per batch)")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def _first_kernels(net: dict) -> tuple[int, str, list]:
    """(index, field name, value) of the first layer's kernels: its first trained field of
    form "grid" (a convolution layer's ``k``)."""
    for l, layer in enumerate(net.get("layers", [])):
        for field in params_of(layer.get("type")) if l else ():
            if field.form == "grid" and field.name in layer:
                return l, field.name, layer[field.name]
    raise InputError('net: expected a set-up net with a convolution layer ("k"), found none')


def plot_kernels(net: dict, path: str | os.PathLike, transposed: bool = True) -> Path:
    """Draw the first convolution layer's kernels ``k[i][j]`` (ks, ks), one per panel.

    Each kernel is drawn as the input patch it responds to most: rotated by 180 degrees,
    since ``cnnff`` convolves (``convn`` flips the kernel). Returns the PNG's path.
    """
    l, key, grid = _first_kernels(net)
    kernels = [(i, j, k) for i, row in enumerate(grid) for j, k in enumerate(row)]
    cols = min(len(kernels), 12)
    rows = -(-len(kernels) // cols)
    fig = require_matplotlib().Figure(figsize=(1.2 * cols, 1.3 * rows + 0.6))
    for n, (i, j, k) in enumerate(kernels):
        ax = fig.add_subplot(rows, cols, n + 1)
        _image(ax, np.rot90(np.asarray(k), 2), transposed)
        ax.set_title(f"k[{i}][{j}]", fontsize=8)
    fig.suptitle(f'net["layers"][{l}]["{key}"], each as the input patch it responds to most')
    return _save(fig, path)


def plot_feature_maps(
    net: dict,
    x: np.ndarray,
    path: str | os.PathLike,
    transposed: bool = True,
    label: int | None = None,
) -> Path:
    """Draw every layer's maps for one sample ``x`` (rows, cols), one row of panels per layer.

    All maps share the gray scale 0 (black) to 1 (white), the range of the inputs and of the
    sigmoid. The net is not modified (the forward pass runs on a copy). The title gives the
    predicted class (the largest output) and, when given, the sample's true ``label``.
    Returns the PNG's path.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise InputError(f"x: expected one sample of shape (rows, cols), got shape {x.shape}")
    scratch = dict(net, layers=[dict(layer) for layer in net["layers"]])
    cnnff(scratch, x)
    layers = scratch["layers"]
    cols = max(len(layer["a"]) for layer in layers)
    fig = require_matplotlib().Figure(figsize=(1.1 * cols + 1.2, 1.2 * len(layers) + 0.6))
    for l, layer in enumerate(layers):
        for j, a in enumerate(layer["a"]):
            ax = fig.add_subplot(len(layers), cols, l * cols + j + 1)
            _image(ax, np.asarray(a).reshape(a.shape[0], a.shape[1]), transposed, vmin=0, vmax=1)
            if j == 0:
                ax.set_ylabel(f"{l}: {layer['type']}", fontsize=9)
    o = np.asarray(scratch["o"]).ravel()
    truth = "" if label is None else f"digit {label}, "
    fig.suptitle(f"feature maps of one sample ({truth}predicted {int(np.argmax(o))})")
    return _save(fig, path)
