"""write_atomically: what a killed write leaves is cleaned up, permissions and symbolic links are
kept, errors name the user's path; check_writable and check_folder try before a long run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import dltoolbox as dlt
from dltoolbox.fileutil import (
    TEMP_NAME,
    check_folder,
    check_writable,
    remove_stale_temps,
    write_atomically,
)


def _temps(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if TEMP_NAME.fullmatch(p.name))


def test_a_write_killed_midway_leaves_a_temp_that_the_next_write_removes(tmp_path):
    target = tmp_path / "net.npz"
    target.write_bytes(b"old")
    child = textwrap.dedent(f"""
        import sys, time
        from dltoolbox.fileutil import write_atomically
        def slow(f):
            f.write(b"half")
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
        write_atomically({str(target)!r}, slow)
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert target.read_bytes() == b"old"  # the target is the old file, whole
    assert len(_temps(tmp_path)) == 1  # and the temporary file is left behind
    write_atomically(target, lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new" and _temps(tmp_path) == []


def test_temps_of_live_processes_and_other_files_are_left_alone(tmp_path):
    live = tmp_path / f".a.npz.{os.getppid()}.0123abcd.tmp"  # our parent: alive
    mine = tmp_path / f".b.npz.{os.getpid()}.0123abcd.tmp"
    other = tmp_path / ".notes.123.txt"
    for path in (live, mine, other):
        path.write_bytes(b"x")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".c.mat.{dead.pid}.deadbeef.tmp"
    stale.write_bytes(b"x")
    assert remove_stale_temps(tmp_path) == [stale]
    assert live.exists() and mine.exists() and other.exists() and not stale.exists()


def test_a_replaced_file_keeps_its_permissions_a_new_one_gets_the_umask(tmp_path):
    target = tmp_path / "secret.npz"
    write_atomically(target, lambda f: f.write(b"1"))
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    target.chmod(0o600)
    write_atomically(target, lambda f: f.write(b"2"))
    assert target.stat().st_mode & 0o777 == 0o600 and target.read_bytes() == b"2"


def test_a_symbolic_link_is_followed_and_stays(tmp_path):
    real = tmp_path / "runs" / "net.npz"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "latest.npz"
    link.symlink_to(real)
    write_atomically(link, lambda f: f.write(b"new"))
    assert link.is_symlink() and real.read_bytes() == b"new"
    assert _temps(tmp_path) == [] and _temps(real.parent) == []


@pytest.mark.parametrize("where", ["none/net.npz", "file/net.npz", "."])
def test_errors_name_the_users_path_not_the_temporary_file(tmp_path, where):
    (tmp_path / "file").write_bytes(b"x")
    path = tmp_path / where
    with pytest.raises(dlt.PathError) as caught:
        write_atomically(path, lambda f: f.write(b"1"))
    assert str(path) in str(caught.value) and ".tmp" not in str(caught.value)
    with pytest.raises(dlt.PathError, match="out: cannot write"):
        check_writable(path, "out")


def test_a_failing_write_removes_its_temp_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "net.mat"
    target.write_bytes(b"old")

    def fails(f):
        f.write(b"half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_atomically(target, fails)
    assert target.read_bytes() == b"old" and _temps(tmp_path) == []


def test_check_folder_creates_nothing(tmp_path):
    assert check_folder(tmp_path / "a" / "b", "--out") == tmp_path / "a" / "b"
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(dlt.PathError, match="--out: cannot write into .* is not a folder"):
        check_folder(tmp_path / "f" / "b", "--out")


def test_cnntrain_checks_the_checkpoint_path_before_the_first_batch(tmp_path):
    from badinput import OPTS, data, make_net

    calls = []
    opts = dict(OPTS, checkpoint=tmp_path / "none" / "c.npz", progress=lambda *a: calls.append(a))
    start = time.perf_counter()
    with pytest.raises(dlt.PathError, match='opts\\["checkpoint"\\]: cannot write'):
        dlt.cnntrain(make_net(), *data(), opts, 0)
    assert calls == [] and time.perf_counter() - start < 5
