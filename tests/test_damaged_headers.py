"""Damaged TIFF headers, made from copies of the real files: ``verify --deep`` and the reader
never crash on one; every outcome is a valid patch or a problem naming the file.

The damage is of every kind a header can have: cut anywhere, each tag's type, count and
value replaced by impossible ones, the IFD pointer and entry count garbled, the strip
tables shortened or pointing beyond the file, and random bytes flipped in the header.
"""

from __future__ import annotations

import random
import shutil
import struct

import pytest

from sen12ms_plugins.acquisition.verify import verify_tree
from sen12ms_plugins.dataset.ids import PatchId
from sen12ms_plugins.errors import DamagedHeaderError, PatchFileError
from sen12ms_plugins.reading import fastread
from sen12ms_plugins.reading.reader import read_file

from .realdata import PID, place_real_triplet, real_file

_STRIP_OFFSETS, _STRIP_BYTE_COUNTS = 273, 279


def _entries(data: bytes) -> list[tuple[int, int, int, int, int]]:
    """(position, tag, type, count, value) of every entry of IFD 0."""
    (ifd,) = struct.unpack_from("<I", data, 4)
    (n,) = struct.unpack_from("<H", data, ifd)
    return [(ifd + 2 + 12 * k, *struct.unpack_from("<HHII", data, ifd + 2 + 12 * k)) for k in range(n)]


def _set_entry(data: bytes, tag: int, ftype: int | None = None, count: int | None = None,
               value: int | None = None) -> bytes:
    out = bytearray(data)
    for at, t, old_type, old_count, old_value in _entries(data):
        if t == tag:
            struct.pack_into("<HHII", out, at, t, old_type if ftype is None else ftype,
                             old_count if count is None else count, old_value if value is None else value)
    return bytes(out)


def _set_table(data: bytes, tag: int, values: list[int]) -> bytes:
    """Overwrite the first entries of a LONG array tag stored out of line."""
    out = bytearray(data)
    (at, _, ftype, count, offset), = [e for e in _entries(data) if e[1] == tag]
    assert ftype == 4 and count > 1
    struct.pack_into(f"<{len(values)}I", out, offset, *values)
    return bytes(out)


