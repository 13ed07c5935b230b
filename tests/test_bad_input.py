"""The bad-input table: every public function, file reader and command given what a user may get
wrong. Each case asserts the error type (of the DltoolboxError hierarchy, docs/errors.md), that
the message names the argument, field or file, and that nothing changed: no file in the folder
(created, removed or touched) and no object the call was given."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from badinput import F_SPEC, OPTS, SPEC, data, deep_copy, identical, make_net, make_store
from badinput import snapshot as folder_snapshot
from conftest import SHARED

import dltoolbox as dlt
from dltoolbox import (
    CorruptDataError,
    InputError,
    InputTypeError,
    MissingFileError,
    NetFieldError,
    NetFileError,
    PathError,
)
from dltoolbox.checks import OPTIMIZER, TRAINING_ONLY
from dltoolbox.cli import main
from dltoolbox.cnnpredict import net_input_size
from dltoolbox.cnntrain import OPTIONS
from dltoolbox.datasets import load_mnist
from dltoolbox.images import load_images
from dltoolbox.spec import parse_spec
from dltoolbox.util import expand

pytestmark = pytest.mark.usefixtures("isolated_data")


@dataclass
class Ctx:
    """What a case runs in: its folder (the files it asked for copied in) and what it hands
    to the call, watched to be unchanged afterwards."""

    tmp: Path
    watched: list

    def watch(self, *values):
        self.watched += [(v, deep_copy(v)) for v in values]
        return values[0] if len(values) == 1 else values

    def net(self, spec: str = SPEC, passes: bool = False, dtype=np.float64) -> dict:
        return make_net(spec, dtype, passes)

    def __truediv__(self, name: str) -> Path:
        return self.tmp / name


@dataclass
class Case:
    id: str
    run: Callable[[Ctx], object]
    error: type
    names: str | tuple  # the texts the message must hold: the argument, field or file
    files: tuple[str, ...] = ()


def case(id, run, error, names, *files) -> pytest.param:
    return pytest.param(Case(id, run, error, names, files), id=id)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("store"))


def _place(store: Path, tmp: Path, names: tuple[str, ...]) -> None:
    for name in names:
        src = store / name
        if src.is_dir():
            shutil.copytree(src, tmp / name)
        else:
            shutil.copy2(src, tmp / name)


# --------------------------------------------------------------------------- the nets' fields

#: (id, change of a set-up net, error, the field named). Each is tried on every function that
#: reads a net's parameters.
EDITS = [
    ("b short", lambda n: n["layers"][1].update(b=[0.0]), NetFieldError,
     'net["layers"][1]["b"]: expected 2 biases (outputmaps), got 1'),
    ("b long", lambda n: n["layers"][1].update(b=[0.0] * 3), NetFieldError,
     'net["layers"][1]["b"]: expected 2 biases'),
    ("b None", lambda n: n["layers"][1].update(b=None), NetFieldError, 'net["layers"][1]["b"]'),
    ("b nested", lambda n: n["layers"][1].update(b=[[0.0], [0.0]]), NetFieldError,
     'net["layers"][1]["b"]'),
    ("b ints", lambda n: n["layers"][1].update(b=[0, 0]), NetFieldError,
     'net["layers"][1]["b"]: expected float64 or float32'),
    ("b nan", lambda n: n["layers"][1].update(b=[0.0, np.nan]), NetFieldError,
     'net["layers"][1]["b"]: expected finite numbers, found 1 NaN or Inf (the first at [1])'),
    ("k missing", lambda n: n["layers"][1].pop("k"), NetFieldError,
     'net["layers"][1]["k"]: missing'),
    ("k row short", lambda n: n["layers"][1].update(k=[n["layers"][1]["k"][0][:1]]),
     NetFieldError, 'net["layers"][1]["k"][0]: expected 2 kernels'),
    ("k kernel shape", lambda n: n["layers"][1]["k"][0].__setitem__(1, np.zeros((2, 2))),
     NetFieldError, 'net["layers"][1]["k"][0][1]: expected an array of shape (3, 3)'),
    ("k str", lambda n: n["layers"][1].update(k="kernels"), NetFieldError,
     'net["layers"][1]["k"]'),
    ("k ints", lambda n: n["layers"][1].update(k=np.zeros((1, 2, 3, 3), int)), NetFieldError,
     'net["layers"][1]["k"]: expected float64 or float32'),
    ("k nan", lambda n: n["layers"][1]["k"][0][1].__setitem__((2, 1), np.nan), NetFieldError,
     'net["layers"][1]["k"]: expected finite numbers, found 1 NaN or Inf (the first at '
     "[0][1][2, 1])"),
    ("k inf", lambda n: n["layers"][1].update(k=np.full((1, 2, 3, 3), np.inf)), NetFieldError,
     'net["layers"][1]["k"]: expected finite numbers, found 18'),
    ("kernelsize edited", lambda n: n["layers"][1].update(kernelsize=5), NetFieldError,
     'net["layers"][1]["k"][0][0]: expected an array of shape (5, 5)'),
    ("outputmaps edited", lambda n: n["layers"][1].update(outputmaps=3), NetFieldError,
     'net["layers"][1]["k"][0]: expected 3 kernels (outputmaps), got 2'),
    ("ffW list", lambda n: n.update(ffW=n["ffW"].tolist()), NetFieldError,
     'net["ffW"]: expected a 2-D float array, got list'),
    ("ffW 1-D", lambda n: n.update(ffW=n["ffW"][0]), NetFieldError, 'net["ffW"]'),
    ("ffW columns", lambda n: n.update(ffW=n["ffW"][:, :5]), InputError,
     "give 18 features, but ffW expects 5"),
    ("ffW nan", lambda n: n["ffW"].__setitem__((2, 7), np.nan), NetFieldError,
     'net["ffW"]: expected finite numbers, found 1 NaN or Inf (the first at [2, 7])'),
    ("ffW ints", lambda n: n.update(ffW=n["ffW"].astype(int)), NetFieldError, 'net["ffW"]'),
    ("ffW float16", lambda n: n.update(ffW=n["ffW"].astype(np.float16)), NetFieldError,
     'net["ffW"]'),
    ("ffW object", lambda n: n.update(ffW=n["ffW"].astype(object)), NetFieldError,
     'net["ffW"]'),
    ("ffW complex", lambda n: n.update(ffW=n["ffW"] + 0j), NetFieldError, 'net["ffW"]'),
    ("ffb 1-D", lambda n: n.update(ffb=n["ffb"][:, 0]), NetFieldError,
     'net["ffb"]: expected an array of shape (3, 1) (classes x 1), got shape (3,)'),
    ("ffb rows", lambda n: n.update(ffb=np.zeros((4, 1))), NetFieldError,
     'net["ffb"]: expected an array of shape (3, 1)'),
    ("ffb inf", lambda n: n["ffb"].__setitem__((0, 0), -np.inf), NetFieldError,
     'net["ffb"]: expected finite numbers'),
    ("vffW nan", lambda n: n.update(vffW=np.full_like(n["ffW"], np.nan)), NetFieldError,
     'net["vffW"]: expected finite numbers'),
    ("vk shape", lambda n: n["layers"][1].update(vk=np.zeros((1, 2, 2, 2))), NetFieldError,
     'net["layers"][1]["vk"]'),
    ("vb short", lambda n: n["layers"][1].update(vb=[0.0]), NetFieldError,
     'net["layers"][1]["vb"]: expected 2 as b, got 1'),
]  # fmt: skip
#: The same for a net with a fully connected layer.
F_EDITS = [
    ("f W rows", lambda n: n["layers"][3].update(W=n["layers"][3]["W"][:3]), NetFieldError,
     'net["layers"][3]["W"]: expected an array of shape (4, 18)'),
    ("f W columns", lambda n: n["layers"][3].update(W=n["layers"][3]["W"][:, :7]), InputError,
     "give 18 features, but W expects 7"),
    ("f b 1-D", lambda n: n["layers"][3].update(b=np.zeros(4)), NetFieldError,
     'net["layers"][3]["b"]: expected an array of shape (4, 1)'),
    ("f W nan", lambda n: n["layers"][3]["W"].__setitem__((0, 0), np.nan), NetFieldError,
     'net["layers"][3]["W"]: expected finite numbers'),
    ("f ffW columns", lambda n: n.update(ffW=n["ffW"][:, :3]), NetFieldError,
     'net["ffW"]: expected an array of shape (3, 4)'),
]  # fmt: skip


def _reader(name: str, spec: str, edit: Callable) -> Callable:
    """A call of ``name`` on a net of ``spec`` edited by ``edit`` (after the passes it needs)."""
    x, y = data()

    def run(c: Ctx) -> None:
        net = c.net(spec, passes=name in ("cnnbp", "cnnapplygrads", "cnnnumgradcheck"))
        edit(net)
        c.watch(net)
        calls = {
            "cnnff": lambda: dlt.cnnff(net, x),
            "cnnbp": lambda: dlt.cnnbp(net, y),
            "cnnapplygrads": lambda: dlt.cnnapplygrads(net, {"alpha": 1.0}),
            "cnntrain": lambda: dlt.cnntrain(net, x, y, dict(OPTS)),
            "cnntest": lambda: dlt.cnntest(net, x, y),
            "cnnpredict": lambda: dlt.cnnpredict(net, x),
            "cnnnumgradcheck": lambda: dlt.cnnnumgradcheck(net, x, y),
        }
        calls[name]()

    return run


READERS = ["cnnff", "cnnbp", "cnnapplygrads", "cnntrain", "cnntest", "cnnpredict"]
FIELD_CASES = [
    case(f"{reader}: {id}", _reader(reader, spec, edit), error, names)
    for reader in READERS
    for spec, table in ((SPEC, EDITS), (F_SPEC, F_EDITS))
    for id, edit, error, names in table
    # cnnbp and cnnapplygrads read the feature count of their last cnnff's maps
    if not (reader in ("cnnbp", "cnnapplygrads") and "columns" in id and "ffW" not in id)
]
FIELD_CASES += [
    case(f"cnnnumgradcheck: {id}", _reader("cnnnumgradcheck", SPEC, edit), error, names)
    for id, edit, error, names in EDITS[:8]
]  # fmt: skip


# --------------------------------------------------------------------------- arguments


def _setup(layers=None, x=None, y=None, rng=None, net=None):
    def run(c: Ctx):
        xx, yy = data()
        the_net = net if net is not None else {"layers": layers or parse_spec(SPEC)}
        c.watch(the_net)
        dlt.cnnsetup(the_net, xx if x is None else x, yy if y is None else y, rng)

    return run


def _layer(l: int, **changes) -> list:
    return _layers("i-2c3-2s", l, **changes)


def _layers(spec: str, l: int, **changes) -> list:
    layers = parse_spec(spec)
    layers[l].update(changes)
    return layers


def _f(**keys) -> list:
    """:data:`SPEC` and an 'f' layer of 2 outputs with ``keys``."""
    return parse_spec(SPEC) + [{"type": "f", "outputs": 2, **keys}]


PAD = "expected a non-negative integer or one of ['same']"


X_BAD = [
    ("x 1-D", np.zeros(8), InputError, "x: expected a 2-D or 3-D array"),
    ("x strings", np.array([["a"]]), InputTypeError, "x: expected a real numeric array"),
    ("x list of str", "pixels", InputTypeError, "x: expected a real numeric array"),
    ("x complex", np.zeros((8, 8, 4)) + 1j, InputTypeError, "x: expected a real numeric array"),
    ("x nan", np.full((8, 8, 4), np.nan), InputError, "x: expected finite values"),
    ("x inf", np.full((8, 8, 4), np.inf), InputError, "x: expected finite values"),
    ("x empty", np.zeros((8, 8, 0)), InputError, "x: expected at least one sample"),
    ("x 5-D", np.zeros((8, 8, 1, 1, 1)), InputError, "x: expected"),
]
ARG_CASES = [
    case("cnnsetup: net list", _setup(net=[1]), InputTypeError, "net: expected a dict"),
    case("cnnsetup: no layers", _setup(net={"l": []}), InputError, 'net: expected a "layers"'),
    case("cnnsetup: layers empty", _setup(net={"layers": []}), InputTypeError, 'net["layers"]'),
    case("cnnsetup: layer str", _setup(["i", "c"]), InputTypeError, 'net["layers"][0]'),
    case("cnnsetup: no type", _setup([{"type": "i"}, {}]), InputError, 'net["layers"][1]'),
    case("cnnsetup: first not i", _setup(_layer(0, type="s", scale=2)), InputError,
         'net["layers"][0]: the first layer must have type'),
    case("cnnsetup: type z", _setup(_layer(1, type="z")), InputError,
         "net[\"layers\"][1]: expected type 'c'"),
    case("cnnsetup: no kernelsize", _setup([{"type": "i"}, {"type": "c", "outputmaps": 2}]),
         InputError, "net[\"layers\"][1]: a 'c' layer needs key 'kernelsize'"),
    case("cnnsetup: outputmaps 0", _setup(_layer(1, outputmaps=0)), InputError,
         'net["layers"][1]["outputmaps"]: expected a positive integer, got 0'),
    case("cnnsetup: outputmaps 2.5", _setup(_layer(1, outputmaps=2.5)), InputError,
         'net["layers"][1]["outputmaps"]'),
    case("cnnsetup: outputmaps str", _setup(_layer(1, outputmaps="2")), InputTypeError,
         'net["layers"][1]["outputmaps"]'),
    case("cnnsetup: outputmaps bool", _setup(_layer(1, outputmaps=True)), InputTypeError,
         'net["layers"][1]["outputmaps"]'),
    case("cnnsetup: kernelsize 9", _setup(_layer(1, kernelsize=9)), InputError,
         'net["layers"][1]["kernelsize"]: expected at most the input map size 8 x 8'),
    case("cnnsetup: scale 4", _setup(_layer(2, scale=4)), InputError, 'net["layers"][2]'),
    case("cnnsetup: activation", _setup(_layer(1, activation="elu")), InputError,
         'net["layers"][1]["activation"]'),
    case("cnnsetup: activation on s", _setup(_layer(2, activation="relu")), InputError,
         'net["layers"][2]["activation"]: unknown key'),
    case("cnnsetup: typo", _setup(_layer(1, kernelsise=3)), InputError,
         "net[\"layers\"][1][\"kernelsise\"]: unknown key (did you mean 'kernelsize'?)"),
    case("cnnsetup: method", _setup(_layer(2, method="median")), InputError,
         'net["layers"][2]["method"]'),
    case("cnnsetup: channels 0", _setup(_layer(0, channels=0)), InputError,
         'net["layers"][0]["channels"]'),
    # the layer options: each message names the key, what it expects and what it was given
    case("cnnsetup: padding valid", _setup(_layer(1, padding="valid")), InputError,
         ('net["layers"][1]["padding"]: ' + PAD, "got str 'valid'")),
    case("cnnsetup: padding -1", _setup(_layer(1, padding=-1)), InputError,
         ('net["layers"][1]["padding"]: ' + PAD, "got int -1")),
    case("cnnsetup: padding 1.5", _setup(_layer(1, padding=1.5)), InputError,
         ('net["layers"][1]["padding"]: ' + PAD, "got float 1.5")),
    case("cnnsetup: padding True", _setup(_layer(1, padding=True)), InputTypeError,
         ('net["layers"][1]["padding"]: ' + PAD, "got bool True")),
    case("cnnsetup: padding None", _setup(_layer(1, padding=None)), InputTypeError,
         ('net["layers"][1]["padding"]: ' + PAD, "got NoneType None")),
    case("cnnsetup: padding same even", _setup(_layer(1, kernelsize=2, padding="same")),
         InputError, ('net["layers"][1]["padding"]: "same" needs an odd kernelsize',
                      "got kernelsize 2")),
    case("cnnsetup: stride 0", _setup(_layer(1, stride=0)), InputError,
         'net["layers"][1]["stride"]: expected a positive integer, got 0'),
    case("cnnsetup: stride -2", _setup(_layer(1, stride=-2)), InputError,
         'net["layers"][1]["stride"]: expected a positive integer, got -2'),
    case("cnnsetup: stride 1.5", _setup(_layer(1, stride=1.5)), InputError,
         'net["layers"][1]["stride"]: expected a positive integer, got 1.5'),
    case("cnnsetup: stride str", _setup(_layer(1, stride="2")), InputTypeError,
         "net[\"layers\"][1][\"stride\"]: expected a positive integer, got str '2'"),
    case("cnnsetup: stride 4", _setup(_layer(1, stride=4)), InputError,
         ('net["layers"][1]["stride"]: 4 does not divide the 5 x 5 positions past the first of '
          "a 8 x 8 map (padding 0, kernelsize 3); expected a divisor",
          'net["layers"][1]["remainder"] to "drop"')),
    case("cnnsetup: remainder", _setup(_layer(1, remainder="keep")), InputError,
         "net[\"layers\"][1][\"remainder\"]: expected one of ['error', 'drop'], got 'keep'"),
    case("cnnsetup: remainder on s", _setup(_layer(2, remainder="drop")), InputError,
         'net["layers"][2]["remainder"]: unknown key'),
    case("cnnsetup: connections shape", _setup(_layer(1, connections=np.ones((2, 2), bool))),
         InputError, ('net["layers"][1]["connections"]: expected a boolean (1, 2) table '
                      "(inputmaps, outputmaps)", "got shape (2, 2)")),
    case("cnnsetup: connections transposed",
         _setup(_layers("i-2c3-3c1", 2, connections=np.ones((3, 2), bool))), InputError,
         ('net["layers"][2]["connections"]: expected a boolean (2, 3) table', "got shape (3, 2)")),
    case("cnnsetup: connections lonely",
         _setup(_layer(1, connections=np.array([[True, False]]))), InputError,
         ('net["layers"][1]["connections"]: expected every output map connected to an input map',
          "got output maps [1] connected to none")),
    case("cnnsetup: connections ints", _setup(_layer(1, connections=np.ones((1, 2)))),
         InputTypeError, ('net["layers"][1]["connections"]: expected a boolean (inputmaps, '
                          "outputmaps) array", "got an array of shape (1, 2) and dtype float64")),
    case("cnnsetup: connections list", _setup(_layer(1, connections=[[True, True]])),
         InputTypeError, ('net["layers"][1]["connections"]: expected a boolean', "got list")),
    case("cnnsetup: connections 1-D", _setup(_layer(1, connections=np.ones(2, bool))),
         InputTypeError, ('net["layers"][1]["connections"]: expected a boolean (inputmaps, '
                          "outputmaps) array", "got an array of shape (2,) and dtype bool")),
    case("cnnsetup: kernel over the padded map", _setup(_layer(1, kernelsize=11, padding=1)),
         InputError, 'net["layers"][1]["kernelsize"]: expected at most the input map size 8 x 8 '
         "padded by 1, got 11"),
    case("cnnsetup: stride shrinks to 1x1, then a 2x2 kernel", _setup(parse_spec("i-2c3s6d-2c2")),
         InputError, 'net["layers"][2]["kernelsize"]: expected at most the input map size 1 x 1, '
         "got 2"),
    case("cnnsetup: f outputs 0", _setup(_f(outputs=0)), InputError,
         'net["layers"][3]["outputs"]: expected a positive integer, got 0'),
    case("cnnsetup: f outputs 2.5", _setup(_f(outputs=2.5)), InputError,
         'net["layers"][3]["outputs"]: expected a positive integer, got 2.5'),
    case("cnnsetup: f outputs str", _setup(_f(outputs="4")), InputTypeError,
         "net[\"layers\"][3][\"outputs\"]: expected a positive integer, got str '4'"),
    case("cnnsetup: f no outputs", _setup(parse_spec(SPEC) + [{"type": "f"}]), InputError,
         "net[\"layers\"][3]: a 'f' layer needs key 'outputs', missing"),
    case("cnnsetup: f dropout 1", _setup(_f(dropout=1.0)), InputError,
         'net["layers"][3]["dropout"]: expected a number in [0, 1), got 1.0'),
    case("cnnsetup: f dropout -0.1", _setup(_f(dropout=-0.1)), InputError,
         'net["layers"][3]["dropout"]: expected a number in [0, 1), got -0.1'),
    case("cnnsetup: f dropout nan", _setup(_f(dropout=np.nan)), InputError,
         'net["layers"][3]["dropout"]: expected a number in [0, 1), got nan'),
    case("cnnsetup: f dropout str", _setup(_f(dropout="0.5")), InputTypeError,
         "net[\"layers\"][3][\"dropout\"]: expected a number in [0, 1), got str '0.5'"),
    case("cnnsetup: f activation", _setup(_f(activation="elu")), InputError,
         "net[\"layers\"][3][\"activation\"]: expected one of ['sigm', 'relu', 'tanh'], got "
         "'elu'"),
    case("cnnsetup: f padding", _setup(_f(padding=1)), InputError,
         'net["layers"][3]["padding"]: unknown key'),
    case("cnnsetup: c after f",
         _setup(parse_spec("i-2c3-4f") + [{"type": "c", "outputmaps": 2, "kernelsize": 1}]),
         InputError, ("net[\"layers\"][3]: a convolution layer ('c') after a fully connected "
                      "layer ('f')", "expected the 'f' layers after every layer of maps")),
    case("cnnsetup: s after f", _setup(parse_spec("i-2c3-4f") + [{"type": "s", "scale": 2}]),
         InputError, "net[\"layers\"][3]: a subsampling layer ('s') after a fully connected"),
    case("cnnsetup: output relu",
         _setup(net={"layers": parse_spec(SPEC), "output": "relu"}), InputError,
         'net["output"]'),
    case("cnnsetup: engine gpu", _setup(net={"layers": parse_spec(SPEC), "engine": "gpu"}),
         InputError, 'net["engine"]'),
    *[case(f"cnnsetup: {id}", _setup(x=x), error, names) for id, x, error, names in X_BAD],
    case("cnnsetup: channels x", _setup(_layer(0, channels=3), x=np.zeros((8, 8, 2, 4))),
         InputError, "x: expected (rows, cols, 3, batch)"),
    case("cnnsetup: y 1-D", _setup(y=np.zeros(4)), InputError, "y: expected a 2-D array"),
    case("cnnsetup: y columns", _setup(y=np.zeros((3, 5))), InputError,
         "y: expected 4 columns (one per sample of x)"),
    case("cnnsetup: y no rows", _setup(y=np.zeros((0, 4))), InputError,
         "y: expected at least one row"),
    case("cnnsetup: y nan", _setup(y=np.full((3, 4), np.nan)), InputError, "y: expected finite"),
    case("cnnsetup: y str", _setup(y="labels"), InputTypeError, "y: expected a real numeric"),
    case("cnnsetup: rng str", _setup(rng="seed"), InputTypeError, "rng: expected None"),
    case("cnnsetup: rng float", _setup(rng=1.5), InputTypeError, "rng: expected None"),
]  # fmt: skip


def _call(name: str, *args, passes: bool = False, spec: str = SPEC, **kwargs):
    """``dlt.<name>(net, *args)`` on a fresh net (after cnnff and cnnbp when ``passes``); an
    argument "tmp/NAME" is the file NAME in the case's folder."""

    def run(c: Ctx):
        net = c.watch(c.net(spec, passes=passes))
        given = [c / a[4:] if isinstance(a, str) and a.startswith("tmp/") else a for a in args]
        c.watch(*given) if given else None
        getattr(dlt, name)(net, *given, **kwargs)

    return run


