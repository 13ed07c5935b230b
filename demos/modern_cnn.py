"""A small AlexNet/VGG-style CNN on MNIST: the modern recipe the tutorials end with.

    python demos/modern_cnn.py [--epochs N] [--dtype float32|float64] [--data PATH] [--subset N]

Two conv blocks, each two 3x3 ReLU convolutions with 'same' zero padding and a 2x2 max
pooling (16 then 32 maps), a fully connected ReLU layer of 128 units with dropout 0.5, and a
softmax output with cross-entropy: ``i-16c3rps-16c3rps-2m-32c3rps-32c3rps-2m-128frd0.5``.
Trained by mini-batch SGD with momentum (batch 50, alpha 0.02, momentum 0.9, alpha x 0.85 per
epoch) from rand('state', 0), which also draws the dropout masks. It prints the summary, then
the test error and seconds of each epoch.
"""

from _epochs import demo_main, train_spec

SPEC = "i-16c3rps-16c3rps-2m-32c3rps-32c3rps-2m-128frd0.5"
OPTS = {"alpha": 0.02, "momentum": 0.9, "lr_decay": 0.85, "batchsize": 50}


def modern_cnn(epochs=10, data=None, subset=None, dtype="float32", progress=True):
    """Train the net for ``epochs`` epochs; returns the test error after each epoch and the
    seconds each epoch's training took."""
    return train_spec(SPEC, OPTS, epochs, data, subset, dtype, progress)


if __name__ == "__main__":
    demo_main(modern_cnn, __doc__, 10)
