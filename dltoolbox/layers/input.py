"""The input layer ('i'): ``a`` holds the batch, one map per channel."""

from __future__ import annotations

import re

import numpy as np

from ..constraints import POSITIVE_INT
from ..net import Field
from .base import TYPE_FIELD, LayerKind


class Input(LayerKind):
    type = "i"
    name = "input"
    optional = {"channels": (POSITIVE_INT, 1)}
    fields = (
        TYPE_FIELD,
        Field("channels", "int", "spec", "input channels (absent: 1)"),
        Field("a", "maps", "pass", "[c] (rows, cols, batch): channel c of the batch (cnnff)"),
    )
    spec_pattern = re.compile(r"i([0-9]*)")
    spec_help = "an optional leading 'i' (or 'i3' for three input channels)"

    def channels(self, layer: dict) -> int:
        return self.get(layer, "channels")

    def channels_for(self, layer: dict, x) -> int:
        """The channels of a net set up for ``x``: the layer's, else x's third axis when x is
        4-D (rows, cols, channels, batch), else 1."""
        if "channels" in layer or np.ndim(x) != 4:
            return self.channels(layer)
        return np.shape(x)[2]

    def record_channels(self, layer: dict, channels: int) -> None:
        """Record ``channels`` in the layer (only when more than one, as the toolbox has none)."""
        if channels > 1:
            layer["channels"] = channels

    def map_size(self, layer: dict) -> tuple[int, int] | None:
        """(rows, cols) of the maps of the last cnnff, or None before any."""
        return layer["a"][0].shape[:2] if "a" in layer else None

    def feed(self, layer: dict, x: np.ndarray) -> None:
        """``a`` from x (rows, cols, batch) or (rows, cols, channels, batch): read-only views,
        so that the maps an engine read in cnnff cannot change before cnnbp."""
        maps = [x] if x.ndim == 3 else [x[:, :, c] for c in range(x.shape[2])]
        layer["a"] = [_read_only(m) for m in maps]

    def spec(self, layer: dict) -> str:
        channels = self.get(layer, "channels")
        return "i" if channels == 1 else f"i{channels}"

    def from_spec(self, match: re.Match) -> dict | None:
        if match[1] and int(match[1]) == 0:
            return None
        channels = int(match[1]) if match[1] else 1
        return {"type": "i", "channels": channels} if channels > 1 else {"type": "i"}


def _read_only(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view
