"""``save_net`` and ``load_net``: a net to a file and back, in the format its name says."""

from __future__ import annotations

import re
from pathlib import Path

from ..constraints import BOOLEAN, PATH, check
from ..errors import InputError, InputTypeError, MissingFileError, NetFileError, PathError
from ..fileutil import PathLike
from ..netcheck import check_finite
from .fields import checked_net
from .matfile import load_mat, save_mat, split_selector
from .npzfile import load_npz, save_npz

_MATLAB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")


def save_net(
    path: PathLike,
    net: dict,
    name: str = "cnn",
    *,
    activations: bool = True,
    allow_nonfinite: bool = False,
) -> Path:
    """Write ``net`` to ``path`` atomically, as a MATLAB struct (``.mat``) or natively (``.npz``).

    Parameters
    ----------
    path : str or path-like
        Ending in ``.mat`` (MATLAB v7 format, compressed, readable by MATLAB's and Octave's
        ``load``) or ``.npz`` (dltoolbox's own format, an exact round trip, no pickle).
    net : dict
        A dltoolbox net. Toolbox fields are written (``layers`` with ``type``, ``outputmaps``,
        ``kernelsize``, ``scale``, ``k``, ``b``, ``a``, ``d``, ``dk``, ``db``; ``ffW``, ``ffb``,
        ``rL``, ``fv``, ``o``, ``e``, ``L``, ``od``, ``fvd``, ``dffW``, ``dffb``) as they are
        present, with the options beyond the toolbox (the input layer's ``channels``; the
        momentum velocities ``vk``, ``vb``, ``vffW``, ``vffb``, kept also with
        ``activations=False``), and string fields (such as ``engine``, ``output``, a layer's
        ``activation`` and ``method``): every field of :func:`dltoolbox.net.top_fields` and
        :func:`dltoolbox.net.layer_fields` (the layer options of docs/options.md included);
        other fields are skipped with a warning.
    name : str
        The MATLAB variable name in a ``.mat`` file (``load(path)`` then gives ``cnn``).
    activations : bool
        False writes only the layer structure and parameters (``k``, ``b``, ``ffW``, ``ffb``,
        ``rL``), not the maps and gradients of the last pass.
    allow_nonfinite : bool
        False (the default) refuses a net whose parameters or velocities hold NaN or Inf (a
        diverged or damaged net) with a NetFieldError naming the field; True writes it.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    NetFieldError
        A parameter or velocity holds NaN or Inf (unless ``allow_nonfinite``), or a field is not
        of its form.
    PathError
        The file cannot be written (no such folder, a folder in its place); it names ``path``.

    In the ``.mat`` struct, ``layers`` is a cell column, ``k`` a (1, inputmaps) cell of
    (1, outputmaps) cells of (ks, ks) kernels, ``b`` a (1, maps) cell of scalars, maps
    (rows, cols, batch), ``ffb`` (classes, 1), ``rL`` a row; integers are stored as doubles, as
    MATLAB's literals are.
    """
    path = Path(path)
    checked_net(net)
    check(allow_nonfinite, BOOLEAN, "allow_nonfinite")
    if not allow_nonfinite:
        check_finite(net, "; save_net(..., allow_nonfinite=True) writes it anyway")
    suffix = path.suffix.lower()
    if suffix == ".mat":
        if not isinstance(name, str) or not _MATLAB_NAME.fullmatch(name):
            raise InputError(
                f"name: expected a MATLAB variable name (a letter, then letters, digits or _; "
                f"at most 63), got {name!r}"
            )
        return save_mat(path, net, name, activations)
    if suffix == ".npz":
        return save_npz(path, net, activations)
    raise InputError(f"path: expected a file name ending in .mat or .npz, got {str(path)!r}")