X, Y = data()
PASS_CASES = [
    *[case(f"cnnff: {id}", _call("cnnff", x), error, names) for id, x, error, names in X_BAD],
    case("cnnff: x size", _call("cnnff", np.zeros((10, 10, 2))), InputError,
         "x: maps of size (10, 10) give 32 features, but ffW expects 18"),
    case("cnnff: x 4-D", _call("cnnff", np.zeros((8, 8, 2, 4))), InputError,
         "x: expected (rows, cols, batch) for a one-channel net"),
    case("cnnff: x too small", _call("cnnff", np.zeros((2, 2, 1))), InputError,
         'net["layers"][1]["kernelsize"]'),
    case("cnnff: not set up", lambda c: dlt.cnnff(c.watch({"layers": parse_spec(SPEC)}), X),
         InputError, "net: not set up"),
    case("cnnff: net None", lambda c: dlt.cnnff(None, X), InputTypeError, "net: expected a dict"),
    case("cnnbp: before cnnff", _call("cnnbp", Y), InputError, "cnnbp needs"),
    case("cnnbp: y rows", _call("cnnbp", np.zeros((5, 4)), passes=True), InputError,
         "y: expected 3 rows"),
    case("cnnbp: y columns", _call("cnnbp", np.zeros((3, 2)), passes=True), InputError,
         "y: expected 4 columns"),
    case("cnnbp: y nan", _call("cnnbp", np.full((3, 4), np.nan), passes=True), InputError,
         "y: expected finite"),
    case("cnnbp: y str", _call("cnnbp", "y", passes=True), InputTypeError, "y: expected a real"),
    case("cnnapplygrads: before cnnbp", _call("cnnapplygrads", {"alpha": 1}), InputError,
         "call cnnbp first"),
    case("cnnapplygrads: opts list", _call("cnnapplygrads", [1], passes=True), InputError,
         'opts: expected a dict with key "alpha"'),
    case("cnnapplygrads: no alpha", _call("cnnapplygrads", {}, passes=True), InputError,
         'opts: expected a dict with key "alpha"'),
    case("cnnapplygrads: typo", _call("cnnapplygrads", {"alpha": 1, "momentun": 0.9},
         passes=True), InputError, "opts[\"momentun\"]: unknown key (did you mean 'momentum'?)"),
    *[
        case(f"cnnapplygrads: {key} {value!r}",
             _call("cnnapplygrads", {"alpha": 1, key: value}, passes=True),
             InputTypeError if isinstance(value, str) else InputError, f'opts["{key}"]')
        for key, value in [("alpha", 0), ("alpha", -1), ("alpha", np.nan), ("alpha", np.inf),
                           ("momentum", 1), ("momentum", -0.1), ("weight_decay", -1),
                           ("lr_decay", 0), ("lr_decay", 1.5), ("momentum", "0.9")]
    ],
    case("cnntest: not set up", lambda c: dlt.cnntest({"layers": parse_spec(SPEC)}, X, Y),
         InputError, "net: not set up"),
    case("cnntest: empty", _call("cnntest", np.zeros((8, 8, 0)), np.zeros((3, 0))), InputError,
         "x: expected at least one sample"),
    case("cnntest: y rows", _call("cnntest", X, np.zeros((5, 4))), InputError,
         "y: expected 3 rows"),
    case("cnntest: y columns", _call("cnntest", X, Y[:, :3]), InputError,
         "y: expected 4 columns"),
    case("cnntest: x size", _call("cnntest", np.zeros((12, 12, 4)), Y), InputError,
         "x: maps of size (12, 12)"),
    case("cnnpredict: empty", _call("cnnpredict", np.zeros((8, 8, 0))), InputError,
         "x: expected at least one sample"),
    case("cnnpredict: x size", _call("cnnpredict", np.zeros((12, 12))), InputError,
         "x: maps of size (12, 12)"),
    case("cnnnumgradcheck: before cnnbp", _call("cnnnumgradcheck", X, Y), InputError,
         "call cnnbp first"),
    case("cnnnumgradcheck: epsilon 0", _call("cnnnumgradcheck", X, Y, epsilon=0, passes=True),
         InputError, "epsilon: expected a positive"),
    case("cnnnumgradcheck: tol str", _call("cnnnumgradcheck", X, Y, tol="1", passes=True),
         InputTypeError, "tol: expected a positive"),
    case("cnnnumgradcheck: x size", _call("cnnnumgradcheck", X[:7, :7], Y, passes=True),
         InputError, 'net["layers"][2]'),
    case("net_input_size: not set up", lambda c: net_input_size({"layers": parse_spec(SPEC)}),
         InputError, "net: not set up"),
    case("cnnsummary: no input size", lambda c: dlt.cnnsummary({"layers": parse_spec(SPEC)}),
         InputError, "input_size: required"),
    case("cnnsummary: input 0", lambda c: dlt.cnnsummary(c.net(), (0, 8)), InputError,
         "input_size: expected a positive integer"),
    case("cnnsummary: classes 0", lambda c: dlt.cnnsummary(c.net(), (8, 8), 0), InputError,
         "classes: expected a positive integer"),
    case("cnnsummary: no classes", lambda c: dlt.cnnsummary({"layers": parse_spec(SPEC)},
         (8, 8)), InputError, "classes: required"),
    case("cnnsummary: channels str", lambda c: dlt.cnnsummary(c.net(), (8, 8), 3, "3"),
         InputTypeError, "channels: expected a positive integer"),
    case("cnnsummary: ffW list", lambda c: dlt.cnnsummary(dict(c.net(), ffW=[[1.0]]), (8, 8)),
         NetFieldError, 'net["ffW"]'),
    case("cnnsummary: kernel too big", lambda c: dlt.cnnsummary(c.net(), (2, 2)), InputError,
         'net["layers"][1]["kernelsize"]'),
]  # fmt: skip


