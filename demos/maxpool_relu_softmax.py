"""Beyond the toolbox: a max-pool + ReLU + softmax CNN on MNIST, trained with momentum.

    python demos/maxpool_relu_softmax.py [--epochs N] [--data PATH] [--subset N] [--engine E]

The net is i-8c5r-2m-16c5r-2m (8 and 16 ReLU maps of 5x5 kernels, each followed by 2x2 max
pooling) with a softmax output and cross-entropy loss, trained by mini-batch SGD (batch 50,
alpha 0.01, momentum 0.9, learning rate x 0.8 per epoch) from rand('state', 0). It prints the
test error and the seconds of each epoch; see the README's "Beyond the toolbox" for the figures.
MNIST comes from --data, $DLTOOLBOX_DATA, the cache ~/.cache/dltoolbox, a public mirror or npm
(see dltoolbox.datasets).
"""

import argparse

from _epochs import train_spec

from dltoolbox.cli import subset_arg

SPEC = "i-8c5r-2m-16c5r-2m"
OPTS = {"alpha": 0.01, "momentum": 0.9, "lr_decay": 0.8, "batchsize": 50}


def maxpool_relu_softmax(epochs=5, data=None, subset=None, engine="fast", progress=True):
    """Train for ``epochs`` epochs; returns the test error after each epoch and the seconds
    each epoch's training took (testing not included)."""
    return train_spec(SPEC, OPTS, epochs, data, subset, "float64", progress, engine=engine)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs (default 5)")
    parser.add_argument("--data", help="mnist_uint8.mat or a folder of MNIST files")
    parser.add_argument("--subset", type=subset_arg, help="first N samples of each split")
    parser.add_argument("--engine", default="fast", choices=("fast", "reference"))
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args()
    maxpool_relu_softmax(args.epochs, args.data, args.subset, args.engine, not args.no_progress)
