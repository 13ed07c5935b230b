"""The toolbox's own gradient test, and proof that the check catches a wrong gradient."""

from __future__ import annotations

import numpy as np
import pytest

import dltoolbox as dlt

GRADCHECK_LAYERS = [
    {"type": "i"},
    {"type": "c", "outputmaps": 2, "kernelsize": 5},
    {"type": "s", "scale": 2},
    {"type": "c", "outputmaps": 2, "kernelsize": 5},
    {"type": "s", "scale": 2},
]


def gradcheck_net(engine: str | None = None):
    rng = dlt.OctaveRandom(0)
    x, y = rng.rand(28, 28, 5), rng.rand(10, 5)
    net = {"layers": [dict(layer) for layer in GRADCHECK_LAYERS]}
    if engine:
        net["engine"] = engine
    net = dlt.cnnsetup(net, x, y, rng)
    return dlt.cnnbp(dlt.cnnff(net, x), y), x, y


def test_toolbox_gradient_check_passes() -> None:
    net, x, y = gradcheck_net()
    assert dlt.cnnnumgradcheck(net, x, y) is net


@pytest.mark.parametrize(
    "corrupt, where",
    [
        (lambda n: n["dffb"].__setitem__((3, 0), n["dffb"][3, 0] + 1e-6), r"ffb\[3\]"),
        (lambda n: n["dffW"].__setitem__((0, 5), n["dffW"][0, 5] * 1.001), r"ffW\[0, 5\]"),
        (
            lambda n: n["layers"][3]["db"].__setitem__(1, n["layers"][3]["db"][1] + 1e-6),
            r'layers\[3\]\["b"\]\[1\]',
        ),
        (
            lambda n: n["layers"][1]["dk"][0][1].__setitem__((2, 4), 0.5),
            r'layers\[1\]\["k"\]\[0\]\[1\]',
        ),
    ],
)
def test_gradient_check_catches_a_wrong_gradient(corrupt, where) -> None:
    net, x, y = gradcheck_net()
    corrupt(net)
    with pytest.raises(dlt.GradientCheckError, match=where):
        dlt.cnnnumgradcheck(net, x, y)


def test_gradient_check_catches_a_wrong_backprop(monkeypatch) -> None:
    """A bug in the engine (a missing 1 / scale^2) is caught, not just a corrupted number."""
    from dltoolbox.engines.reference import ReferenceEngine

    wrong = ReferenceEngine.unpool
    monkeypatch.setattr(
        ReferenceEngine,
        "unpool",
        lambda self, d, a, s, *opt: [v * s**2 for v in wrong(self, d, a, s, *opt)],
    )
    net, x, y = gradcheck_net("reference")
    with pytest.raises(dlt.GradientCheckError, match="layers"):
        dlt.cnnnumgradcheck(net, x, y)


def test_gradient_check_leaves_the_net_unchanged() -> None:
    net, x, y = gradcheck_net()
    before = [k.copy() for k in net["layers"][1]["k"][0]], net["ffW"].copy(), net["L"]
    dlt.cnnnumgradcheck(net, x, y)
    for k, k0 in zip(net["layers"][1]["k"][0], before[0]):
        np.testing.assert_array_equal(k, k0)
    np.testing.assert_array_equal(net["ffW"], before[1])
    assert net["L"] == before[2]


def test_last_layer_conv_gradients() -> None:
    rng = dlt.OctaveRandom(12)
    x, y = rng.rand(12, 12, 3), rng.rand(4, 3)
    layers = [
        {"type": "i"},
        {"type": "c", "outputmaps": 2, "kernelsize": 3},
        {"type": "s", "scale": 2},
        {"type": "c", "outputmaps": 3, "kernelsize": 3},
    ]
    net = dlt.cnnsetup({"layers": layers}, x, y, rng)
    dlt.cnnnumgradcheck(dlt.cnnbp(dlt.cnnff(net, x), y), x, y)


def test_needs_gradients() -> None:
    net, x, y = gradcheck_net()
    del net["dffW"]
    with pytest.raises(ValueError, match="call cnnbp first"):
        dlt.cnnnumgradcheck(net, x, y)
