"""Damaged files, generated here: byte flips over every region of a saved ``.npz``, ``.mat`` and
cnntrain checkpoint, and truncation at many points. Each damaged file either gives the one
documented error, a NetFileError whose message names the file, or loads to exactly the net that
was saved: never another net, never another error."""

from __future__ import annotations

import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from badinput import OPTS, data, identical, make_net

import dltoolbox as dlt
from dltoolbox.checkpoint import load_checkpoint

#: Byte positions flipped per file (spread over its regions by their size, at least PER_REGION
#: in each), and the points a file is cut at.
FLIPS, PER_REGION, CUTS = 200, 3, 60


def _zip_regions(path: Path) -> dict[str, tuple[int, int]]:
    """[start, end) of each region of a zip: every member's local header and data, the central
    directory and its end record."""
    size = path.stat().st_size
    with zipfile.ZipFile(path) as z:
        infos = sorted(z.infolist(), key=lambda i: i.header_offset)
        directory = z.start_dir
    regions = {}
    for n, info in enumerate(infos):
        start = info.header_offset
        name_len, extra_len = struct.unpack_from("<HH", path.read_bytes(), start + 26)
        data_start = start + 30 + name_len + extra_len
        end = infos[n + 1].header_offset if n + 1 < len(infos) else directory
        regions[f"header {info.filename}"] = (start, data_start)
        regions[f"data {info.filename}"] = (data_start, end)
    end_record = path.read_bytes().rfind(b"PK\x05\x06")
    regions["central directory"] = (directory, end_record)
    regions["end record"] = (end_record, size)
    return regions


def _mat_regions(path: Path) -> dict[str, tuple[int, int]]:
    """The header text, the header's version and byte order, each variable's tag and data."""
    raw = path.read_bytes()
    regions = {"header text": (0, 116), "header version and order": (116, 128)}
    pos, n = 128, 0
    while pos + 8 <= len(raw):
        _, nbytes = struct.unpack_from("<II", raw, pos)
        regions[f"tag {n}"] = (pos, pos + 8)
        regions[f"data {n}"] = (pos + 8, min(pos + 8 + nbytes, len(raw)))
        pos, n = pos + 8 + nbytes + (-nbytes % 8 if raw[pos] != 15 else 0), n + 1
    return regions


def _positions(regions: dict[str, tuple[int, int]]) -> list[int]:
    """About :data:`FLIPS` positions, spread evenly over each region by its size, and at
    least :data:`PER_REGION` in each (its ends among them)."""
    size = max(end for _, end in regions.values())
    out = set()
    for start, end in regions.values():
        n = min(end - start, max(PER_REGION, FLIPS * (end - start) // size))
        if n > 0:
            out.update(np.linspace(start, end - 1, n).astype(int).tolist())
    return sorted(out)


def _outcome(load, path: Path, want: dict) -> str:
    """ "same" if ``load(path)`` gives ``want``; "refused" for a NetFileError naming the file;
    anything else fails the test."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a field name made unknown is skipped with a warning
            got = load(path)
    except dlt.NetFileError as err:
        assert str(path) in str(err), f"{err} does not name {path}"
        assert err.path == str(path)
        return "refused"
    assert identical(got, want), f"{path} loaded to another net than the one saved"
    return "same"


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict:
    """name -> (the file's bytes, its regions, how to load it, what it loads to)."""
    folder = tmp_path_factory.mktemp("saved")
    net = make_net(passes=True)
    dlt.save_net(folder / "net.npz", net)
    dlt.save_net(folder / "net.mat", net)
    x, y = data()
    dlt.cnntrain(make_net(), x, y, dict(OPTS, checkpoint=folder / "ckpt.npz"), 5)

    def checkpoint(path):
        return load_checkpoint(path)[:2]  # the net and its epochs (the state: checked by use)

    out = {}
    for name, load, regions in (
        ("net.npz", dlt.load_net, _zip_regions),
        ("net.mat", dlt.load_net, _mat_regions),
        ("ckpt.npz", checkpoint, _zip_regions),
    ):
        path = folder / name
        out[name] = (path.read_bytes(), regions(path), load, load(path))
    return out


@pytest.mark.parametrize("name", ["net.npz", "net.mat", "ckpt.npz"])
def test_byte_flips_in_every_region_are_refused_or_harmless(saved, name, tmp_path):
    raw, regions, load, want = saved[name]
    assert len(regions) >= 4 if name.endswith(".mat") else len(regions) >= 10
    seen: dict[str, set] = {region: set() for region in regions}
    for pos in _positions(regions):
        for mask in (0x01, 0xFF):
            damaged = bytearray(raw)
            damaged[pos] ^= mask
            path = tmp_path / f"flip_{pos}_{mask}_{name}"
            path.write_bytes(bytes(damaged))
            outcome = _outcome(load, path, want)
            for region, (start, end) in regions.items():
                if start <= pos < end:
                    seen[region].add(outcome)
            path.unlink()
    data_regions = [r for r in regions if r.startswith("data")]
    assert all("refused" in seen[r] for r in data_regions), seen  # the numbers are guarded


@pytest.mark.parametrize("name", ["net.npz", "net.mat", "ckpt.npz"])
def test_truncated_files_are_refused(saved, name, tmp_path):
    raw, _, load, want = saved[name]
    cuts = sorted({0, 1, 4, 127, 128, 136, len(raw) - 1, *np.linspace(0, len(raw) - 1, CUTS)})
    for cut in cuts:
        path = tmp_path / f"cut_{int(cut)}_{name}"
        path.write_bytes(raw[: int(cut)])
        assert _outcome(load, path, want) == "refused", f"{name} cut at {cut} loaded"


def test_a_damaged_checkpoint_stops_resume_and_changes_nothing(saved, tmp_path):
    raw = saved["ckpt.npz"][0]
    path = tmp_path / "ckpt.npz"
    damaged = bytearray(raw)
    damaged[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    net, rng = make_net(), dlt.OctaveRandom(5)
    before, state = [np.copy(net["ffW"])], rng.get_state()
    opts = dict(OPTS, checkpoint=path, resume=True, numepochs=2)
    with pytest.raises(dlt.NetFileError, match="ckpt.npz"):
        dlt.cnntrain(net, *data(), opts, rng)
    np.testing.assert_array_equal(net["ffW"], before[0])
    assert "rL" not in net and identical(rng.get_state(), state)
    assert path.read_bytes() == bytes(damaged)
