"""Shared fixtures: where ../shared is, and skipping cleanly when it is not there.

``DLTOOLBOX_SHARED`` overrides the default location (``../shared`` beside the checkout).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DLTOOLBOX_SHARED", ROOT.parent / "shared"))
REFERENCE = SHARED / "reference"


def need(path: Path) -> Path:
    """Skip the calling test with a clear reason when ``path`` is missing."""
    if not path.exists():
        pytest.skip(
            f"{path} not found: these tests need the shared reference material "
            "(set DLTOOLBOX_SHARED to the folder holding data/ and reference/)"
        )
    return path


@pytest.fixture
def reference_dir() -> Path:
    return need(REFERENCE)


@pytest.fixture
def shared_dir() -> Path:
    return need(SHARED)


@pytest.fixture
def isolated_data(monkeypatch, tmp_path) -> None:
    """No $DLTOOLBOX_DATA and a cache inside tmp_path: no test reads or writes the user's."""
    monkeypatch.delenv("DLTOOLBOX_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
