"""Shared set-up of the benchmarks: one BLAS thread, the MNIST data, the toolbox example net.

Import this module before numpy anywhere else: it pins the BLAS libraries to one thread.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread on each side: multi-threaded BLAS collapses under load

import platform  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from dltoolbox import datasets  # noqa: E402
from dltoolbox.engines import blas  # noqa: E402
from dltoolbox.spec import parse_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DLTOOLBOX_SHARED", ROOT.parent / "shared"))
#: Seconds per MNIST epoch of the original toolbox in GNU Octave 7.3 on this machine kind.
OCTAVE_EPOCH_S = 62.0


def example_layers() -> list[dict]:
    """The toolbox example net i-6c5-2s-12c5-2s."""
    return parse_spec("i-6c5-2s-12c5-2s")


def load_mnist(path: str | None, dtype=np.float64):
    """(train_x, train_y, test_x, test_y) as the toolbox builds them, in ``dtype``.

    ``path``: anything :func:`dltoolbox.datasets.load_mnist` takes; without one,
    ``$DLTOOLBOX_SHARED/data`` (default ``../shared/data``) if present, else the usual search.
    """
    if path is None and (SHARED / "data").exists():
        path = str(SHARED / "data")
    return tuple(datasets.load_mnist(path, dtype=dtype, progress=False))


def machine(threads: str = "one BLAS thread") -> str:
    """One line on where the numbers come from: CPU, core count, load, BLAS and versions;
    ``threads`` ends it (what the benchmark does with the threads)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    info = blas.numpy_blas() or {}
    numpy_blas = f"{info.get('internal_api', '?')} {info.get('architecture', '')}".strip()
    return (
        f"{cpu}, {os.cpu_count()} cores, load average {load}; numpy {np.__version__} "
        f"({numpy_blas}); fast engine products: {blas.backend()}; {threads}"
    )