def _train(opts=None, x=None, y=None, rng=None, net=None, files=(), **changes):
    """cnntrain on a fresh net with :data:`OPTS` and ``changes`` (a "tmp/NAME" value is the
    file NAME of the case's folder)."""

    def run(c: Ctx):
        the_net = c.watch(net(c) if net else c.net())
        given = dict(OPTS, **changes) if opts is None else opts
        if isinstance(given, dict):
            given = {k: c / v[4:] if str(v).startswith("tmp/") else v for k, v in given.items()}
        xx, yy = data(the_net["ffW"].dtype)
        the_rng = c.watch(rng() if rng else dlt.OctaveRandom(5))
        dlt.cnntrain(the_net, xx if x is None else x, yy if y is None else y, given, the_rng)

    return run


def _resume(name: str, rng=None, net=None, **changes) -> Callable:
    options = {"checkpoint": f"tmp/{name}", "resume": True, "numepochs": 2, **changes}
    return _train(rng=rng, net=net, **options)


TRAIN_CASES = [
    case("cnntrain: 1-based randperm", _train(rng=lambda: _NoState()), InputError,
         "rng.randperm(4): expected 4 integer sample indices in [0, 4) (0-based), got shape (4,) "
         "and dtype int64, values 1 to 4"),
    case("cnntrain: float randperm", _train(rng=lambda: _FloatPerm()), InputError,
         "rng.randperm(4): expected 4 integer sample indices in [0, 4) (0-based), got shape (4,) "
         "and dtype float64, values 0.0 to 3.0"),
    case("cnntrain: short randperm", _train(rng=lambda: _ShortPerm()), InputError,
         "rng.randperm(4): expected 4 integer sample indices in [0, 4) (0-based), got shape (3,)"),
    case("cnntrain: trained net, 1-based randperm",
         _train(net=lambda c: _trained(c), rng=lambda: _NoState()), InputError,
         "rng.randperm(4): expected 4 integer sample indices"),
    case("cnntrain: opts list", _train(opts=[1]), InputTypeError, "opts: expected a dict"),
    case("cnntrain: no numepochs", _train(opts={"alpha": 1, "batchsize": 2}), InputError,
         "opts: missing key 'numepochs'"),
    case("cnntrain: batchsize 3", _train(batchsize=3), InputError,
         'opts["batchsize"]: expected a divisor of the sample count 4'),
    case("cnntrain: batchsize 0", _train(batchsize=0), InputError, 'opts["batchsize"]'),
    case("cnntrain: batchsize 2.5", _train(batchsize=2.5), InputError, 'opts["batchsize"]'),
    case("cnntrain: numepochs -1", _train(numepochs=-1), InputError, 'opts["numepochs"]'),
    case("cnntrain: numepochs str", _train(numepochs="1"), InputTypeError, 'opts["numepochs"]'),
    case("cnntrain: alpha inf", _train(alpha=np.inf), InputError, 'opts["alpha"]'),
    case("cnntrain: typo", _train(momentun=0.5), InputError,
         "opts[\"momentun\"]: unknown key (did you mean 'momentum'?)"),
    case("cnntrain: last_batch", _train(last_batch="maybe"), InputError, 'opts["last_batch"]'),
    case("cnntrain: drop too big", _train(batchsize=5, last_batch="drop"), InputError,
         'opts["batchsize"]: 5 is more than the 4 samples'),
    case("cnntrain: progress str", _train(progress="yes"), InputTypeError, 'opts["progress"]'),
    case("cnntrain: resume alone", _train(resume=True), InputError, 'opts["resume"]: True needs'),
    case("cnntrain: resume str", _train(resume="yes"), InputTypeError, 'opts["resume"]'),
    case("cnntrain: engine gpu", _train(engine="gpu"), InputError, 'opts["engine"]'),
    case("cnntrain: checkpoint int", _train(checkpoint=5), InputTypeError, 'opts["checkpoint"]'),
    case("cnntrain: checkpoint folder missing", _train(checkpoint="tmp/none/c.npz"), PathError,
         "opts[\"checkpoint\"]: cannot write '"),
    case("cnntrain: checkpoint is a folder", _train(checkpoint="tmp/folder.npz"), PathError,
         "it is a folder", "folder.npz"),
    case("cnntrain: checkpoint in a file", _train(checkpoint="tmp/good.npz/c.npz"), PathError,
         "is not a folder", "good.npz"),
    case("cnntrain: checkpoint rng", _train(checkpoint="tmp/c.npz", rng=lambda: "s"),
         InputTypeError,
         "rng: expected None"),
    case("cnntrain: checkpoint rng state",
         _train(checkpoint="tmp/c.npz", rng=lambda: _NoState()), InputTypeError,
         'opts["checkpoint"]: needs an rng with get_state()'),
    case("cnntrain: x empty", _train(x=np.zeros((8, 8, 0)), y=np.zeros((3, 0))), InputError,
         "x: expected at least one sample"),
    case("cnntrain: x nan", _train(x=np.full((8, 8, 4), np.nan)), InputError, "x: expected finite"),
    case("cnntrain: y rows", _train(y=np.zeros((4, 4))), InputError, "y: expected 3 rows"),
    case("cnntrain: y columns", _train(y=np.zeros((3, 2))), InputError, "y: expected 4 columns"),
    case("resume: another run", _resume("ckpt.npz", alpha=0.5), InputError,
         "saved by another run", "ckpt.npz"),
    case("resume: too many epochs", _resume("ckpt.npz", numepochs=0), InputError,
         'opts["numepochs"]: the checkpoint', "ckpt.npz"),
    case("resume: float32 checkpoint, float64 run", _resume("ckpt32.npz"), InputError,
         "holds a float32 net, but this run's net is float64", "ckpt32.npz"),
    case("resume: float64 checkpoint, float32 run",
         _resume("ckpt.npz", net=lambda c: c.net(dtype=np.float32)), InputError,
         "holds a float64 net, but this run's net is float32", "ckpt.npz"),
    case("resume: v5uniform with OctaveRandom", _resume("ckpt_v5.npz"), InputError,
         "saved by another run", "ckpt_v5.npz"),
    case("resume: a plain net", _resume("good.npz"), NetFileError,
         "good.npz: not a cnntrain checkpoint", "good.npz"),
    case("resume: not a zip", _resume("text.npz"), NetFileError,
         "text.npz: not a readable cnntrain checkpoint", "text.npz"),
    case("resume: damaged zip", _resume("flip.npz"), NetFileError, "flip.npz: not a readable",
         "flip.npz"),
    *[
        case(f"resume: tampered {what}", _resume(f"ckpt_{what}.npz"), NetFileError,
             (f"ckpt_{what}.npz: ", says), f"ckpt_{what}.npz")
        for what, says in [
            ("epochs_neg", "not a usable cnntrain checkpoint: epochs_done is -1"),
            ("epochs_str", "not a usable cnntrain checkpoint: epochs_done is '1'"),
            ("rng_pos", "its Mersenne Twister position 9999"),
            ("rng_kind", "its random-stream state is 'MT19937'"),
            ("rng_key", "its Mersenne Twister key"),
            ("no_run", "its description is not a dict with the run's settings"),
            ("rL", "its rL is (2,), expected 3 losses"),
            ("nan", "holds a net that does not fit this run: net[\"ffW\"]: expected finite"),
            ("kshape", "holds a net that does not fit this run: net[\"layers\"][1][\"k\"][0][0]"),
            ("meta", "unreadable '__dltoolbox__' entry"),
            ("info", "unreadable 'checkpoint.info' entry"),
        ]
    ],
    case("resume: tampered epochs_big", _resume("ckpt_epochs_big.npz"), InputError,
         'opts["numepochs"]: the checkpoint', "ckpt_epochs_big.npz"),
    case("resume: tampered v5uniform words",
         _resume("ckpt_v5_words.npz", rng=lambda: dlt.MatlabRandom(5)), NetFileError,
         "ckpt_v5_words.npz: not a usable cnntrain checkpoint: its v5uniform state",
         "ckpt_v5_words.npz"),
]  # fmt: skip


