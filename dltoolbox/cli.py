"""The ``dltoolbox`` command (also ``python -m dltoolbox``): demo, train, test, compare, summary,
predict.

Exit status: 0 success; 1 ``compare`` found a difference above the tolerance (and nothing
else); 2 bad usage or input: a wrong option, a missing, damaged or foreign file, a net with
mis-shaped or non-finite fields, an output folder that cannot be written, a diverged run (one
line on stderr says what is wrong and what to do, never a traceback); 130 interrupted. See
docs/errors.md.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from . import __version__
from .cnnff import prepare
from .cnnsetup import cnnsetup
from .cnnsummary import cnnsummary
from .cnntest import cnntest
from .cnntrain import OPTIONS, NonFiniteLossError, cnntrain
from .constraints import NON_NEGATIVE_INT, POSITIVE_INT, POSITIVE_REAL, Constraint, check
from .datasets import SIDE, load_mnist
from .errors import DltoolboxError, InputError
from .fileutil import check_folder
from .images import run_predict
from .layers import INPUT
from .matlab_random import RNG_CHOICES, make_rng
from .netio import compare_nets, comparison_table, load_net, save_net
from .spec import parse_spec, spec_forms

EXAMPLE_SPEC = "i-6c5-2s-12c5-2s"
DEFAULT_TOL = 1e-12

_DATA_HELP = (
    "a toolbox mnist_uint8.mat, or a folder holding it or the four MNIST IDX files "
    "(default: $DLTOOLBOX_DATA, else the cache ~/.cache/dltoolbox, else a download)"
)
_SUBSET_HELP = "use only the first N samples of each split, or NTRAIN,NTEST"


def subset_arg(text: str) -> int | tuple[int, int]:
    """``"N"`` -> N, ``"NTRAIN,NTEST"`` -> (NTRAIN, NTEST): the ``subset`` of :func:`load_mnist`."""
    try:
        parts = [int(p) for p in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"expected N or NTRAIN,NTEST (positive), got {text!r}")
    return parts[0] if len(parts) == 1 else (parts[0], parts[1])


def cli_type(kind: type, constraint: Constraint) -> Callable[[str], Any]:
    """An argparse ``type=`` for values of ``constraint`` (see :mod:`dltoolbox.constraints`).

    Parameters
    ----------
    kind : type
        ``int`` or ``float``: what parses the text.
    constraint : Constraint
        What the value must be, as the API checks it (such as ``cnntrain.OPTIONS["alpha"]``),
        so that the command line allows exactly what the API allows.

    Returns
    -------
    callable
        Text -> the checked value; else an ``argparse.ArgumentTypeError`` saying ``expected
        <the constraint>, got <the text>`` (argparse names the option).
    """

    def convert(text: str) -> Any:
        try:
            return check(kind(text), constraint, text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {constraint}, got {text!r}") from None

    convert.__name__ = kind.__name__
    return convert


def _progress_bar_if_installed(wanted: bool) -> bool:
    """Whether cnntrain gets ``progress=True``: ``wanted`` and tqdm installed (else a note
    says how to install it)."""
    if not wanted:
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        print('(no progress bar: pip install "dltoolbox[demo]" for tqdm)', file=sys.stderr)
        return False
    return True


def _plots():
    from . import plots

    plots.require_matplotlib()
    return plots


def _train(args: argparse.Namespace) -> int:
    """Train a net on MNIST, test it, save it and draw its figures into ``args.out``."""
    layers = parse_spec(args.spec)
    plots = None if args.no_plots else _plots()  # fail before training, not after
    out = check_folder(args.out, "--out")  # ... and so for the output folder
    rng = make_rng(args.rng, args.seed)  # rand('state', seed) of Octave, or of MATLAB
    dtype = np.float32 if args.dtype == "float32" else np.float64
    train_x, train_y, test_x, test_y = load_mnist(args.data, dtype=dtype, subset=args.subset)
    epochs = "epoch" if args.epochs == 1 else "epochs"
    print(
        f"{args.spec}: {train_x.shape[2]} training, {test_x.shape[2]} test images; "
        f"alpha {args.alpha:g}, batch {args.batchsize}, {args.epochs} {epochs}, seed {args.seed}"
        + ("" if args.rng == "octave" else f" ({args.rng} stream)")
    )
    net = {"layers": layers}
    if args.output != "sigm":
        net["output"] = args.output
    net = cnnsetup(net, train_x, train_y, rng)
    opts = {
        "alpha": args.alpha,
        "batchsize": args.batchsize,
        "numepochs": args.epochs,
        "progress": _progress_bar_if_installed(not args.no_progress),
    }
    for key in ("momentum", "weight_decay", "lr_decay", "last_batch"):
        if getattr(args, key) is not None:
            opts[key] = getattr(args, key)
    start = time.perf_counter()
    try:
        net = cnntrain(net, train_x, train_y, opts, rng)
    except InputError as exc:  # an option's message, in the command line's words
        raise InputError(re.sub(r'opts\["(\w+)"\]', _flag, str(exc))) from None
    except NonFiniteLossError as exc:
        raise InputError(
            f"training diverged: the loss became {exc.loss} at epoch {exc.epoch + 1}, batch "
            f"{exc.batch + 1}; try a smaller --alpha (it is {exc.alpha:g}; e.g. "
            f"{exc.alpha / 10:g}). Nothing was written."
        ) from None
    print(f"trained in {time.perf_counter() - start:.1f} s")
    er, bad = cnntest(net, test_x, test_y)
    print(f"test error: {er:.4f}")
    print(f"({len(bad)} of {test_x.shape[2]} test images misclassified)")
    out.mkdir(parents=True, exist_ok=True)
    written = [save_net(out / "cnn.mat", net, activations=False)]
    if plots is not None:
        if len(net.get("rL", ())):
            written.append(plots.plot_loss(net["rL"], out / "rL.png"))
        if any(layer["type"] == "c" for layer in net["layers"]):
            written.append(plots.plot_kernels(net, out / "kernels.png"))
        digit = int(np.argmax(test_y[:, 0]))
        written.append(
            plots.plot_feature_maps(net, test_x[:, :, 0], out / "feature_maps.png", label=digit)
        )
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _flag(match: re.Match) -> str:
    """The command-line flag of cnntrain's ``opts[KEY]``."""
    key = {"numepochs": "epochs"}.get(match[1], match[1])
    return "--" + key.replace("_", "-")


