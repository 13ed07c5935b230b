"""Execute the documents in docs/ so that they cannot drift from the code.

The rules a document follows (docs/backprop.md says them to its readers too):

- every fenced ``python`` block runs, in document order, in one namespace per document, with a
  fresh temporary folder as the working directory (``../shared`` there points at the shared
  material when it exists);
- a ``text`` block that directly follows a ``python`` block (nothing but blank lines between) is
  that block's printed output, compared line by line (trailing spaces ignored);
- ``console`` blocks hold ``$ command`` lines and their output; they run like a python block
  and are compared the same way;
- an HTML comment on the line before a block changes what happens to it:
  ``<!-- docs: quote PATH -->``: the block is quoted source, not run: each of its lines must still
  be in PATH (relative to the project root), in the same order (``...`` skips lines);
  ``<!-- docs: needs shared -->``: the block needs ``../shared`` (the Octave reference files and
  the MNIST copy); without it, it is skipped, and so is every later block needing it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SHARED

DOCS = ROOT / "docs"
DOCUMENTS = sorted(path.name for path in DOCS.glob("*.md"))  # every page is run
FENCE = re.compile(r"^```(\S*)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*docs:\s*(\w+)\s*(.*?)\s*-->$")
NEEDS = {"shared": SHARED}
PRINT_DEFAULTS = np.get_printoptions()  # each document starts from numpy's defaults


@dataclass
class Block:
    line: int  # 1-based line of the first code line
    lang: str
    text: str
    directive: tuple[str, str] | None = None
    output: str | None = None  # expected output, from the text block right after it


def parse(markdown: str) -> list[Block]:
    """The fenced blocks of ``markdown``; each ``text`` block that directly follows a ``python``
    or ``console`` block becomes that block's ``output``."""
    lines = markdown.splitlines()
    blocks: list[Block] = []
    i = 0
    last_end = -1  # index of the closing fence of the previous block
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start = i
        i += 1
        while i < len(lines) and lines[i] != "```":
            i += 1
        if i == len(lines):
            raise ValueError(f"line {start + 1}: unclosed code fence")
        block = Block(start + 2, match.group(1), "\n".join(lines[start + 1 : i]) + "\n")
        before = [line for line in lines[last_end + 1 : start] if line.strip()]
        if before and (d := DIRECTIVE.match(before[-1].strip())):
            block.directive = (d.group(1), d.group(2))
        if (
            block.lang == "text"
            and blocks
            and not before
            and blocks[-1].lang in ("python", "console")
            and blocks[-1].output is None
        ):
            blocks[-1].output = block.text
        else:
            blocks.append(block)
        last_end = i
        i += 1
    for block in blocks:
        if block.directive and block.directive[0] not in ("quote", "needs"):
            raise ValueError(f"line {block.line}: unknown docs directive {block.directive[0]!r}")
        if block.directive and block.directive[0] == "needs" and block.directive[1] not in NEEDS:
            raise ValueError(f"line {block.line}: unknown need {block.directive[1]!r}")
    return blocks


def check_quote(block: Block, where: str) -> None:
    """Each stretch of the block (stretches are separated by ``...`` lines) is in the quoted file,
    in order; whitespace and line breaks are ignored, so reformatting the file is no drift."""
    path = ROOT / block.directive[1]
    assert path.is_file(), f"{where}: quotes {block.directive[1]}, which does not exist"
    source = re.sub(r"\s+", "", path.read_text())
    pos = 0
    for stretch in re.split(r"^\s*\.\.\.\s*$", block.text, flags=re.MULTILINE):
        wanted = re.sub(r"\s+", "", stretch)
        found = source.find(wanted, pos)
        if found < 0:
            first = next(line.strip() for line in stretch.splitlines() if line.strip())
            raise AssertionError(
                f"{where}: the quoted lines from {first!r} on are not in {block.directive[1]} "
                "(after the previous quoted stretch): update the document"
            )
        pos = found + len(wanted)