class _NoState:
    def rand(self, *dims):
        return np.full(dims, 0.5)

    def randperm(self, n):
        return np.arange(1, n + 1)


def _trained(c: Ctx) -> dict:
    """A net after a cnntrain run (with its rL and engine)."""
    net = c.net()
    return dlt.cnntrain(
        net, *data(np.float64), {**OPTS, "engine": "reference"}, dlt.OctaveRandom(1)
    )


class _FloatPerm(_NoState):
    def randperm(self, n):
        return np.arange(n) * 1.0


class _ShortPerm(_NoState):
    def randperm(self, n):
        return np.arange(n - 1)


# --------------------------------------------------------------------------- files


def _save(file: str, edit=None, **kwargs):
    def run(c: Ctx):
        net = c.net(passes=True)
        if edit is not None:
            edit(net)
        c.watch(net)
        dlt.save_net(c / file, net, **kwargs)

    return run


def _load(file: str, **kwargs):
    return lambda c: dlt.load_net(c / file, **kwargs)


FILE_CASES = [
    case("save_net: nan ffW", _save("n.npz", lambda n: n["ffW"].__setitem__((0, 0), np.nan)),
         NetFieldError, 'net["ffW"]: expected finite numbers, found 1 NaN or Inf'),
    case("save_net: inf k .mat", _save("n.mat", lambda n: n["layers"][1]["k"][0][0].fill(np.inf)),
         NetFieldError, 'net["layers"][1]["k"]: expected finite'),
    case("save_net: nan velocity", _save("n.npz", lambda n: n.update(vffb=np.full((3, 1), np.nan))),
         NetFieldError, 'net["vffb"]: expected finite'),
    case("save_net: allow_nonfinite str", _save("n.npz", allow_nonfinite="yes"), InputTypeError,
         "allow_nonfinite: expected True or False"),
    case("save_net: suffix", _save("n.txt"), InputError, "path: expected a file name ending in"),
    case("save_net: name", _save("n.mat", name="1net"), InputError,
         "name: expected a MATLAB variable name"),
    case("save_net: folder missing", _save("none/n.npz"), PathError, "none/n.npz"),
    case("save_net: into a file", _save("good.npz/n.mat"), PathError, "good.npz/n.mat",
         "good.npz"),
    case("save_net: a folder", _save("folder.npz"), PathError, "it is a folder", "folder.npz"),
    case("save_net: net list", lambda c: dlt.save_net(c / "n.npz", [1]), InputTypeError,
         "net: expected a dict"),
    case("save_net: no layers", lambda c: dlt.save_net(c / "n.npz", {"ffW": 1}), InputError,
         'net["layers"]'),
    case("save_net: layer type", lambda c: dlt.save_net(c / "n.npz", {"layers": [{"t": 1}]}),
         InputTypeError, 'net["layers"][0]'),
    case("save_net: k int", _save("n.npz", lambda n: n["layers"][1].update(k=7)), NetFieldError,
         'net["layers"][1]["k"]: cannot be written'),
    case("save_net: k int .mat", _save("n.mat", lambda n: n["layers"][1].update(k=7)),
         NetFieldError, 'net["layers"][1]["k"]: cannot be written'),
    case("save_net: ffW str", _save("n.npz", lambda n: n.update(ffW="w")), InputTypeError,
         'net["ffW"]: expected a real numeric array'),
    case("save_net: outputmaps 0", _save("n.npz", lambda n: n["layers"][1].update(outputmaps=0)),
         InputError, 'net["layers"][1]["outputmaps"]'),
    case("load_net: missing", _load("none.npz"), MissingFileError, "path: no such file"),
    case("load_net: folder", _load("folder.npz"), PathError, "is a folder", "folder.npz"),
    case("load_net: name int", _load("good.mat", name=3), InputTypeError, "name: expected a str",
         "good.mat"),
    case("load_net: name conflicts", lambda c: dlt.load_net(f"{c / 'good.mat'}:cnn", name="x"),
         InputError, "name: 'x' conflicts", "good.mat"),
    case("load_net: name for npz", _load("good.npz", name="cnn"), InputError,
         "name: an .npz file holds one net", "good.npz"),
    case("load_net: bad selector", _load("good.mat", name="cnn{0}"), InputError,
         "name: expected a variable name", "good.mat"),
    case("load_net: no variable", _load("good.mat", name="net"), NetFileError,
         "good.mat: no variable 'net'", "good.mat"),
    case("load_net: not a struct field", _load("good.mat", name="cnn.ffW"), NetFileError,
         "good.mat:cnn.ffW is not a net", "good.mat"),
    case("load_net: no such field", _load("good.mat", name="cnn.rL"), NetFileError,
         "good.mat: cnn is not a struct with a field 'rL'", "good.mat"),
    case("load_net: two nets", _load("two.mat"), NetFileError, "two.mat: holds several nets",
         "two.mat"),
    case("load_net: no struct", _load("nostruct.mat"), NetFileError, "nostruct.mat: holds no net",
         "nostruct.mat"),
    case("load_net: layers not a cell", _load("notcell.mat"), NetFileError,
         "notcell.mat:cnn.layers: expected a cell", "notcell.mat"),
    case("load_net: layer without type", _load("notype.mat"), NetFileError,
         "notype.mat:cnn.layers{1}: no type field", "notype.mat"),
    case("load_net: text .mat", _load("text.mat"), NetFileError,
         "text.mat: not a readable MATLAB .mat file", "text.mat"),
    case("load_net: hdf5", _load("hdf5.mat"), NetFileError, "hdf5.mat: an HDF5 file", "hdf5.mat"),
    case("load_net: octave text", _load("octave.mat"), NetFileError,
         "octave.mat: Octave's text format", "octave.mat"),
    case("load_net: octave binary", _load("octave_binary.mat"), NetFileError,
         "octave_binary.mat: Octave's own binary", "octave_binary.mat"),
    case("load_net: gzip", _load("gzip.mat"), NetFileError, "gzip.mat: a gzip-compressed file",
         "gzip.mat"),
    case("load_net: truncated mat", _load("trunc.mat"), NetFileError,
         "trunc.mat: not a readable MATLAB .mat file: damaged, truncated", "trunc.mat"),
    case("load_net: empty npz", _load("empty.npz"), NetFileError, "empty.npz: not an .npz",
         "empty.npz"),
    case("load_net: text npz", _load("text.npz"), NetFileError, "text.npz: not an .npz",
         "text.npz"),
    case("load_net: plain npz", _load("plain.npz"), NetFileError,
         "plain.npz: not a dltoolbox net", "plain.npz"),
    case("load_net: pickled", _load("pickled.npz"), NetFileError,
         "pickled.npz: holds pickled objects", "pickled.npz"),
    case("load_net: damaged zip directory", _load("flip.npz"), NetFileError,
         "flip.npz: not a readable .npz file", "flip.npz"),
    case("load_net: npz version", _load("npz_version.npz"), NetFileError,
         "npz_version.npz: expected format 'dltoolbox-net'", "npz_version.npz"),
    case("load_net: npz entry", _load("npz_entry.npz"), NetFileError,
         "npz_entry.npz: damaged dltoolbox net, entry 'layers.1.k.0.0' missing",
         "npz_entry.npz"),
    case("load_net: npz meta", _load("npz_meta.npz"), NetFileError,
         "npz_meta.npz: unreadable '__dltoolbox__' entry", "npz_meta.npz"),
    case("load_net: npz layers str", _load("npz_layers_str.npz"), NetFileError,
         "npz_layers_str.npz: damaged dltoolbox net", "npz_layers_str.npz"),
    case("load_net: path int", lambda c: dlt.load_net(5), InputTypeError, "path"),
    case("compare_nets: a int", lambda c: dlt.compare_nets(1, c / "good.npz"), InputTypeError,
         "a: expected a net dict or a path", "good.npz"),
    case("compare_nets: b damaged", lambda c: dlt.compare_nets(c / "good.npz", c / "flip.npz"),
         NetFileError, "flip.npz", "good.npz", "flip.npz"),
    case("compare_nets: a missing", lambda c: dlt.compare_nets(c / "none.mat", make_net()),
         MissingFileError, "none.mat"),
    case("load_mnist: subset 0", lambda c: load_mnist(c / "m", subset=0), InputError,
         "subset: expected a positive integer"),
    case("load_mnist: subset triple", lambda c: load_mnist(c / "m", subset=(1, 2, 3)),
         InputError, "subset: expected an int or a pair"),
    case("load_mnist: subset too big", lambda c: load_mnist(c / "m", subset=(1, 20000)),
         InputError, "subset: at most 10000 test samples"),
    case("load_mnist: dtype", lambda c: load_mnist(c / "m", dtype=np.int32), InputError,
         "dtype: expected np.float64 or np.float32"),
    case("load_mnist: upright", lambda c: load_mnist(c / "m", upright="yes"), InputTypeError,
         "upright: expected a bool"),
    case("load_mnist: missing", lambda c: load_mnist(c / "m"), MissingFileError,
         "/m does not exist"),
    case("load_mnist: a txt file", lambda c: load_mnist(c / "good.npz"), InputError,
         "path: expected a toolbox mnist_uint8.mat", "good.npz"),
    case("load_mnist: a foreign .mat", lambda c: load_mnist(c / "nostruct.mat"),
         CorruptDataError, "nostruct.mat: expected a train_x", "nostruct.mat"),
    case("load_mnist: a text .mat", lambda c: load_mnist(c / "text.mat"), CorruptDataError,
         "text.mat: not a readable .mat file", "text.mat"),
    case("load_images: missing", lambda c: load_images([c / "none.png"], make_net()),
         MissingFileError, "none.png: no such image"),
    case("load_images: not an image", lambda c: load_images([c / "text.mat"], make_net()),
         InputError, "text.mat: not a readable image", "text.mat"),
    case("load_images: none", lambda c: load_images([], make_net()), InputError,
         "images: expected at least one"),
]  # fmt: skip

