"""What the demos share: training with the test error and the seconds of every epoch."""

from __future__ import annotations

import argparse
import time

import numpy as np

import dltoolbox as dlt
from dltoolbox.datasets import load_mnist
from dltoolbox.spec import parse_spec


def train_spec(spec, opts, epochs, data=None, subset=None, dtype="float64", progress=True,
               prepare=None, engine="fast"):  # fmt: skip
    """MNIST (``data``, ``subset``: see :func:`load_mnist`) in ``dtype``, its images through
    ``prepare`` when given; the net of ``spec`` with a softmax output set up from
    rand('state', 0) and trained with ``opts`` for ``epochs`` epochs (its summary printed
    first); returns the test errors and seconds of :func:`train_and_report`."""
    train_x, train_y, test_x, test_y = load_mnist(data, dtype=np.dtype(dtype), subset=subset)
    if prepare is not None:
        train_x, test_x = prepare(train_x), prepare(test_x)
    rng = dlt.OctaveRandom(0)  # rand('state', 0)
    cnn = {"layers": parse_spec(spec), "output": "softmax", "engine": engine}
    cnn = dlt.cnnsetup(cnn, train_x, train_y, rng)
    print(dlt.cnnsummary(cnn, train_x.shape[:2]))
    data = (train_x, train_y, test_x, test_y)
    return train_and_report(cnn, data, opts, rng, epochs, progress)


def train_and_report(cnn, data, opts, rng, epochs, progress=True):
    """``cnntrain`` for ``epochs`` epochs on ``data`` (train_x, train_y, test_x, test_y),
    printing and returning the test error after each epoch and the seconds each epoch's
    training took (testing not included)."""
    train_x, train_y, test_x, test_y = data
    if progress:
        from tqdm import tqdm  # pip install "dltoolbox[demo]"
    errors, seconds = [], []
    state = {"bar": None, "start": time.perf_counter()}

    def after_batch(epoch, batch, numbatches, net):
        if progress and batch == 0:
            state["bar"] = tqdm(total=numbatches, desc=f"epoch {epoch + 1}/{epochs}", unit="batch")
        if state["bar"] is not None:
            state["bar"].set_postfix_str(f"loss {net['rL'][-1]:.4f}", refresh=False)
            state["bar"].update(1)
        if batch + 1 == numbatches:  # end of an epoch: test the net as it is now
            seconds.append(time.perf_counter() - state["start"])
            if state["bar"] is not None:
                state["bar"].close()
            errors.append(dlt.cnntest(net, test_x, test_y)[0])
            print(f"epoch {epoch + 1}: test error {errors[-1]:.4f} ({seconds[-1]:.1f} s)")
            state["start"] = time.perf_counter()

    dlt.cnntrain(cnn, train_x, train_y, dict(opts, numepochs=epochs, progress=after_batch), rng)
    return errors, seconds


def demo_main(demo, doc: str, epochs: int) -> None:
    """The command line of a tutorial demo: ``demo(epochs, data, subset, dtype, progress)``."""
    from dltoolbox.cli import subset_arg

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=epochs, help=f"epochs (default {epochs})")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--data", help="mnist_uint8.mat or a folder of MNIST files")
    parser.add_argument("--subset", type=subset_arg, help="first N samples of each split")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args()
    demo(args.epochs, args.data, args.subset, args.dtype, not args.no_progress)