def _same_output(got: str, want: str, where: str) -> None:
    def norm(text: str) -> list[str]:
        return [line.rstrip() for line in text.rstrip().splitlines()]

    assert norm(got) == norm(want), f"{where}: printed\n{got}\ninstead of\n{want}"


def run_console(block: Block, where: str) -> str:
    """Run each ``$ command`` line of a console block; returns their combined output."""
    out = []
    for line in block.text.splitlines():
        if not line.startswith("$ "):
            continue
        argv = shlex.split(line[2:])
        if argv[0] == "dltoolbox":  # the installed script, run with this interpreter
            argv = [sys.executable, "-m", "dltoolbox", *argv[1:]]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        out.append(done.stdout + done.stderr)
        if block.output is None:
            assert done.returncode == 0, f"{where}: {line} failed:\n{done.stdout}{done.stderr}"
    return "".join(out)


@contextlib.contextmanager
def _inside(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    old_cwd = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old_cwd)


def run_document(markdown: str, name: str, workdir: Path, available: set[str]) -> list[str]:
    """Check and run every block of one document; returns the reasons of skipped blocks."""
    namespace: dict = {"__name__": f"docs.{name}"}
    skipped = []
    with _inside(workdir), np.printoptions(**PRINT_DEFAULTS):
        for block in parse(markdown):
            where = f"docs/{name} line {block.line}"
            kind, arg = block.directive or ("", "")
            if kind == "quote":
                check_quote(block, where)
                continue
            if block.lang not in ("python", "console"):
                continue
            if kind == "needs" and arg not in available:
                skipped.append(f"line {block.line} needs {arg} ({NEEDS[arg]} not found)")
                continue
            if block.lang == "console":
                got = run_console(block, where)
            else:
                code = compile("\n" * (block.line - 1) + block.text, f"docs/{name}", "exec")
                buffer = io.StringIO()
                with contextlib.redirect_stdout(buffer):
                    exec(code, namespace)
                got = buffer.getvalue()
            if block.output is not None:
                _same_output(got, block.output, where)
    return skipped


def _workdir(tmp_path: Path) -> Path:
    """A working folder with ``../shared`` beside it, as in a checkout next to the shared folder."""
    if SHARED.exists():
        (tmp_path / "shared").symlink_to(SHARED.resolve(), target_is_directory=True)
    return tmp_path / "work"


@pytest.mark.parametrize("name", DOCUMENTS)
def test_document_runs(name, tmp_path, monkeypatch):
    path = DOCS / name
    assert path.is_file(), f"{path} is missing"
    if SHARED.exists():  # MNIST from the shared copy, never from the user cache or a download
        monkeypatch.setenv("DLTOOLBOX_DATA", str(SHARED / "data"))
    available = {need for need, where in NEEDS.items() if where.exists()}
    skipped = run_document(path.read_text(), name, _workdir(tmp_path), available)
    if skipped:
        pytest.skip(
            f"every other block ran and matched; {len(skipped)} skipped (set DLTOOLBOX_SHARED to "
            "the folder holding data/ and reference/): " + "; ".join(skipped)
        )


def test_runner_catches_wrong_output(tmp_path):
    doc = "```python\nprint(1 + 1)\n```\n\n```text\n3\n```\n"
    with pytest.raises(AssertionError, match="instead of"):
        run_document(doc, "t.md", tmp_path, set())


def test_runner_catches_stale_quote(tmp_path):
    doc = "<!-- docs: quote dltoolbox/util.py -->\n```python\ndef sigm(p):\n```\n"
    with pytest.raises(AssertionError, match="are not in dltoolbox/util.py"):
        run_document(doc, "t.md", tmp_path, set())


def test_runner_skips_only_what_needs_missing_material(tmp_path):
    doc = (
        "```python\nx = 1\n```\n\n<!-- docs: needs shared -->\n```python\nraise SystemExit\n"
        "```\n\n```python\nprint(x)\n```\n\n```text\n1\n```\n"
    )
    skipped = run_document(doc, "t.md", tmp_path, set())
    assert len(skipped) == 1 and "needs shared" in skipped[0]