def _test(args: argparse.Namespace) -> int:
    net = load_net(args.net)
    prepare(net, np.zeros((SIDE, SIDE, 1)))  # the net fits MNIST: known before loading it
    _, _, test_x, test_y = load_mnist(args.data, subset=args.subset)
    er, bad = cnntest(net, test_x, test_y)
    print(f"test error: {er:.4f}")
    print(f"({len(bad)} of {test_x.shape[2]} test images misclassified)")
    return 0


def _fails(row: dict, tol: float) -> bool:
    rel = row["max_rel"]
    if rel is None:  # not compared: a field on one side only is fine, other shapes are not
        return not row.get("note", "").startswith("only in")
    return math.isnan(rel) or rel > tol


def _compare(args: argparse.Namespace) -> int:
    rows = compare_nets(args.a, args.b)
    print(comparison_table(rows, tol=args.tol))
    failed = [row["field"] for row in rows if _fails(row, args.tol)]
    if failed:
        print(f"above tolerance {args.tol:g} or not comparable: {', '.join(failed)}")
        return 1
    print(f"every compared field within max rel {args.tol:g}")
    return 0


def _size(text: str) -> tuple[int, int]:
    """``"28x28"`` (or ``"28"``) -> (28, 28): rows x cols of the input maps."""
    parts = text.lower().split("x")
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected ROWSxCOLS such as 28x28, got {text!r}")
    return int(parts[0]), int(parts[1])


def _summary(args: argparse.Namespace) -> int:
    net = {"layers": parse_spec(args.spec), "output": args.output}
    print(cnnsummary(net, args.input, args.classes, args.channels))
    return 0


def _training_options(p: argparse.ArgumentParser, out: str) -> None:
    p.add_argument("--data", metavar="PATH", help=_DATA_HELP)
    p.add_argument("--subset", type=subset_arg, metavar="N", help=_SUBSET_HELP)
    p.add_argument("--out", default=out, metavar="DIR", help=f"output folder (default: {out})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plots", action="store_true", help="write no figures (no matplotlib)")
    _rng_and_last_batch_options(p)