def _sniff(path: Path) -> str:
    """'npz', 'mat', or a NetFileError naming a format this module cannot read."""
    try:
        with open(path, "rb") as f:
            head = f.read(640)
    except OSError as err:
        raise PathError(f"path: cannot read {str(path)!r}: {err.strerror or err}") from None
    if head.startswith(b"PK\x03\x04"):
        return "npz"
    if path.suffix.lower() == ".npz":
        raise NetFileError(path, "not an .npz (zip) file: damaged, or of another format")
    if head.startswith(b"\x89HDF\r\n\x1a\n") or head[512:520] == b"\x89HDF\r\n\x1a\n":
        raise NetFileError(
            path,
            "an HDF5 file (MATLAB save -v7.3, or Octave save -hdf5), which dltoolbox "
            "does not read; in MATLAB save it with save(FILE, 'cnn', '-v7'), in Octave with "
            "save -v7 FILE cnn",
        )
    if head.startswith(b"Octave-1-"):
        raise NetFileError(
            path, "Octave's own binary format; save it with save -v7 FILE cnn instead"
        )
    if head.startswith(b"\x1f\x8b"):
        raise NetFileError(
            path, "a gzip-compressed file (Octave save -z); save it with save -v7 FILE cnn"
        )
    if head.startswith(b"# Created by Octave") or head.startswith(b"# name:"):
        raise NetFileError(
            path,
            "Octave's text format (what Octave's save writes by default); save it "
            "with save -v7 FILE cnn (or -mat) so it is a .mat file",
        )
    return "mat"


def load_net(path: PathLike, name: str | None = None) -> dict:
    """Read a net from a ``.mat`` struct (MATLAB or Octave) or a dltoolbox ``.npz``.

    Parameters
    ----------
    path : str or path-like
        A ``.mat`` file (MATLAB ``save``, v6/v7; Octave ``save -v7`` / ``-mat``), optionally
        ``"FILE.mat:VARIABLE"``, or an ``.npz`` written by :func:`save_net`.
    name : str, optional
        The struct variable to read from a ``.mat`` file; it may follow fields and cells, as
        ``dup2.net_bp`` or ``net_after_epoch{2}`` (1-based). Without it the file must hold
        exactly one net struct (a struct with a ``layers`` field).

    Returns
    -------
    net : dict
        0-based lists: ``layers[l]`` with ``type`` (str), ``outputmaps``, ``kernelsize``,
        ``scale`` (int), ``k[i][j]`` (ks, ks; a :class:`dltoolbox.net.KernelStack`), ``b[j]``
        (float), and, when present, ``a[j]`` / ``d[j]`` (rows, cols, batch), ``dk``, ``db``;
        ``ffW`` (classes, features), ``ffb`` (classes, 1), ``rL`` (n,), ``fv``, ``o``, ``e``,
        ``L`` (float), ``od``, ``fvd``, ``dffW``, ``dffb``, each dict's keys in the order of the
        field table. Maps Octave stored without their trailing singleton batch axis get it
        back. Arrays keep their dtype (double or single).

    Raises
    ------
    MissingFileError
        No such file (a FileNotFoundError; a folder is a PathError).
    NetFileError
        A damaged or truncated file; HDF5 (MATLAB -v7.3, Octave -hdf5), Octave text or binary
        formats; pickled objects in an ``.npz`` (never unpickled); no net in the file, or several
        and no ``name``; a struct that is not shaped like the toolbox's net. The message starts
        with the file's name (a ValueError, see docs/errors.md).
    """
    check(path, PATH, "path")
    file, selector = split_selector(path)
    if name is not None:
        if not isinstance(name, str):
            raise InputTypeError(f"name: expected a str or None, got {type(name).__name__}")
        if selector is not None and selector != name:
            raise InputError(f"name: {name!r} conflicts with the variable in path {str(path)!r}")
        selector = name
    if file.is_dir():
        raise PathError(f"path: {str(file)!r} is a folder, expected a .mat or .npz file")
    if not file.is_file():
        raise MissingFileError(f"path: no such file {str(file)!r}")
    kind = _sniff(file)
    if kind == "npz":
        if selector is not None:
            raise InputError(f"name: an .npz file holds one net; got variable {selector!r}")
        return load_npz(file)
    return load_mat(file, selector)
