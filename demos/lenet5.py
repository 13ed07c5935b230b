"""LeNet-5 as LeCun et al. (1998) built it, on MNIST: the net the CNN tutorials teach.

    python demos/lenet5.py [--epochs N] [--dtype float32|float64] [--data PATH] [--subset N]

The input and the layers of the paper (sections II.A-B and III.A), as dltoolbox layers:

- the 28x28 digits scaled so that the background is -0.1 and the ink 1.175 (mean about 0,
  variance about 1, as the paper does) and padded by 2 with the background to 32x32;
- C1: 6 maps of 5x5 kernels (28x28); S2: 2x2 mean pooling (14x14);
- C3: 16 maps of 5x5 kernels, each reading the input maps of the paper's connection table
  (``dltoolbox.LENET5_C3``: 60 of the 96 pairs, 1,516 parameters); S4: 2x2 mean pooling (5x5);
- C5: 120 maps of 5x5 kernels (1x1: fully connected to S4, as in the paper);
- F6: 84 units; then 10 outputs.

Activations are tanh (the paper's scaled tanh, without its 1.7159 scale). Where this differs
from the paper: its subsampling layers have a trainable coefficient and bias per map (here a
plain mean, as the toolbox's), and its output layer is Euclidean RBF units with a special
loss (here softmax with cross-entropy); training is mini-batch SGD with momentum (batch 50,
alpha 0.05, momentum 0.9, alpha x 0.8 per epoch) instead of the paper's stochastic diagonal
Levenberg-Marquardt. It prints the summary, then the test error and seconds of each epoch.
"""

import numpy as np
from _epochs import demo_main, train_spec

SPEC = "i-6c5t-2s-16c5t@lenet5-2s-120c5t-84ft"
#: The paper's input levels: background (white paper) and ink.
BACKGROUND, INK = -0.1, 1.175


def paper_input(x: np.ndarray) -> np.ndarray:
    """MNIST maps (28, 28, n) in [0, 1] as the paper feeds them: (32, 32, n), background -0.1,
    ink 1.175, the border of 2 pixels background."""
    scaled = x * x.dtype.type(INK - BACKGROUND) + x.dtype.type(BACKGROUND)
    return np.pad(scaled, ((2, 2), (2, 2), (0, 0)), constant_values=BACKGROUND)


OPTS = {"alpha": 0.05, "momentum": 0.9, "lr_decay": 0.8, "batchsize": 50}


def lenet5(epochs=10, data=None, subset=None, dtype="float32", progress=True):
    """Train LeNet-5 for ``epochs`` epochs from rand('state', 0); returns the test error after
    each epoch and the seconds each epoch's training took."""
    return train_spec(SPEC, OPTS, epochs, data, subset, dtype, progress, paper_input)


if __name__ == "__main__":
    demo_main(lenet5, __doc__, 10)