def _rng_and_last_batch_options(p: argparse.ArgumentParser) -> None:
    """``--rng`` (whose rand('state', seed) stream) and ``--last-batch`` of demo and train."""
    p.add_argument(
        "--rng",
        choices=RNG_CHOICES,
        default="octave",
        help="the random stream: octave (GNU Octave's rand('state', seed), the default), "
        "matlab (MATLAB's rand('state', seed), its legacy v5uniform generator) or "
        "matlab-twister (MATLAB's rng(seed))",
    )
    p.add_argument(
        "--last-batch",
        choices=("drop", "keep"),
        default=None,
        help="when --batchsize does not divide the training set: drop the remainder of each "
        "epoch's permutation, or keep it as a smaller last batch (default: an error, as the "
        "toolbox)",
    )


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="the toolbox's test_example_CNN (prints test error: 0.1127 after 1 epoch)",
        description="DeepLearnToolbox's test_example_CNN: i-6c5-2s-12c5-2s on MNIST, seed 0 "
        "(rand('state', 0)), alpha 1, batch 50. After 1 epoch it prints 'test error: 0.1127' "
        "as the toolbox does in Octave (with --rng matlab: the figure for MATLAB, whose "
        "rand('state', 0) is another stream). Writes cnn.mat (loadable by MATLAB/Octave), rL.png "
        "(the smoothed loss), kernels.png and feature_maps.png into --out.",
    )
    _epochs_option(p)
    _training_options(p, "out/test_example_CNN")
    p.set_defaults(
        run=_train,
        spec=EXAMPLE_SPEC,
        alpha=1.0,
        batchsize=50,
        seed=0,
        dtype="float64",
        output="sigm",
        momentum=None,
        weight_decay=None,
        lr_decay=None,
    )


def _epochs_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--epochs",
        type=cli_type(int, OPTIONS["numepochs"]),
        default=1,
        metavar="N",
        help="epochs (default: 1)",
    )


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a net given as a layer spec on MNIST, test it and save it",
        description="Train a net on MNIST with cnnsetup/cnntrain, print its test error, and "
        "write cnn.mat, rL.png, kernels.png and feature_maps.png into --out.",
    )
    p.add_argument(
        "spec",
        nargs="?",
        default=EXAMPLE_SPEC,
        help=f"layers: {spec_forms()} (default: {EXAMPLE_SPEC})",
    )
    p.add_argument(
        "--output", choices=("sigm", "softmax"), default="sigm", help="output function (sigm)"
    )
    for flag, help_text in (
        ("--momentum", "momentum in [0, 1) (none)"),
        ("--weight-decay", "L2 weight decay (none)"),
        ("--lr-decay", "alpha factor per epoch, in (0, 1] (none)"),
    ):
        key = flag[2:].replace("-", "_")
        p.add_argument(flag, type=cli_type(float, OPTIONS[key]), default=None, help=help_text)
    p.add_argument(
        "--alpha",
        type=cli_type(float, OPTIONS["alpha"]),
        default=1.0,
        help="learning rate (default 1)",
    )
    p.add_argument(
        "--batchsize",
        type=cli_type(int, OPTIONS["batchsize"]),
        default=50,
        help="samples per batch; must divide the training set size unless --last-batch is "
        "given (default 50)",
    )
    _epochs_option(p)
    p.add_argument(
        "--seed",
        type=cli_type(int, NON_NEGATIVE_INT),
        default=0,
        help="rand('state', SEED) for setup and order (0)",
    )
    p.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default="float64",
        help="dtype of the loaded images (default float64, the toolbox's double)",
    )
    _training_options(p, "out/train")
    p.set_defaults(run=_train)


def _add_test(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "test",
        help="the MNIST test error of a saved net",
        description="Load a net (.mat from save_net, MATLAB or Octave; FILE.mat:VARIABLE; .npz) "
        "and print its error on the MNIST test set (the toolbox's transposed image layout).",
    )
    p.add_argument("net", help="FILE.mat, FILE.mat:VARIABLE or FILE.npz")
    p.add_argument("--data", metavar="PATH", help=_DATA_HELP)
    p.add_argument("--subset", type=subset_arg, metavar="N", help=_SUBSET_HELP)
    p.set_defaults(run=_test)