OTHER_CASES = [
    case("parse_spec: token", lambda c: parse_spec("6c5-2x"), InputError,
         "spec: layer 2 of '6c5-2x' is '2x'"),
    case("parse_spec: int", lambda c: parse_spec(5), InputTypeError, "spec: expected a string"),
    case("parse_spec: empty", lambda c: parse_spec(""), InputError, "spec: expected at least"),
    case("parse_spec: i0", lambda c: parse_spec("i0-2s"), InputError, "spec: the input 'i0'"),
    case("parse_spec: stride 0", lambda c: parse_spec("6c5s0"), InputError,
         ("spec: layer 1 of '6c5s0' is '6c5s0'", "s<n> for stride n")),
    case("parse_spec: table", lambda c: parse_spec("6c5@foo"), InputError,
         ("spec: layer 1 of '6c5@foo' is '6c5@foo'", "@lenet5")),
    case("parse_spec: dropout 1", lambda c: parse_spec("2c3-4fd1"), InputError,
         ("spec: layer 2 of '2c3-4fd1' is '4fd1'", "d<q> for dropout q, 0 <= q < 1")),
    case("expand: factors", lambda c: expand(np.ones((2, 2)), [2]), InputError,
         "s: expected one factor per dimension"),
    case("expand: negative", lambda c: expand(np.ones((2, 2)), [-1, 1]), InputError,
         "s: expected non-negative integers"),
    case("OctaveRandom: seed str", lambda c: dlt.OctaveRandom("x"), InputTypeError, "seed"),
    case("OctaveRandom: rand -1", lambda c: dlt.OctaveRandom(0).rand(-1), InputError, "dims"),
    case("OctaveRandom: randperm -1", lambda c: dlt.OctaveRandom(0).randperm(-1), InputError,
         "n: expected a non-negative integer"),
    case("MatlabRandom: seed -1", lambda c: dlt.MatlabRandom(-1), InputError, "seed"),
    case("MatlabRandom: generator", lambda c: dlt.MatlabRandom(0, "lcg"), InputError,
         "generator"),
    case("MatlabRandom: state", lambda c: dlt.MatlabRandom(0).set_state(("MT19937",)),
         InputError, "state: expected a v5uniform state"),
]  # fmt: skip

