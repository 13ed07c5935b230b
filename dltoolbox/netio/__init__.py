"""Nets in files: MATLAB/Octave ``.mat`` structs, a native ``.npz``, and side-by-side comparison.

A ``.mat`` file holds the net as the toolbox's struct (``layers`` a cell column of structs with
``type``, ``outputmaps``, ``kernelsize``, ``scale``, ``k`` a cell of cells ``k{i}{j}``, ``b`` a
cell; ``ffW``, ``ffb``, ``rL`` ...), so MATLAB or Octave can ``load`` it and run the original
``cnnff`` / ``cnntest`` on it, and a net MATLAB or Octave saved (``save``, v6/v7; Octave
``save -v7`` / ``-mat``) loads here. ``.npz`` is the native format: an exact round trip, no pickle.

Both formats walk the one field table of :mod:`dltoolbox.net`: each field is written and read
by its form (:mod:`.matfile`, :mod:`.npzfile`) and compared by it (:mod:`.compare`).
"""

from __future__ import annotations

from ..spec import spec_of
from .compare import compare_nets, comparison_table
from .files import load_net, save_net
from .matfile import split_selector
from .npzfile import net_from_arrays, net_to_arrays

__all__ = [
    "compare_nets",
    "comparison_table",
    "load_net",
    "net_from_arrays",
    "net_to_arrays",
    "save_net",
    "spec_of",
    "split_selector",
]
