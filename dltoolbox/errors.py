"""The errors dltoolbox raises: one hierarchy under :class:`DltoolboxError`.

Each class also derives from the built-in exception that fits it (``ValueError``, ``TypeError``,
``OSError``, ...), so code written against the built-ins keeps working, and ``except
DltoolboxError`` catches every mistake dltoolbox can name. Messages name the argument, the net
field or the file, what was expected and what was given. docs/errors.md lists what raises each.

::

    DltoolboxError
    +-- InputError (ValueError)            a bad value: x, y, opts, a layer key, a spec, ...
    |   +-- NetFieldError                  a net field missing, mis-shaped or not finite
    |   +-- BadFileError                   a file whose content cannot be used
    |       +-- NetFileError               a damaged or foreign net file or checkpoint
    |       +-- CorruptDataError           a damaged MNIST file (dltoolbox.datasets)
    +-- InputTypeError (TypeError)         an argument of the wrong type
    +-- PathError (OSError)                a path that cannot be read or written
    |   +-- MissingFileError (FileNotFoundError)
    +-- NonFiniteLossError (FloatingPointError)   training diverged (dltoolbox.cnntrain)
    +-- GradientCheckError (AssertionError)       a gradient is off (dltoolbox.cnnnumgradcheck)
"""

from __future__ import annotations

import os


class DltoolboxError(Exception):
    """Every error dltoolbox raises for a mistake it can name."""


class InputError(DltoolboxError, ValueError):
    """An argument (or a key of one) has a value dltoolbox cannot use."""


class InputTypeError(DltoolboxError, TypeError):
    """An argument (or a key of one) is of a type dltoolbox cannot use."""


class NetFieldError(InputError):
    """A field of a net dict is missing, mis-shaped, of the wrong kind or not finite.

    ``field`` names it as the message does (``net["layers"][1]["b"]``).
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field}: {problem}")


class BadFileError(InputError):
    """A file whose content cannot be used (damaged, truncated, foreign); ``path`` names it,
    and the message starts with it (``problem`` is prefixed by it unless it already is)."""

    def __init__(self, path: os.PathLike | str, problem: str) -> None:
        self.path = os.fspath(path)
        super().__init__(problem if problem.startswith(self.path) else f"{self.path}: {problem}")


class NetFileError(BadFileError):
    """A net file (``.mat``, ``.npz``) or a cnntrain checkpoint that cannot be read as one."""


class CorruptDataError(BadFileError):
    """A data file whose content is not the published MNIST: corrupt, truncated or unreadable
    (raised by :func:`dltoolbox.datasets.load_mnist`); ``source`` is its path or address."""

    def __init__(self, source: os.PathLike | str, problem: str) -> None:
        super().__init__(source, f"{problem}; it was not used")
        self.source = self.path
        self.problem = problem


class PathError(DltoolboxError, OSError):
    """A path that cannot be read or written (no such folder, a folder where a file is
    expected, no permission, a full disk); the message names the user's path."""


class MissingFileError(PathError, FileNotFoundError):
    """A file to read does not exist."""
