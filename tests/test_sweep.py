"""demos/sweep.py: the same GridSearchCV scores serial, on 2 loky workers and on a 2-worker Dask
LocalCluster (loopback only, closed at the end)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, SHARED, need

for module in ("sklearn", "joblib", "distributed"):
    pytest.importorskip(module, reason=f'{module} is not installed: pip install ".[sweep]"')

SCRIPT = ROOT / "demos" / "sweep.py"
GRID = {"layers": ["i-2c5-2s"], "alpha": [0.1, 0.3], "batchsize": [10, 50]}
BASE = {"output": "softmax", "numepochs": 1, "random_state": 0}


@pytest.fixture(scope="module")
def sweep():
    spec = importlib.util.spec_from_file_location("sweep_demo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data() -> str:
    return str(need(SHARED / "data"))


def test_dask_scores_equal_the_local_scores(sweep, data):
    from dask.distributed import get_task_stream

    X, y = sweep.mnist_samples(data, 300)
    assert X.shape == (300, 28, 28) and set(y) == set(range(10))
    serial, _ = sweep.local_sweep(X, y, n_jobs=1, grid=GRID, base=BASE)
    local, _ = sweep.local_sweep(X, y, n_jobs=2, grid=GRID, base=BASE)
    with sweep.dask_client(workers=2) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        assert all(w.startswith("tcp://127.0.0.1:") for w in client.scheduler_info()["workers"])
        with get_task_stream(client) as tasks:
            dask, _ = sweep.dask_sweep(X, y, client, grid=GRID, base=BASE)
    # the 12 fits ran on the cluster, in tasks of one or more (joblib batches quick calls)
    calls = [re.search(r"_fit_and_score_(\d+)_calls", str(t["key"])) for t in tasks.data]
    assert tasks.data and all(calls), [t["key"] for t in tasks.data]
    assert sum(int(c[1]) for c in calls) == 4 * 3
    scores = sweep.split_scores(serial)
    assert scores.shape == (4, 3) and len(set(scores.ravel())) > 1
    assert np.array_equal(sweep.split_scores(local), scores)
    assert np.array_equal(sweep.split_scores(dask), scores)
    assert list(dask.cv_results_["params"]) == list(serial.cv_results_["params"])


def test_the_script_prints_the_ranked_grid(data):
    argv = ["--serial", "--data", data, "--subset", "120", "--cv", "2"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *argv], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("serial (n_jobs=1): 12 candidates x 2 folds, ")
    ranks = [int(line.split()[0]) for line in lines[1:13]]
    assert ranks == sorted(ranks) and ranks[0] == 1
    assert all("layers='i-6c5" in line for line in lines[1:13])
