"""DeepLearnToolbox's tests/test_example_CNN.m in Python: a 6c-2s-12c-2s CNN on MNIST.

    python demos/test_example_CNN.py [--epochs N] [--out DIR] [--data PATH] [--subset N]

One epoch prints "test error: 0.1127", as the toolbox does in Octave (with 100 epochs about
1.2 %). Writes into --out (default out/test_example_CNN): rL.png (the smoothed loss),
kernels.png (the learned first-layer kernels), feature_maps.png (the maps of one test digit)
and cnn.mat (the trained net, which MATLAB or Octave can load). MNIST comes from --data,
$DLTOOLBOX_DATA, the cache ~/.cache/dltoolbox, a public mirror or npm (see dltoolbox.datasets).
"""

import argparse
from pathlib import Path

import numpy as np

import dltoolbox as dlt
from dltoolbox import plots
from dltoolbox.cli import subset_arg
from dltoolbox.datasets import load_mnist
from dltoolbox.netio import save_net


def test_example_CNN(epochs=1, out="out/test_example_CNN", data=None, subset=None):
    plots.require_matplotlib()
    train_x, train_y, test_x, test_y = load_mnist(data, subset=subset)

    # ex1 Train a 6c-2s-12c-2s Convolutional neural network
    rng = dlt.OctaveRandom(0)  # rand('state', 0)
    cnn = {
        "layers": [
            {"type": "i"},  # input layer
            {"type": "c", "outputmaps": 6, "kernelsize": 5},  # convolution layer
            {"type": "s", "scale": 2},  # sub sampling layer
            {"type": "c", "outputmaps": 12, "kernelsize": 5},  # convolution layer
            {"type": "s", "scale": 2},  # subsampling layer
        ]
    }
    opts = {"alpha": 1, "batchsize": 50, "numepochs": epochs, "progress": True}

    cnn = dlt.cnnsetup(cnn, train_x, train_y, rng)
    cnn = dlt.cnntrain(cnn, train_x, train_y, opts, rng)

    er, bad = dlt.cnntest(cnn, test_x, test_y)
    print(f"test error: {er:.4f}")

    # plot mean squared error, what the net learned, and keep the net for MATLAB/Octave
    out = Path(out)
    plots.plot_loss(cnn["rL"], out / "rL.png")
    plots.plot_kernels(cnn, out / "kernels.png")
    digit = int(np.argmax(test_y[:, 0]))
    plots.plot_feature_maps(cnn, test_x[:, :, 0], out / "feature_maps.png", label=digit)
    save_net(out / "cnn.mat", cnn, activations=False)
    print(f"wrote rL.png, kernels.png, feature_maps.png and cnn.mat into {out}")
    return er


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1, help="epochs (default 1)")
    parser.add_argument("--out", default="out/test_example_CNN", help="output folder")
    parser.add_argument("--data", help="mnist_uint8.mat or a folder of MNIST files")
    parser.add_argument("--subset", type=subset_arg, help="first N samples of each split")
    args = parser.parse_args()
    er = test_example_CNN(args.epochs, args.out, args.data, args.subset)
    if args.subset is None and er >= 0.12:
        raise SystemExit("Too big error")
