"""What to do with each member of a DFC2020 zip, or each entry of a folder extracted from one.

A zip such as ``s1_validation.zip`` holds the patches of one sensor of one set,
``ROIs0000_validation_s1_0_p<N>.tif``.  Whether the released zips hold the set's folder
(``ROIs0000_validation/s1_validation/…``) or only the sensor folder (``s1_validation/…``) is
not known, so each of these structures is accepted, and so are the patches at the top of
the zip; every patch lands in ``<root>/ROIs0000_validation/s1_validation/``.  Each member
(each entry of an extracted folder, named relative to the folder that holds it) is

* **kept** when it is one of those folders or one of this zip's patches;
* **skipped** (never written, listed in the report and the record) when it is harmless but
  not a patch: a README, a macOS ``._*`` file or ``__MACOSX/`` folder, a GDAL ``.aux.xml``,
  a file with another name, a deeper folder;
* **refused**, refusing the whole source before anything of it is moved into place, when it
  is dangerous or says that the source is not what its name claims: an absolute name,
  ``..``, an empty component, a NUL or backslash, a link, a device or fifo, any other special
  type, a folder of the other set or of another sensor, or a file larger than a patch of its
  sensor can be (:func:`patch_size_cap`).
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ..dataset import facts
from ..dataset.ids import DFC2020_FILENAME_RE
from .members import HEADER_MARGIN, Decision, MemberAction, path_components

_BITS_RE = re.compile(r"(\d+)$")


class EntryKind(StrEnum):
    """What a member (or a folder entry) is, as far as extraction is concerned."""

    FILE = "file"
    DIR = "folder"
    SYMLINK = "symbolic link"
    SPECIAL = "special file"  # device, fifo, socket


@dataclass(frozen=True)
class Entry:
    """One member of a source: its name (``/``-separated, relative to the source), kind and size."""

    name: str
    kind: EntryKind
    size: int = 0
    #: A zip member's ZipInfo (None for a folder entry).
    info: zipfile.ZipInfo | None = None


def patch_size_cap(sensor: str) -> int:
    """The most bytes a DFC2020 patch file of ``sensor`` can hold: its bands at the widest accepted
    file dtype (:data:`facts.DFC2020_FORMATS`) over ``facts.PATCH_SIZE``² pixels, plus
    :data:`~.members.HEADER_MARGIN`."""
    fmt = facts.DFC2020_FORMATS[sensor]
    widest = max(int(_BITS_RE.search(dtype).group(1)) // 8 for dtype in fmt.file_dtypes)
    return len(fmt.bands) * widest * facts.PATCH_SIZE**2 + HEADER_MARGIN


def zip_entries(archive: zipfile.ZipFile) -> Iterator[Entry]:
    """The members of a zip as :class:`Entry`; a Unix mode in the member says links and devices."""
    for info in archive.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            kind = EntryKind.SYMLINK
        elif info.is_dir() or stat.S_ISDIR(mode):
            kind = EntryKind.DIR
        elif stat.S_IFMT(mode) in (0, stat.S_IFREG):  # 0: no Unix mode (zips made on Windows)
            kind = EntryKind.FILE
        else:
            kind = EntryKind.SPECIAL
        yield Entry(info.filename, kind, info.file_size, info)


def folder_entries(base: Path, top: str) -> Iterator[Entry]:
    """The entries of folder ``base/top``, named ``top/…`` relative to ``base``; links are not
    followed (they are entries of their own, refused by :func:`decide`)."""
    pending = [top]
    while pending:
        rel = pending.pop()
        with os.scandir(base / rel) as it:
            for e in sorted(it, key=lambda e: e.name):
                name = f"{rel}/{e.name}"
                if e.is_symlink():
                    yield Entry(name, EntryKind.SYMLINK)
                elif e.is_dir(follow_symlinks=False):
                    yield Entry(f"{name}/", EntryKind.DIR)
                    pending.append(name)
                elif e.is_file(follow_symlinks=False):
                    yield Entry(name, EntryKind.FILE, e.stat(follow_symlinks=False).st_size)
                else:
                    yield Entry(name, EntryKind.SPECIAL)


def _unsafe(entry: Entry) -> str | None:
    name = entry.name
    if "\x00" in name or "\\" in name:
        return "has a NUL or backslash in its name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "has an absolute path"
    if entry.kind == EntryKind.SYMLINK:
        return "is a symbolic link"
    if entry.kind == EntryKind.SPECIAL:
        return "is a device, fifo or socket"
    if entry.info is not None and entry.info.flag_bits & 0x1:
        return "is encrypted"
    return None


def _foreign(parts: list[str], folder: str, sensor: str) -> str | None:
    """Why the member belongs to another source (the other set, another sensor), if it does."""
    first = parts[0]
    if first in facts.DFC2020_FOLDERS and first != folder:
        return f"is in the other DFC2020 set's folder {first}/"
    if first in facts.SEASONS:
        return f"is in the SEN12MS season folder {first}/"
    sensor_dir = parts[1] if first == folder and len(parts) >= 2 else first
    others = {facts.dfc2020_sensor_dir(f, s) for f in facts.DFC2020_FOLDERS for s in facts.DFC2020_SENSORS}
    mine = facts.dfc2020_sensor_dir(folder, sensor)
    if sensor_dir in others and sensor_dir != mine:
        return f"is in the {sensor_dir}/ folder, not {mine}/"
    return None


def decide(entry: Entry, folder: str, sensor: str) -> Decision:
    """What to do with ``entry`` of the source of set ``folder``'s ``sensor`` (module docstring).

    A kept file's ``parts`` are its place relative to the root:
    ``(folder, sensor folder, file name)``; a kept folder has no parts (nothing to write).
    """
    unsafe = _unsafe(entry)
    if unsafe is not None:
        return Decision(MemberAction.REFUSE, reason=unsafe)
    parts = path_components(entry.name)
    if parts is None:
        return Decision(MemberAction.REFUSE, reason="has '..' or an empty component in its path")
    if not parts:
        return Decision(MemberAction.KEEP) if entry.kind == EntryKind.DIR else \
            Decision(MemberAction.REFUSE, reason="has an empty name")
    foreign = _foreign(parts, folder, sensor)
    if foreign is not None:
        return Decision(MemberAction.REFUSE, reason=foreign)
    kind = entry.kind.value
    if parts[-1].startswith("._") or parts[0] == "__MACOSX":
        return Decision(MemberAction.SKIP, reason=f"is a macOS {kind} (._*, __MACOSX), not a patch")
    sensor_dir = facts.dfc2020_sensor_dir(folder, sensor)
    layout = [folder, sensor_dir]
    # The place of the member's parent: the set's folder, its sensor folder, or the zip's top.
    prefix = parts[:-1]
    if entry.kind == EntryKind.DIR:
        if parts in (layout[:1], layout, layout[1:]):
            return Decision(MemberAction.KEEP)
        return Decision(MemberAction.SKIP, reason=f"is a {kind} outside {folder}/{sensor_dir}/, not a patch")
    if prefix not in ([], layout, layout[1:]):
        return Decision(MemberAction.SKIP, reason=f"is a {kind} outside {folder}/{sensor_dir}/, not a patch")
    m = DFC2020_FILENAME_RE.fullmatch(parts[-1])
    if m is None or m.group(1, 2) != (folder, sensor):
        return Decision(MemberAction.SKIP,
                        reason=f"is not named {folder}_{sensor}_{facts.DFC2020_SCENE}_p<patch>.tif, not a patch")
    cap = patch_size_cap(sensor)
    if entry.size > cap:
        return Decision(MemberAction.REFUSE, reason=f"is {entry.size:,} bytes, more than a {sensor} patch can be "
                                                    f"(at most {cap:,})")
    return Decision(MemberAction.KEEP, (folder, sensor_dir, parts[-1]))
