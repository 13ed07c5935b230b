"""cnnsummary against hand-computed values."""

from __future__ import annotations

import pytest

import dltoolbox as dlt
from dltoolbox.cnnsummary import cnnsummary

EXAMPLE = [
    {"type": "i"},
    {"type": "c", "outputmaps": 6, "kernelsize": 5},
    {"type": "s", "scale": 2},
    {"type": "c", "outputmaps": 12, "kernelsize": 5},
    {"type": "s", "scale": 2},
]


def test_toolbox_example_by_hand() -> None:
    s = cnnsummary({"layers": EXAMPLE}, input_size=(28, 28), classes=10)
    assert [r.shape for r in s.rows] == [
        (1, 28, 28),
        (6, 24, 24),
        (6, 12, 12),
        (12, 8, 8),
        (12, 4, 4),
        (10,),
    ]
    # (5*5*1 + 1)*6 = 156, (5*5*6 + 1)*12 = 1812, (192 + 1)*10 = 1930
    assert [r.params for r in s.rows] == [0, 156, 0, 1812, 0, 1930]
    assert s.total_params == 3898
    # 25*6*24*24 = 86400; 4*6*12*12 = 3456; 150*12*8*8 = 115200; 4*12*4*4 = 768; 192*10 = 1920
    assert [r.macs for r in s.rows] == [0, 86400, 3456, 115200, 768, 1920]
    assert s.total_macs == 207744
    # receptive fields: 5, 6, 6 + 4*2 = 14, 14 + 1*2 = 16, then the whole input
    assert [r.receptive_field for r in s.rows] == [
        (1, 1),
        (5, 5),
        (6, 6),
        (14, 14),
        (16, 16),
        (28, 28),
    ]
    text = str(s)
    assert "3,898" in text and "total" in text


def test_parameter_count_equals_the_set_up_net() -> None:
    rng = dlt.OctaveRandom(0)
    x, y = rng.rand(22, 18, 2), rng.rand(4, 2)
    layers = [
        {"type": "i"},
        {"type": "c", "outputmaps": 3, "kernelsize": 3},
        {"type": "s", "scale": 2},
        {"type": "c", "outputmaps": 4, "kernelsize": 3},
        {"type": "s", "scale": 2},
    ]
    net = dlt.cnnsetup({"layers": layers}, x, y, rng)
    counted = (
        net["ffW"].size
        + net["ffb"].size
        + sum(
            sum(k.size for row in L["k"] for k in row) + len(L["b"])
            for L in net["layers"]
            if L["type"] == "c"
        )
    )
    dlt.cnnff(net, x)
    s = cnnsummary(net)  # input size and classes from the net itself
    assert s.total_params == counted
    assert s.rows[-2].shape == (4, 4, 3)


def test_needs_sizes() -> None:
    with pytest.raises(ValueError, match="input_size: required"):
        cnnsummary({"layers": EXAMPLE}, classes=10)
    with pytest.raises(ValueError, match="classes: required"):
        cnnsummary({"layers": EXAMPLE}, input_size=(28, 28))
    with pytest.raises(ValueError, match="Layer 2 size must be integer"):
        cnnsummary({"layers": EXAMPLE}, input_size=(29, 29), classes=10)
