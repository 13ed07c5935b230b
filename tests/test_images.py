"""Image files as net inputs and ``dltoolbox predict``, down to digits this test draws itself.

Needs Pillow (the ``images`` extra, in the ``test`` extra too); the end-to-end tests also need the
shared MNIST copy, on which a small net is trained once for the module (about 3 s).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from conftest import SHARED, need

import dltoolbox as dlt
from dltoolbox.cli import main
from dltoolbox.datasets import load_mnist
from dltoolbox.images import image_files, image_to_input, input_size, load_images, read_image
from dltoolbox.netio import save_net
from dltoolbox.spec import parse_spec

Image = pytest.importorskip("PIL.Image", reason="Pillow is not installed (pip install pillow)")
ImageDraw = pytest.importorskip("PIL.ImageDraw", reason="Pillow is not installed")

# Pen strokes of each digit in the 20 x 20 box MNIST centres its digits in (units of that box):
# ("line", points) is a polyline, ("ellipse", corners) and ("arc", corners, start, end) outlines.
STROKES = {
    0: [("ellipse", [(0.15, 0.0), (0.85, 1.0)])],
    1: [("line", [(0.5, 0.0), (0.5, 1.0)])],
    2: [("arc", [(0.1, 0.0), (0.9, 0.55)], 180, 20),
        ("line", [(0.85, 0.4), (0.1, 1.0), (0.9, 1.0)])],
    3: [("arc", [(0.15, 0.0), (0.85, 0.5)], 200, 90), ("arc", [(0.1, 0.5), (0.9, 1.0)], 270, 160)],
    4: [("line", [(0.6, 0.0), (0.05, 0.65), (0.95, 0.65)]), ("line", [(0.7, 0.3), (0.7, 1.0)])],
    5: [("line", [(0.85, 0.0), (0.2, 0.0), (0.15, 0.45)]),
        ("arc", [(0.1, 0.35), (0.9, 1.0)], 200, 150)],
    6: [("line", [(0.6, 0.0), (0.3, 0.5), (0.25, 0.8)]), ("ellipse", [(0.25, 0.5), (0.8, 1.0)])],
    7: [("line", [(0.1, 0.0), (0.9, 0.0), (0.4, 1.0)])],
    8: [("ellipse", [(0.2, 0.0), (0.8, 0.48)]), ("ellipse", [(0.15, 0.48), (0.85, 1.0)])],
    9: [("ellipse", [(0.15, 0.0), (0.85, 0.5)]), ("line", [(0.85, 0.25), (0.75, 1.0)])],
}  # fmt: skip


def draw_digit(digit: int, side: int = 280, ink: int = 0, paper: int = 255, mode: str = "L"):
    """A dark digit on light paper, drawn with a pen about 1/12 of the image wide."""
    img = Image.new(mode, (side, side), paper)
    pen = ImageDraw.Draw(img)

    def at(u: float, v: float) -> tuple[float, float]:
        return side * (4 + 20 * u) / 28, side * (4 + 20 * v) / 28

    for kind, points, *angles in STROKES[digit]:
        xy = [at(*p) for p in points]
        if kind == "line":
            pen.line(xy, fill=ink, width=side // 12, joint="curve")
        elif kind == "ellipse":
            pen.ellipse(xy, outline=ink, width=side // 12)
        else:
            pen.arc(xy, *angles, fill=ink, width=side // 12)
    return img


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A net trained on 10000 MNIST digits (2 epochs; about 6 % test error), saved as .mat."""
    data = need(SHARED / "data" / "mnist")
    train_x, train_y, _, _ = load_mnist(data, subset=(10000, 1))
    rng = dlt.OctaveRandom(0)
    net = {"layers": parse_spec("8c5r-2m-16c5r-2m"), "output": "softmax"}
    net = dlt.cnnsetup(net, train_x, train_y, rng)
    opts = {"alpha": 0.01, "batchsize": 50, "numepochs": 2, "momentum": 0.9}
    net = dlt.cnntrain(net, train_x, train_y, opts, rng)
    return save_net(tmp_path_factory.mktemp("net") / "cnn.mat", net, activations=False)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The ten digits as files: PNG, JPEG, a larger RGB PNG, a transparent PNG, grey on grey."""
    folder = tmp_path_factory.mktemp("digits")
    for d in range(10):
        img = draw_digit(d)
        if d in (1, 5):
            img.save(folder / f"{d}.jpg", quality=90)
        elif d == 3:
            draw_digit(d, 400, (20, 20, 90), (250, 240, 220), "RGB").save(folder / f"{d}.png")
        elif d == 8:  # black strokes on a transparent background
            draw_digit(d, 280, (0, 0, 0, 255), (0, 0, 0, 0), "RGBA").save(folder / f"{d}.png")
        elif d == 9:
            draw_digit(d, 140, 60, 200).save(folder / f"{d}.png")
        else:
            img.save(folder / f"{d}.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


# --- conversion ------------------------------------------------------------------------------


def one_dot(rows=6, cols=4, at=(1, 3), ink=0, paper=255):
    a = np.full((rows, cols), paper, dtype=np.uint8)
    a[at] = ink
    return Image.fromarray(a)


def test_transposed_like_the_toolboxs_mnist_and_inverted_on_light_paper():
    x = image_to_input(one_dot(), (4, 6))  # net rows = the image's width
    want = np.zeros((4, 6))
    want[3, 1] = 1.0
    np.testing.assert_array_equal(x, want)
    up = image_to_input(one_dot(), (6, 4), upright=True)
    np.testing.assert_array_equal(up, want.T)


def test_inversion_rules():
    dark = one_dot(ink=255, paper=0)  # already white on black: kept
    want = np.zeros((4, 6))
    want[3, 1] = 1.0
    np.testing.assert_array_equal(image_to_input(dark, (4, 6)), want)
    np.testing.assert_array_equal(image_to_input(dark, (4, 6), invert=True), 1 - want)
    np.testing.assert_array_equal(image_to_input(one_dot(), (4, 6), invert=False), 1 - want)
    grey = one_dot(ink=51, paper=204)  # stretched to MNIST's 0 and 1, or kept at 0.2 and 0.8
    np.testing.assert_allclose(image_to_input(grey, (4, 6)), want, atol=1e-15)
    np.testing.assert_allclose(image_to_input(grey, (4, 6), stretch=False), 0.2 + 0.6 * want)


def test_modes():
    rgb = np.full((5, 3, 3), 255, dtype=np.uint8)
    rgb[4, 0] = (255, 0, 0)  # red on white
    x = image_to_input(Image.fromarray(rgb), (3, 5), channels=3)
    assert x.shape == (3, 5, 3)
    np.testing.assert_array_equal(x[0, 4], [0, 1, 1])
    assert x.sum() == 2
    rgba = np.zeros((5, 3, 4), dtype=np.uint8)  # transparent, one opaque black pixel
    rgba[2, 1] = (0, 0, 0, 255)
    x = image_to_input(Image.fromarray(rgba), (3, 5))  # laid on white, then inverted
    want = np.zeros((3, 5))
    want[1, 2] = 1.0
    np.testing.assert_array_equal(x, want)
    deep = Image.fromarray(np.array([[0, 65535], [65535, 65535]], dtype=np.uint16))
    np.testing.assert_array_equal(image_to_input(deep, (2, 2)), [[1, 0], [0, 0]])
    with pytest.raises(ValueError, match="channels: expected 1 .* or 3 .*, got a net with 2"):
        image_to_input(one_dot(), (4, 6), channels=2)


def test_resized_to_the_net():
    x = image_to_input(draw_digit(7, 200), (28, 28))
    assert x.shape == (28, 28) and x.min() >= 0 and x.max() <= 1 and x.max() > 0.9
    assert x[:3].max() < 0.05 and x[:, -3:].max() < 0.05  # the drawing's margins stay blank
    wide = image_to_input(draw_digit(7, 200), (12, 20))
    assert wide.shape == (12, 20)


def test_files_and_folders(digits, tmp_path):
    files = image_files([digits])
    assert [f.name for f in files] == sorted(
        f"{d}.{'jpg' if d in (1, 5) else 'png'}" for d in range(10)
    )
    assert image_files([digits / "3.png", digits])[0].name == "3.png"
    with pytest.raises(FileNotFoundError, match="nothing.png: no such image file or folder"):
        image_files([digits / "nothing.png"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: a folder without image files"):
        image_files([tmp_path / "empty"])
    with pytest.raises(ValueError, match=r"notes.txt: not a readable image \(cannot identify"):
        read_image(digits / "notes.txt", (28, 28))


# --- predictions -----------------------------------------------------------------------------


def test_drawn_digits_are_classified(trained, digits):
    net = dlt.load_net(trained)
    assert input_size(net) == (28, 28)  # from ffW: the file has no activations
    x, files = load_images([digits], net)
    assert x.shape == (28, 28, 10)
    labels, o = dlt.cnnpredict(net, x)
    assert labels.tolist() == [int(f.stem) for f in files]
    np.testing.assert_allclose(o.sum(axis=0), 1, rtol=1e-12)


def test_predict_command(trained, digits, capsys):
    assert main(["predict", str(trained), str(digits / "7.png"), str(digits)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 11 and lines[0].startswith(f"{digits / '7.png'}: 7  (top outputs: 7 ")
    for line, d in zip(lines[1:], range(10)):
        assert line.split(": ")[1].split()[0] == str(d), line
    assert main(["predict", str(trained), str(digits), "--json", "--top", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["input_size"] == [28, 28] and len(out["predictions"]) == 10
    for pred in out["predictions"]:
        assert pred["label"] == int(pred["file"][-5]) == pred["top"][0]["label"]
        assert len(pred["top"]) == 2 and len(pred["outputs"]) == 10
        assert pred["top"][0]["output"] == max(pred["outputs"])


def test_predict_upright_sees_other_images(trained, digits, capsys):
    assert main(["predict", str(trained), str(digits), "--json", "--upright"]) == 0
    outs = [p["outputs"] for p in json.loads(capsys.readouterr().out)["predictions"]]
    assert main(["predict", str(trained), str(digits), "--json"]) == 0
    default = [p["outputs"] for p in json.loads(capsys.readouterr().out)["predictions"]]
    assert not np.allclose(outs, default)


@pytest.mark.parametrize(
    "args, message",
    [
        (["{digits}/none.png"], "none.png: no such image file or folder"),
        (["{digits}/notes.txt"], "notes.txt: not a readable image"),
        (
            ["{digits}", "--input", "32x32"],
            "size 32x32: maps of size (32, 32) give 400 features, but ffW expects",
        ),
        (["{digits}", "--input", "6x6"], "size 6x6: does not fit the net's layers"),
    ],
)
def test_predict_input_errors_exit_2(trained, digits, args, message, capsys):
    argv = ["predict", str(trained), *(a.format(digits=digits) for a in args)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("dltoolbox predict: error: ") and message in captured.err


def test_predict_with_what_is_not_a_net_exits_2(digits, capsys):
    assert main(["predict", str(digits / "0.png"), str(digits)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dltoolbox predict: error: ") and "0.png" in err and err.count("\n") == 1


def test_without_pillow_the_message_says_what_to_install(digits, monkeypatch, tmp_path, capsys):
    net = dlt.cnnsetup({"layers": parse_spec("2c5-2s")}, np.zeros((28, 28, 1)), np.eye(10)[:, :1])
    path = save_net(tmp_path / "n.mat", net)
    monkeypatch.setitem(sys.modules, "PIL", None)
    assert main(["predict", str(path), str(digits)]) == 2
    assert 'needs Pillow: pip install "dltoolbox[images]"' in capsys.readouterr().err
