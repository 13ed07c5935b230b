"""Ordinary image files (PNG, JPEG, ...) as net inputs, and ``dltoolbox predict``.

Reading needs Pillow, an optional extra: ``pip install "dltoolbox[images]"``. An image becomes
what a net trained on MNIST by :func:`~dltoolbox.datasets.load_mnist` saw: grey (or RGB for a net
with 3 input channels), resized to the net's input size, a light digit on a dark background
(inverted when the image's border is light, as for a dark digit drawn on paper), its values
stretched to [0, 1] (the darkest pixel 0, the lightest 1), and transposed as the toolbox stores
MNIST (pixel (row r, col c) at ``x[c, r]``) unless ``upright=True``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import checks, netcheck
from .cnnpredict import cnnpredict, net_input_size
from .errors import InputError, MissingFileError
from .net import channels as channels_of
from .net import map_sizes
from .netio import load_net

PathLike = str | Path


def _pil() -> Any:
    """The ``PIL.Image`` module, or an ImportError saying how to install it."""
    try:
        from PIL import Image, ImageOps  # noqa: F401
    except ImportError:
        raise ImportError(
            'reading images needs Pillow: pip install "dltoolbox[images]" (or pillow)'
        ) from None
    return Image


def image_files(paths: Sequence[PathLike]) -> list[Path]:
    """The files named in ``paths``, a folder standing for its image files (sorted by name,
    recognised by the file extensions Pillow reads; other files in it are left out)."""
    Image = _pil()
    known = set(Image.registered_extensions())
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in known)
            if not found:
                raise InputError(f"{path}: a folder without image files (.png, .jpg, ...)")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise MissingFileError(f"{path}: no such image file or folder")
    if not files:
        raise InputError("images: expected at least one image file or folder, got none")
    return files


def _as_8bit(img: Any) -> Any:
    """``img`` in a mode of 8-bit samples: 16-bit grey scaled down, alpha laid on white."""
    Image = _pil()
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        scale = 1 / 257 if img.mode != "F" else 255.0  # 16-bit, or floats in [0, 1]
        grey = np.clip(np.round(np.asarray(img, dtype=np.float64) * scale), 0, 255)
        return Image.fromarray(grey.astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img


def image_to_input(
    img: Any,
    size: tuple[int, int],
    channels: int = 1,
    *,
    upright: bool = False,
    invert: bool | None = None,
    stretch: bool = True,
) -> np.ndarray:
    """A ``PIL.Image`` as one net input.

    Parameters
    ----------
    img : PIL.Image.Image
        Any mode; transparency is laid on white.
    size : (rows, cols)
        The net's input map size (see :func:`~dltoolbox.cnnpredict.net_input_size`).
    channels : 1 or 3
        Grey, or RGB for a net with 3 input channels.
    upright : bool
        False (default): transposed as the toolbox's MNIST, the image's width giving the
        ``rows``; True: as it is, for nets trained on ``load_mnist(upright=True)``.
    invert : bool or None
        None (default): invert when the mean of the image's border is above one half (a light
        background); True/False: always/never.
    stretch : bool
        True (default): scale the values so that the darkest becomes 0 and the lightest 1, as
        MNIST's background and strokes (the values are in [0, 1] either way).

    Returns
    -------
    ndarray of float64, shape (rows, cols) for one channel, else (rows, cols, 3); in [0, 1]
    """
    if channels not in (1, 3):
        raise InputError(
            f"channels: expected 1 (grey) or 3 (RGB) for an image, got a net with {channels}"
        )
    Image = _pil()
    img = _as_8bit(img).convert("L" if channels == 1 else "RGB")
    if invert is None:
        grey = np.asarray(img.convert("L"), dtype=np.float64)
        border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        invert = bool(border.mean() > 127.5)
    rows, cols = (int(n) for n in size)
    width, height = (cols, rows) if upright else (rows, cols)
    resample = getattr(Image, "Resampling", Image).LANCZOS
    x = np.asarray(img.resize((width, height), resample), dtype=np.float64) / 255
    if invert:
        x = 1 - x
    low, high = float(x.min()), float(x.max())
    if stretch and high > low:  # paper is seldom white nor ink black: MNIST's 0 and 1
        x = (x - low) / (high - low)
    if not upright:
        x = x.transpose(1, 0, 2) if x.ndim == 3 else x.T
    return np.ascontiguousarray(x)


def read_image(
    path: PathLike,
    size: tuple[int, int],
    channels: int = 1,
    *,
    upright: bool = False,
    invert: bool | None = None,
    stretch: bool = True,
) -> np.ndarray:
    """One image file as one net input: :func:`image_to_input` of the file (its EXIF orientation
    applied). Returns (rows, cols) or (rows, cols, 3) float64 in [0, 1]; a file Pillow cannot
    read raises a ValueError naming it."""
    Image = _pil()
    from PIL import ImageOps

    try:
        with Image.open(path) as opened:
            opened.load()
            img = ImageOps.exif_transpose(opened)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from None
    return image_to_input(img, size, channels, upright=upright, invert=invert, stretch=stretch)


def load_images(
    paths: Sequence[PathLike],
    net: dict,
    *,
    size: tuple[int, int] | None = None,
    upright: bool = False,
    invert: bool | None = None,
    stretch: bool = True,
) -> tuple[np.ndarray, list[Path]]:
    """Image files and folders (see :func:`image_files`) as one batch for ``net``, each file
    read by :func:`read_image` at ``size`` (default: the net's, see :func:`input_size`).

    Returns
    -------
    x : ndarray, shape (rows, cols, n), or (rows, cols, 3, n) for a 3-channel net
    files : list of Path, the n files in batch order
    """
    size = input_size(net, size)
    channels = channels_of(net)
    files = image_files(paths)
    options = {"upright": upright, "invert": invert, "stretch": stretch}
    maps = [read_image(f, size, channels, **options) for f in files]
    return np.stack(maps, axis=-1), files


def input_size(net: dict, size: tuple[int, int] | None = None) -> tuple[int, int]:
    """``size`` checked against the net (it must give ``ffW``'s feature count), or the net's
    own input size when None (see :func:`~dltoolbox.cnnpredict.net_input_size`)."""
    if size is None:
        return net_input_size(net)
    rows, cols = (checks.positive_int(n, "size") for n in size)
    try:
        sizes = map_sizes(net["layers"], (rows, cols), channels_of(net))
    except ValueError as exc:
        raise InputError(f"size {rows}x{cols}: does not fit the net's layers ({exc})") from None
    netcheck.check_params(net, sizes, f"size {rows}x{cols}", finite=False)
    return rows, cols


def run_predict(args: argparse.Namespace) -> int:
    """``dltoolbox predict NET IMAGE...``: per file its label and top outputs, or JSON."""
    net = load_net(args.net)
    invert = {"auto": None, "yes": True, "no": False}[args.invert]
    x, files = load_images(args.images, net, size=args.input, upright=args.upright, invert=invert)
    labels, o = cnnpredict(net, x)
    top = min(args.top, o.shape[0])
    results = []
    for n, (path, label) in enumerate(zip(files, labels.tolist())):
        order = np.argsort(-o[:, n], kind="stable")[:top].tolist()
        results.append(
            {
                "file": str(path),
                "label": label,
                "top": [{"label": k, "output": float(o[k, n])} for k in order],
                "outputs": [float(v) for v in o[:, n]],
            }
        )
    if args.json:
        shape = list(x.shape[:2])
        print(json.dumps({"net": args.net, "input_size": shape, "predictions": results}))
        return 0
    for result in results:
        best = ", ".join(f"{t['label']} {t['output']:.3f}" for t in result["top"])
        print(f"{result['file']}: {result['label']}  (top outputs: {best})")
    return 0
