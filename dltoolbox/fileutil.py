"""Writing files safely: :func:`write_atomically`, used for nets, checkpoints, data and figures,
and :func:`check_writable`, to find out before a long run that its file cannot be written."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import PathError

PathLike = str | os.PathLike

#: The temporary files of :func:`write_atomically`: ``.{name}.{pid}.{8 hex digits}.tmp``.
TEMP_NAME = re.compile(r"\.(?P<name>.+)\.(?P<pid>[0-9]+)\.[0-9a-f]{8}\.tmp")


def _target(path: Path) -> Path:
    """The file a write to ``path`` replaces: the final target of a symbolic link (which
    itself stays a link), else ``path``."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _temp_beside(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (when unsure: True)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by another user
        return True
    return True


def remove_stale_temps(folder: Path) -> list[Path]:
    """Remove the temporary files that writes by processes no longer alive left in ``folder``
    (killed during :func:`write_atomically`); returns them. Files of live processes, of this
    one, and every other file are left alone."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = TEMP_NAME.fullmatch(entry.name)
        if match is None or int(match["pid"]) == os.getpid() or _alive(int(match["pid"])):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def _cannot_write(path: PathLike, err: OSError, name: str | None = None) -> PathError:
    why = err.strerror or str(err)
    if isinstance(err, IsADirectoryError) or Path(path).is_dir():
        why = "it is a folder"
    where = f"{name}: " if name else ""
    return PathError(f"{where}cannot write {os.fspath(path)!r}: {why}")


def check_writable(path: PathLike, name: str) -> Path:
    """``path`` as a Path if a file can be written there: its folder exists and takes a new
    file (tried with a temporary file, removed at once) and ``path`` is not a folder; else a
    :class:`~dltoolbox.errors.PathError` naming ``name`` and ``path``."""
    path = Path(path)
    target = _target(path)
    if target.is_dir():
        raise PathError(f"{name}: cannot write {str(path)!r}: it is a folder")
    folder = target.parent
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise PathError(f"{name}: cannot write {str(path)!r}: its folder {str(folder)!r} {what}")
    _probe(target, path, name)
    return path


def _probe(target: Path, path: PathLike, name: str) -> None:
    """Create and remove a temporary file beside ``target``; errors name ``name`` and ``path``."""
    probe = _temp_beside(target)
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as err:
        raise _cannot_write(path, err, name) from None


def check_folder(path: PathLike, name: str) -> Path:
    """``path`` as a Path if files can be written into it: it is a folder, or its nearest
    existing ancestor is one (the rest can be made), that takes a new file (tried with a
    temporary file, removed at once); nothing is created. Else a PathError naming ``name``."""
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise PathError(
            f"{name}: cannot write into {str(path)!r}: {str(existing)!r} is not a folder"
        )
    _probe(existing / "probe", path, name)
    return path


def write_atomically(path: PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(f)`` on a new temporary file beside ``path``, then rename it onto ``path``.

    A reader never sees a half-written file: until the final ``os.replace`` the old file (if
    any) stays in place; on any error the temporary file is removed, and a process killed
    while writing leaves one that the next write into that folder removes
    (:func:`remove_stale_temps`). A file that is replaced keeps its permission bits; a new one
    gets the usual ones (0o666 less the umask). A symbolic link is followed: the file it points
    to is replaced and the link stays. Errors of the file system are a
    :class:`~dltoolbox.errors.PathError` naming ``path`` (never the temporary file).

    Parameters
    ----------
    path : str or path-like
        The file to write.
    write : callable
        Called once with the temporary file, open for binary writing.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    target = _target(path)
    if target.is_dir():
        raise PathError(f"cannot write {str(path)!r}: it is a folder")
    remove_stale_temps(target.parent)
    tmp = _temp_beside(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as err:
        raise _cannot_write(path, err) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            with contextlib.suppress(FileNotFoundError):  # keep the replaced file's mode
                os.fchmod(f.fileno(), stat.S_IMODE(os.stat(target).st_mode))
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, PathError):
            raise _cannot_write(path, err) from err
        raise
    return path