CASES = FIELD_CASES + ARG_CASES + PASS_CASES + TRAIN_CASES + FILE_CASES + OTHER_CASES


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_a_clear_error_and_changes_nothing(case: Case, store, tmp_path):
    _place(store, tmp_path, case.files)
    before = folder_snapshot(tmp_path)
    ctx = Ctx(tmp_path, [])
    with pytest.raises(case.error) as caught:
        case.run(ctx)
    message = str(caught.value)
    assert isinstance(caught.value, dlt.DltoolboxError)
    for names in (case.names,) if isinstance(case.names, str) else case.names:
        assert names in message, f"{message!r} does not name {names!r}"
    assert "\n" not in message
    assert folder_snapshot(tmp_path) == before, "the folder changed"
    for value, copy in ctx.watched:
        assert identical(value, copy), "an argument was changed"


def test_the_table_covers_enough_cases():
    assert len(CASES) >= 150
    calls = {c.values[0].id.split(":")[0] for c in CASES}
    for public in ("cnnsetup", "cnnff", "cnnbp", "cnnapplygrads", "cnntrain", "cnntest",
                   "cnnpredict", "cnnnumgradcheck", "cnnsummary", "save_net", "load_net",
                   "compare_nets", "resume", "load_mnist", "parse_spec"):  # fmt: skip
        assert public in calls, public


