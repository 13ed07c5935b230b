"""cnnsummary: shapes, parameter counts, multiply-adds and receptive fields of a net."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import checks
from .errors import InputError
from .layers import INPUT, OUTPUT, kind_of
from .net import channels as net_channels
from .net import map_sizes
from .netcheck import output_classes


@dataclass
class LayerSummary:
    """One row: ``shape`` is (maps, rows, cols) for map layers, (classes,) for the output."""

    index: int | str
    kind: str
    shape: tuple[int, ...]
    params: int
    macs: int
    receptive_field: tuple[int, int]


@dataclass
class Summary:
    """Per-layer rows plus totals; ``str(summary)`` is a printable table."""

    rows: list[LayerSummary] = field(default_factory=list)

    @property
    def total_params(self) -> int:
        """Trainable parameters of the whole net."""
        return sum(r.params for r in self.rows)

    @property
    def total_macs(self) -> int:
        """Multiply-adds of one sample's forward pass."""
        return sum(r.macs for r in self.rows)

    def __str__(self) -> str:
        kinds = max(14, *(len(r.kind) for r in self.rows))
        shapes = [" x ".join(str(n) for n in r.shape) for r in self.rows]
        width = max(14, *map(len, shapes))
        head = f"{'layer':>6}  {'type':<{kinds}} {'output shape':<{width}} {'params':>9} "
        head += f"{'mult-adds':>11}  rf"
        lines = [head, "-" * len(head)]
        for r, shape in zip(self.rows, shapes):
            rf = f"{r.receptive_field[0]}x{r.receptive_field[1]}"
            lines.append(
                f"{r.index!s:>6}  {r.kind:<{kinds}} {shape:<{width}} {r.params:>9,} "
                f"{r.macs:>11,}  {rf}"
            )
        lines.append("-" * len(head))
        total = f"{self.total_params:>9,} {self.total_macs:>11,}"
        lines.append(f"{'total':>6}  {'':<{kinds}} {'':<{width}} {total}")
        return "\n".join(lines)


def cnnsummary(
    net: dict,
    input_size: tuple[int, int] | None = None,
    classes: int | None = None,
    channels: int | None = None,
) -> Summary:
    """Describe every layer of ``net`` for one input sample.

    Parameters
    ----------
    net : dict
        A net with ``layers`` (set up or not; it is not modified).
    input_size : (rows, cols), optional
        The input map size; taken from ``layers[0]["a"][0]`` after :func:`cnnff` when omitted.
    classes : int, optional
        The number of outputs; taken from ``ffW`` after :func:`cnnsetup` when omitted.
    channels : int, optional
        The input channel count; ``net["layers"][0]["channels"]`` (default 1) when omitted.

    Returns
    -------
    Summary
        One row per layer and one for the fully connected output: output shape, trainable
        parameters ((k*k*in + 1) * out for a conv layer, ``in`` counting the input channels for
        the first, or k*k per connection of its table + out; (features + 1) * outputs for an
        'f' layer; none for subsampling: its biases are set up but never used), multiply-adds
        per sample (k*k*in per conv output, or k*k per connection; scale^2 per pooled output
        (the mean pool's box filter; for max pooling the scale^2 comparisons); features per
        output unit of an 'f' layer or the output; activations and the softmax not counted)
        and the receptive field of one unit on the input: (rf, rf) with ``rf = rf_below +
        (window - 1) * jump_below`` (window: the kernel size or scale; ``jump``: the product
        of the strides below), counted on the padded input as usual, so padding can make it
        larger than the input; an 'f' layer's units and the output read every unit of the last
        map layer, whose fields together span ``rf + (rows - 1) * jump`` rows (the whole input,
        unless padding widened it or a dropped remainder left rows unread), and as many
        columns by the same rule. The type column names the conv layers' activation, padding,
        stride and connections, the pooling method, the 'f' layers' activation and dropout and
        the output function (``full+sigm`` or ``full+softmax``).
    """
    layers = checks.layers(net)
    if input_size is None:
        input_size = INPUT.map_size(layers[0])  # the input maps of the last cnnff
        if input_size is None:
            raise InputError("input_size: required (rows, cols) for a net that has not run cnnff")
    rows, cols = (checks.positive_int(v, "input_size") for v in input_size)
    if classes is None:
        if not OUTPUT.is_set_up(net):
            raise InputError("classes: required for a net that has not been through cnnsetup")
        classes = output_classes(net)
    classes = checks.positive_int(classes, "classes")
    if channels is None:
        channels = net_channels(net)
    channels = checks.positive_int(channels, "channels")

    sizes = map_sizes(layers, (rows, cols), channels)
    summary = Summary([LayerSummary(0, "input", sizes[0], 0, 0, (1, 1))])
    rf, jump = 1, 1  # receptive field and distance between neighbouring units, in input pixels
    field, whole = (1, 1), None  # whole: the field of a unit that reads every unit below
    for l in range(1, len(layers)):
        kind, params, macs, window, stride = kind_of(layers[l]).summary(
            layers[l], sizes[l - 1], sizes[l]
        )
        if whole is None and window is None:
            whole = _union(rf, jump, sizes[l - 1])
        if whole is not None:
            field = whole
        else:
            rf += (window - 1) * jump
            jump *= stride
            field = (rf, rf)
        summary.rows.append(LayerSummary(l, kind, sizes[l], params, macs, field))
    features = sizes[-1][0] * sizes[-1][1] * sizes[-1][2]
    kind, params, macs = OUTPUT.summary(net, features, classes)
    whole = whole or _union(rf, jump, sizes[-1])  # the output reads every unit below
    summary.rows.append(LayerSummary("output", kind, (classes,), params, macs, whole))
    return summary


def _union(rf: int, jump: int, shape: tuple[int, int, int]) -> tuple[int, int]:
    """(rows, cols) of the union of the fields of every unit of (maps, rows, cols) ``shape``,
    each ``rf`` wide, ``jump`` apart: the input itself unless padding widened it or a dropped
    remainder left its last rows or columns unread."""
    return rf + (shape[1] - 1) * jump, rf + (shape[2] - 1) * jump
