"""Writing files safely: :func:`write_atomically`, used for nets, checkpoints, data and figures."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

PathLike = str | os.PathLike


def write_atomically(path: PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(f)`` on a new temporary file beside ``path``, then rename it onto ``path``.

    A reader never sees a half-written file: until the final ``os.replace`` the old file (if
    any) stays in place; on any error the temporary file is removed. The file gets the usual
    permissions (0o666 less the umask).

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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