def test_cnnapplygrads_lets_through_the_keys_of_cnntrain():
    assert set(OPTIONS) == {"alpha", *OPTIMIZER, *TRAINING_ONLY}
    net = make_net(passes=True)
    dlt.cnnapplygrads(net, dict(OPTS, progress=None, last_batch="keep"))  # no error


def test_a_net_that_passes_the_checks_is_left_as_it_was():
    """The checks themselves change nothing: a net set up with integral floats works, and
    cnnff of a good net after a refused one gives the same outputs."""
    x, y = data()
    layers = [{"type": "i", "channels": 1.0}, {"type": "c", "outputmaps": 2.0, "kernelsize": 3.0,
              "stride": 1.0, "padding": 0.0}, {"type": "s", "scale": 2.0}]  # fmt: skip
    floats = dlt.cnnsetup({"layers": layers}, x, y, dlt.OctaveRandom(0))
    ints = make_net()
    np.testing.assert_array_equal(dlt.cnnff(floats, x)["o"], dlt.cnnff(ints, x)["o"])
    dlt.cnntrain(floats, x, y, dict(OPTS), dlt.OctaveRandom(2))
    dlt.cnntrain(ints, x, y, dict(OPTS), dlt.OctaveRandom(2))
    np.testing.assert_array_equal(floats["ffW"], ints["ffW"])


