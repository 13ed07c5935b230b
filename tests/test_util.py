"""sigm, expand, flipall, rot180 against their definitions."""

from __future__ import annotations

import numpy as np
import pytest

import dltoolbox as dlt


def test_sigm() -> None:
    p = np.array([-800.0, -1.0, 0.0, 2.0, 800.0])
    with np.errstate(over="ignore"):
        s = dlt.sigm(p)
    np.testing.assert_allclose(s, [0.0, 1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-2)), 1.0])


def test_expand_matches_indexing_definition() -> None:
    rng = np.random.default_rng(0)
    a = rng.random((3, 2, 4))
    b = dlt.expand(a, [2, 3, 1])
    assert b.shape == (6, 6, 4)
    for r in range(6):
        for c in range(6):
            np.testing.assert_array_equal(b[r, c], a[r // 2, c // 3])


def test_expand_toolbox_example() -> None:
    b = dlt.expand(np.array([[1, 2], [3, 4]]), [6, 5])
    assert b.shape == (12, 10)
    assert (b[:6, :5] == 1).all() and (b[6:, 5:] == 4).all()


@pytest.mark.parametrize("s", [[2, 2], [2, 2, 1, 1], [2, 1.5, 1], [-1, 1, 1]])
def test_expand_bad_sizes(s) -> None:
    with pytest.raises(ValueError, match="s: expected"):
        dlt.expand(np.zeros((2, 2, 2)), s)


def test_flipall_flips_every_axis_including_batch() -> None:
    a = np.arange(24).reshape(2, 3, 4)
    f = dlt.flipall(a)
    assert f[0, 0, 0] == a[1, 2, 3] and f[1, 2, 3] == a[0, 0, 0]
    np.testing.assert_array_equal(f, a[::-1, ::-1, ::-1])


def test_rot180_keeps_the_batch_order() -> None:
    a = np.arange(24).reshape(3, 2, 4)
    np.testing.assert_array_equal(dlt.rot180(a), a[::-1, ::-1, :])
    np.testing.assert_array_equal(dlt.rot180(dlt.rot180(a)), a)
