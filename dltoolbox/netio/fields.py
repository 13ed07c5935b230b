"""What the file formats share: the net's fields, by name and form, from :mod:`dltoolbox.net`.

Every format walks the same tables: :func:`table_of` gives the fields of the net dict or of a
layer, :func:`fields_to_write` the fields of a dict that a file holds (with the form each is
written in), :func:`in_table_order` the key order of a dict read back.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterator
from typing import Any

from ..errors import DltoolboxError, InputError, InputTypeError, NetFieldError
from ..layers import KINDS
from ..net import ROLES, Field, field_table


@functools.cache
def _every_kind_table() -> dict[str, Field]:
    fields: dict[str, Field] = {}
    for kind in KINDS.values():
        for field in kind.fields:
            fields.setdefault(field.name, field)
    order = sorted(
        fields.values(),
        key=lambda f: (f.form == "str" and f.name != "type", ROLES.index(f.role)),
    )
    return {field.name: field for field in order}


def table_of(layer_type: str | None = None) -> dict[str, Field]:
    """The fields by name, in the order files write them, of the net dict (``layer_type``
    None) or of a layer of type ``layer_type``.

    A type no kind has gets the fields of every kind (each read and written by its name, as
    files always did): type and integers first, then parameters, maps, gradients, velocities,
    and strings last.
    """
    if layer_type is None or layer_type in KINDS:
        return field_table(layer_type)
    return _every_kind_table()


def fields_to_write(
    d: dict, table: dict[str, Field], activations: bool = True, exclude: tuple[str, ...] = ()
) -> Iterator[tuple[str, str | None, Any]]:
    """(key, form, value) of every field of ``d`` a file holds, the table's first (in its order).

    The fields of the last pass are left out unless ``activations``.
    A key the table lacks is written as a string when it holds one; form None marks a field
    no file can hold (not in the table and not a string, or a string field holding something
    else): the caller skips it and reports it with :func:`warn_skipped`. Keys in ``exclude``
    are left out.
    """
    for key, field in table.items():
        wanted = activations or not field.of_last_pass
        if wanted and key in d and key not in exclude:
            yield key, _write_form(field.form, d[key]), d[key]
    for key, value in d.items():
        if key not in table and key not in exclude:
            yield key, _write_form("str", value), value


def _write_form(form: str, value: Any) -> str | None:
    return None if form == "str" and not isinstance(value, str) else form


def in_table_order(d: dict, table: dict[str, Field]) -> dict:
    """``d`` with the table's keys first, in its order, then the others as they come."""
    rank = {key: n for n, key in enumerate(table)}
    return dict(sorted(d.items(), key=lambda item: rank.get(item[0], len(rank))))


@contextlib.contextmanager
def writing(at: str, form: str) -> Iterator[None]:
    """Around the writing of the field ``at`` of ``form``: a value of another form (a kernel
    grid that is not a list of lists, ...) is a NetFieldError naming it."""
    try:
        yield
    except DltoolboxError:
        raise
    except (TypeError, ValueError, AttributeError, IndexError) as err:
        raise NetFieldError(at, f"cannot be written as a {form!r} field ({err})") from None


def warn_skipped(names: list[str], action: str) -> None:
    """The warning for fields no file holds (``names``, as ``net["layers"][1]["junk"]``)."""
    if names:
        warnings.warn(
            f"{action}: fields {names} are not toolbox net fields (nor strings); skipped",
            stacklevel=3,
        )


def checked_net(net: Any) -> dict:
    """``net`` if it is a dict whose layers are dicts with a str ``type``; else an error."""
    if not isinstance(net, dict):
        raise InputTypeError(f"net: expected a dict (a dltoolbox net), got {type(net).__name__}")
    layers = net.get("layers")
    if not isinstance(layers, (list, tuple)) or not layers:
        raise InputError('net["layers"]: expected a non-empty list of layer dicts')
    for l, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("type"), str):
            raise InputTypeError(f'net["layers"][{l}]: expected a dict with a str "type"')
    return net