# --------------------------------------------------------------------------- the command line

MNIST = str(SHARED / "data" / "mnist")
TRAIN = ["train", "2c5-2s", "--data", MNIST, "--subset", "100,20", "--no-plots", "--no-progress"]
CLI_CASES = [
    ([], "the following arguments are required: COMMAND"),
    (["fly"], "invalid choice: 'fly'"),
    (["train", "--alpha", "0"], "--alpha: expected a positive finite number, got '0'"),
    (["train", "--alpha", "nan"], "--alpha"),
    (["train", "--alpha", "x"], "--alpha"),
    (["train", "--batchsize", "0"], "--batchsize"),
    (["train", "--epochs", "-1"], "--epochs"),
    (["train", "--epochs", "1.5"], "--epochs"),
    (["train", "--momentum", "1"], "--momentum"),
    (["train", "--weight-decay", "-1"], "--weight-decay"),
    (["train", "--lr-decay", "0"], "--lr-decay"),
    (["train", "--seed", "-1"], "--seed"),
    (["train", "--subset", "0"], "--subset"),
    (["train", "--subset", "1,2,3"], "--subset"),
    (["train", "--rng", "numpy"], "--rng"),
    (["train", "--output", "relu"], "--output"),
    (["train", "--last-batch", "yes"], "--last-batch"),
    (["train", "--dtype", "float16"], "--dtype"),
    (["train", "6c5-2x", "--no-plots"], "spec: layer 2 of '6c5-2x'"),
    (["train", "2c30-2s", "--data", MNIST, "--no-plots"], 'net["layers"][1]["kernelsize"]'),
    (["train", "--no-plots", "--out", "good.npz/run"], "--out: cannot write into 'good.npz/run'"),
    (["train", "--no-plots", "--data", "none"], "path: none does not exist"),
    ([*TRAIN, "--batchsize", "7"], "--batchsize: expected a divisor of the sample count 100"),
    ([*TRAIN, "--batchsize", "200", "--last-batch", "drop"], "--batchsize: 200 is more than"),
    (["train", "2c5r-2s", *TRAIN[2:], "--output", "softmax", "--alpha", "1e300",
      "--batchsize", "10"], "training diverged: the loss became nan"),
    (["test", "none.npz"], "path: no such file 'none.npz'"),
    (["test", "folder.npz"], "is a folder"),
    (["test", "flip.npz"], "flip.npz: not a readable .npz file"),
    (["test", "trunc.mat"], "trunc.mat: not a readable MATLAB .mat file: damaged, truncated"),
    (["test", "two.mat"], "two.mat: holds several nets"),
    (["test", "good.mat:net"], "good.mat: no variable 'net'"),
    (["test", "noffb.mat"], "net: not set up"),
    (["test", "inf28.npz"], 'net["layers"][1]["b"]: expected finite numbers'),
    (["test", "small.mat"], "x: maps of size (28, 28) give 338 features, but ffW expects 18"),
    (["test", "pickled.npz"], "pickled.npz: holds pickled objects"),
    (["test", "hdf5.mat"], "hdf5.mat: an HDF5 file"),
    (["test", "good.npz", "--subset", "0"], "--subset"),
    (["compare", "good.npz", "flip.npz"], "flip.npz: not a readable .npz file"),
    (["compare", "none.mat", "good.npz"], "path: no such file 'none.mat'"),
    (["compare", "good.npz", "good.npz", "--tol", "0"], "--tol"),
    (["compare", "good.npz"], "the following arguments are required: B"),
    (["summary", "6c5-2x"], "spec: layer 2"),
    (["summary", "6c5-2s", "--input", "0x5"], "--input"),
    (["summary", "6c5-2s", "--classes", "0"], "--classes"),
    (["summary", "6c5-2s", "--channels", "0"], "--channels"),
    (["summary", "6c5-2s", "--input", "4x4"], 'net["layers"][1]["kernelsize"]'),
    (["summary", "6c5-2s", "--input", "9x9"], "Layer 2 size must be integer"),
    (["summary", "6c5s2-2s", "--input", "28x28"], 'net["layers"][1]["stride"]: 2 does not divide'),
    (["summary", "6c4ps"], 'net["layers"][1]["padding"]: "same" needs an odd kernelsize'),
    (["summary", "4f-6c5"], "net[\"layers\"][2]: a convolution layer ('c') after"),
    (["predict", "none.npz", "x.png"], "path: no such file 'none.npz'"),
    (["predict", "flip.npz", "x.png"], "flip.npz: not a readable"),
    (["predict", "nan.npz", "x.png"], "x.png: no such image"),
    (["predict", "good.npz", "text.mat"], "text.mat: not a readable image"),
    (["predict", "good.npz", "x.png", "--top", "0"], "--top"),
    (["demo", "--epochs", "-2"], "--epochs"),
    (["demo", "--no-plots", "--out", "good.npz"], "--out: cannot write into 'good.npz'"),
]  # fmt: skip
CLI_FILES = ("good.npz", "good.mat", "flip.npz", "trunc.mat", "two.mat", "noffb.mat", "nan.npz",
             "small.mat", "pickled.npz", "hdf5.mat", "text.mat", "folder.npz",
             "inf28.npz")  # fmt: skip


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the diverging run's overflows
@pytest.mark.parametrize(
    "argv, names", CLI_CASES, ids=[" ".join(a[:1] + a[-2:]) or "none" for a, _ in CLI_CASES]
)
def test_command_line_mistakes_are_one_line_and_exit_2(
    argv, names, store, tmp_path, capsys, monkeypatch
):
    if MNIST in argv and not Path(MNIST).exists():
        pytest.skip(f"{MNIST} not found (the shared MNIST copy)")
    _place(store, tmp_path, CLI_FILES)
    before = folder_snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    assert "Traceback" not in out + err
    last = err.strip().splitlines()[-1]
    assert names in last, err
    assert last.startswith(("dltoolbox", "usage:")) or "error:" in last
    if not err.startswith("usage:"):  # argparse shows the usage first
        assert err.count("\n") == 1, err
    assert folder_snapshot(tmp_path) == before, "the folder changed"
