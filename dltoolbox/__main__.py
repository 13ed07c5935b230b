"""``python -m dltoolbox``: the same command line as ``dltoolbox`` (see :mod:`dltoolbox.cli`)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