def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="per-field differences of two nets (ours beside MATLAB/Octave's)",
        description="Print field, shape, max abs and max rel (max abs / max(1, max |B|)) "
        "for every field of two nets, B being the reference. Exit status 1 when a compared "
        "field's max rel is above --tol or NaN, or when the nets' layers or a field's shapes "
        "differ; fields present on one side only are listed but do not fail.",
    )
    p.add_argument("a", metavar="A", help="FILE.mat, FILE.mat:VARIABLE or FILE.npz")
    p.add_argument("b", metavar="B", help="the reference, in the same forms")
    p.add_argument(
        "--tol",
        type=cli_type(float, POSITIVE_REAL),
        default=DEFAULT_TOL,
        help=f"largest max rel allowed (default {DEFAULT_TOL:g})",
    )
    p.set_defaults(run=_compare)


def _add_summary(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "summary",
        help="per-layer output shapes, parameters, multiply-adds and receptive fields of a spec",
        description="Print cnnsummary's table for a layer spec: per layer the output shape "
        "(maps x rows x cols), trainable parameters, multiply-adds per sample and the receptive "
        f"field, with totals. Spec tokens: {spec_forms()}.",
    )
    p.add_argument("spec", help="layers such as 6c5-2s-12c5-2s or i3-8c5r-2m-16c5r-2m")
    p.add_argument(
        "--input", type=_size, default=(28, 28), metavar="ROWSxCOLS", help="map size (28x28)"
    )
    p.add_argument(
        "--classes",
        type=cli_type(int, POSITIVE_INT),
        default=10,
        help="number of outputs (default 10)",
    )
    p.add_argument(
        "--channels",
        type=cli_type(int, INPUT.optional["channels"][0]),
        default=None,
        help="input channels (default: from the spec's i<channels>, else 1)",
    )
    p.add_argument(
        "--output", choices=("sigm", "softmax"), default="sigm", help="output function (sigm)"
    )
    p.set_defaults(run=_summary)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``dltoolbox`` command: one ``_add_<command>`` per
    subcommand."""
    parser = argparse.ArgumentParser(
        prog="dltoolbox",
        description="The CNN of DeepLearnToolbox in Python: run the toolbox's MNIST example, "
        "train and test nets, and compare nets with MATLAB/Octave results.",
        epilog="Run 'dltoolbox COMMAND --help' for a command's options. Exit status: 0 done, "
        "1 compare found a difference above --tol, 2 bad usage or input.",
    )
    parser.add_argument("--version", action="version", version=f"dltoolbox {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (_add_demo, _add_train, _add_test, _add_compare, _add_summary, _predict_parser):
        add(sub)
    return parser


def _predict_parser(sub: argparse._SubParsersAction) -> None:
    """The ``predict`` subcommand (run by :func:`dltoolbox.images.run_predict`)."""
    p = sub.add_parser(
        "predict",
        help="the labels a saved net gives to image files (PNG, JPEG, ...; needs Pillow)",
        description="Classify ordinary image files with a saved net: each image is made what "
        "the net was trained on (grey, or RGB for a 3-channel net; resized to the net's input "
        "size; inverted when its background is light, so a dark digit on paper becomes "
        "MNIST's white digit on black; scaled to [0, 1]; transposed as the toolbox's MNIST "
        "unless --upright). Prints per file the 0-based label and the top outputs. Needs "
        'Pillow: pip install "dltoolbox[images]".',
    )
    p.add_argument("net", help="FILE.mat, FILE.mat:VARIABLE or FILE.npz")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files, or folders of them")
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.add_argument(
        "--top",
        type=cli_type(int, POSITIVE_INT),
        default=3,
        help="outputs shown per image (default 3)",
    )
    p.add_argument(
        "--upright",
        action="store_true",
        help="do not transpose (for nets trained on load_mnist(upright=True) images)",
    )
    p.add_argument(
        "--invert",
        choices=("auto", "yes", "no"),
        default="auto",
        help="auto (default): invert images whose border is light; yes; no",
    )
    p.add_argument(
        "--input",
        type=_size,
        default=None,
        metavar="ROWSxCOLS",
        help="the net's input size (default: from the net, assuming square maps)",
    )
    p.set_defaults(run=run_predict)


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.run(args)
    except (DltoolboxError, ValueError, TypeError, OSError, ImportError) as exc:
        # the user's mistake (or a diverged run, NonFiniteLossError): one line, no traceback
        print(f"dltoolbox {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dltoolbox {args.command}: interrupted", file=sys.stderr)
        return 130
