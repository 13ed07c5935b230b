"""Run docs/sklearn.md as tests/test_docs.py runs the other pages; it needs scikit-learn."""

from __future__ import annotations

import pytest
from test_docs import test_document_runs as run_page  # not a test here under this name

pytest.importorskip("sklearn", reason='scikit-learn is not installed: pip install ".[sklearn]"')


def test_sklearn_page_runs(tmp_path, monkeypatch):
    run_page("sklearn.md", tmp_path, monkeypatch)