def deliberate(sensor: str) -> dict[str, tuple[bytes, str]]:
    """Damage whose problem is known: name -> (bytes, what the problem must say)."""
    good = real_file(sensor).read_bytes()
    return {
        "byte counts shorter than offsets": (_set_entry(good, _STRIP_BYTE_COUNTS, count=10),
                                             "StripByteCounts has 10 entries, StripOffsets"),
        "offsets beyond the file": (_set_table(good, _STRIP_OFFSETS, [0xFFFFFFF0] * 4), "beyond the end of the file"),
        "offset table beyond the file": (_set_entry(good, _STRIP_OFFSETS, value=0xFFFFFF00),
                                         "header points beyond the end of the file"),
        "absurd strip count": (_set_entry(good, _STRIP_OFFSETS, count=0x3FFFFFFF), "beyond the end of the file"),
        "wrong width": (_set_entry(good, 256, value=512), "is 512x256 pixels, a patch is square"),
        "wrong samples per pixel": (_set_entry(good, 277, value=3), "cannot be read as a GeoTIFF"),
        "cut in the pixels": (good[: len(good) // 2], "truncated: its image data ends at byte"),
        "cut in the header": (good[:100], "cannot be read as a GeoTIFF"),
        "not a TIFF": (b"XX" + good[2:], "cannot be read as a GeoTIFF"),
        "empty": (b"", "truncated: 0 bytes, too short for a TIFF header"),
    }


def fuzzed(sensor: str, flips: int = 40) -> dict[str, bytes]:
    """Every other kind of damage, whose outcome may be either a valid patch or a problem."""
    good = real_file(sensor).read_bytes()
    size = len(good)
    entries = _entries(good)
    variants = {f"cut at {cut}": good[:cut] for cut in (1, 7, 8, 9, entries[0][0] + 6, entries[-1][0] + 14, size - 1)}
    for _, tag, ftype, count, value in entries:
        for name, change in {"type 0": {"ftype": 0}, "type 99": {"ftype": 99}, "RATIONAL": {"ftype": 5},
                             "count 0": {"count": 0}, "count max": {"count": 0xFFFFFFFF},
                             "count +1": {"count": count + 1}, "count -1": {"count": max(count - 1, 0)},
                             "value 0": {"value": 0}, "value = size": {"value": size},
                             "value max": {"value": 0xFFFFFFFF}, "value at end": {"value": size - 2}}.items():
            variants[f"tag {tag} {name}"] = _set_entry(good, tag, **change)
    for name, ifd in {"IFD at 0": 0, "IFD at 3": 3, "IFD beyond": 0xFFFFFFFF, "IFD at end": size}.items():
        variants[name] = good[:4] + struct.pack("<I", ifd) + good[8:]
    at = entries[0][0] - 2
    for name, n in {"no entries": 0, "one entry": 1, "65535 entries": 0xFFFF}.items():
        variants[name] = good[:at] + struct.pack("<H", n) + good[at + 2:]
    rng = random.Random(f"sen12ms-fuzz-{sensor}")
    for k in range(flips):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(0, min(size, 4096))] = rng.randrange(256)
        variants[f"flip {k}"] = bytes(data)
    return variants


@pytest.fixture(scope="module")
def damaged_tree(tmp_path_factory):
    """The real triplet, and one triplet per damaged file (its partners intact copies)."""
    root = tmp_path_factory.mktemp("damaged") / "root"
    place_real_triplet(root)
    cases: dict[str, tuple[PatchId, str, str | None]] = {}  # name -> (triplet, damaged sensor, expected problem)
    number = 1000
    for sensor in ("s1", "s2"):
        named = {name: (data, expected) for name, (data, expected) in deliberate(sensor).items()}
        named.update({name: (data, None) for name, data in fuzzed(sensor).items()})
        for name, (data, expected) in named.items():
            pid = PatchId(PID.season, PID.scene, number)
            number += 1
            for s in ("s1", "s2", "lc"):
                shutil.copyfile(PID.path(root, s), pid.path(root, s))
            pid.path(root, sensor).write_bytes(data)
            cases[f"{sensor}: {name}"] = (pid, sensor, expected)
    return root, cases


def test_verify_deep_reports_every_damaged_header_by_name(damaged_tree):
    root, cases = damaged_tree
    report = verify_tree(root, deep=True, quiet=True)
    bad = {b["path"]: b["problem"] for b in report.tree.bad_files}
    assert report.tree.files_checked == 3 * (len(cases) + 1)
    damaged = {pid.relpath(sensor) for pid, sensor, _ in cases.values()}
    assert set(bad) <= damaged, "an intact partner file was reported"
    for name, (pid, sensor, expected) in cases.items():
        if expected is not None:
            assert expected in bad.get(pid.relpath(sensor), ""), (name, bad.get(pid.relpath(sensor)))
    assert any(p.startswith("damaged TIFF header: ") for p in bad.values())
    assert len(bad) >= len([c for c in cases.values() if c[2] is not None])
    assert not report.ok and any(f"{len(bad):,} of " in p for p in report.problems)


def test_every_outcome_of_reading_is_a_patch_or_an_error_naming_the_file(damaged_tree):
    """And a file ``verify --deep`` passes is one the reader reads; one it refuses, the reader
    refuses in the same words (one of the problems verify lists for it), with nothing of the
    libraries' own remainder ("Read failed. See previous exception for details.")."""
    root, cases = damaged_tree
    bad = {b["path"]: b["problem"] for b in verify_tree(root, deep=True, quiet=True).tree.bad_files}
    outcomes = {"read": 0, "refused": 0}
    for name, (pid, sensor, _) in cases.items():
        path = pid.path(root, sensor)
        try:
            array = read_file(path, sensor)
        except PatchFileError as exc:
            assert str(exc) == f"{path}: {exc.problem}", name
            assert pid.relpath(sensor) in bad, f"{name}: verify --deep passed a file the reader refuses ({exc})"
            assert exc.problem in bad[pid.relpath(sensor)].split("; "), (name, exc.problem, bad[pid.relpath(sensor)])
            assert "See previous exception" not in exc.problem and "Read failed" not in exc.problem, name
            outcomes["refused"] += 1
            continue
        assert array.shape == ((2, 256, 256) if sensor == "s1" else (13, 256, 256)), name
        outcomes["read"] += 1
    assert outcomes["read"] > 0 and outcomes["refused"] > 0, outcomes


def test_the_fast_reader_names_the_damage_and_allocates_nothing_for_it(tmp_path, monkeypatch):
    def no_allocation(*args, **kwargs):
        raise AssertionError("fastread allocated a buffer for a file it cannot read")

    path = tmp_path / "damaged.tif"
    monkeypatch.setattr(fastread, "_scratch", no_allocation)
    for sensor in ("s1", "s2"):
        for name, (data, _) in deliberate(sensor).items():
            path.write_bytes(data)
            with pytest.raises(DamagedHeaderError) as caught:
                fastread.read_bands(path, [1])
            assert str(caught.value), name  # the reason, for the fallback message
