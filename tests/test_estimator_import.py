"""``import dltoolbox`` never needs scikit-learn; CNNClassifier says what to install without it.

These run whether or not scikit-learn is installed: a subprocess hides it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT

HIDE_SKLEARN = "import sys; sys.modules['sklearn'] = None  # import sklearn raises ImportError\n"


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", HIDE_SKLEARN + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


@pytest.mark.parametrize(
    "use",
    [
        "dltoolbox.CNNClassifier",
        "from dltoolbox import CNNClassifier",
        "import dltoolbox.estimator",
    ],
)
def test_without_sklearn_the_estimator_says_what_to_install(use):
    done = run(
        f"""
        import dltoolbox
        assert callable(dltoolbox.cnntrain)
        try:
            {use}
        except ImportError as err:
            print(err)
        else:
            raise SystemExit("no ImportError")
        """
    )
    assert done.returncode == 0, done.stderr
    assert 'pip install "dltoolbox[sklearn]"' in done.stdout


def test_other_missing_attributes_are_attribute_errors():
    done = run(
        """
        import dltoolbox
        assert not hasattr(dltoolbox, "CNNRegressor")
        try:
            dltoolbox.CNNRegressor
        except AttributeError as err:
            print(err)
        """
    )
    assert done.returncode == 0, done.stderr
    assert "module 'dltoolbox' has no attribute 'CNNRegressor'" in done.stdout
