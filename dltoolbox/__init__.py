"""dltoolbox: the CNN of DeepLearnToolbox (Rasmus Berg Palm, BSD-2) in Python, number for number.

The functions mirror the toolbox's ``CNN/`` and ``util/`` files; the net is one plain dict with
MATLAB's shapes: maps (rows, cols, batch), labels (classes, batch), 0-based indices. Options
beyond the toolbox (multi-channel input, max pooling, relu/tanh, softmax output, momentum, weight
decay, learning-rate decay) are off by default; see docs/options.md.
"""

from .cnnapplygrads import cnnapplygrads
from .cnnbp import cnnbp
from .cnnff import cnnff
from .cnnnumgradcheck import GradientCheckError, cnnnumgradcheck
from .cnnpredict import cnnpredict
from .cnnsetup import cnnsetup
from .cnnsummary import cnnsummary
from .cnntest import cnntest
from .cnntrain import NonFiniteLossError, cnntrain
from .errors import (
    BadFileError,
    CorruptDataError,
    DltoolboxError,
    InputError,
    InputTypeError,
    MissingFileError,
    NetFieldError,
    NetFileError,
    PathError,
)
from .layers.conv import LENET5_C3
from .matlab_random import MatlabRandom
from .netio import compare_nets, load_net, save_net
from .octave_random import OctaveRandom
from .util import expand, flipall, rot180, sigm

__version__ = "0.1.0"


def __getattr__(name: str):
    """``CNNClassifier``, imported on first use: ``import dltoolbox`` never needs scikit-learn
    (without it, the attribute raises an ImportError saying what to install)."""
    if name == "CNNClassifier":
        from .estimator import CNNClassifier

        return CNNClassifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BadFileError",
    "CorruptDataError",
    "DltoolboxError",
    "GradientCheckError",
    "LENET5_C3",
    "InputError",
    "InputTypeError",
    "MatlabRandom",
    "MissingFileError",
    "NetFieldError",
    "NetFileError",
    "NonFiniteLossError",
    "OctaveRandom",
    "PathError",
    "cnnapplygrads",
    "cnnbp",
    "cnnff",
    "cnnnumgradcheck",
    "cnnpredict",
    "cnnsetup",
    "cnnsummary",
    "cnntest",
    "cnntrain",
    "compare_nets",
    "expand",
    "flipall",
    "load_net",
    "rot180",
    "save_net",
    "sigm",
]
