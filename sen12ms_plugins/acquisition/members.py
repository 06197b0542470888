"""What to do with each member of an archive, a zip or an extracted folder, decided from its header alone.

Every source of patches is a list of :class:`Entry` (a tar member, a zip member, or an
entry of a folder extracted from a zip; :func:`tar_entry`, :func:`zip_entries`,
:func:`folder_entries`) and every one is decided by :func:`decide` against the
:class:`Layout` of what it must hold: a SEN12MS archive (:class:`ArchiveLayout`,
``ROIs<season>_<sensor>.tar.gz`` holding ``<season>/<sensor>_<scene>/`` folders of
``<season>_<sensor>_<scene>_p<patch>.tif``) or a DFC2020 source (:class:`DFC2020Layout`).
Each entry is

* **kept** when it is one of the layout's folders or patches; a kept patch says where it
  lands in the root;
* **skipped** (never written, listed in the report and the record) when it is harmless but
  not a patch: a ``README``, a macOS ``._*`` AppleDouble file or ``__MACOSX/`` folder, a
  file or folder outside the layout, a deeper folder, a file with another name;
* **refused**, refusing the whole source before anything of it is moved into place, when it
  is dangerous or says that the source is not what its name claims: an absolute name,
  ``..``, an empty component, a NUL or backslash, a link, a device or fifo, an encrypted zip
  member, a folder or file of another season, set or sensor (it would land in another
  source's folders), or a patch larger than a patch of its sensor can be
  (:func:`patch_size_cap`).

The rules shared by every source are here once; what differs is a layout's data (its
folders and file names, from :mod:`~sen12ms_plugins.dataset.facts`).  Stricter than
tarfile's ``data`` filter, which :mod:`.extract` applies on top.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import stat
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from ..dataset import facts
from ..dataset.facts import SensorFormat
from ..dataset.ids import DFC2020_FILENAME_RE, FILENAME_RE, SCENE_DIR_RE
from ..errors import UnsafeArchiveError
from .reports import MAX_LISTED_SKIPS, SkippedMember

#: Room for a patch's TIFF header, tags and strip tables beyond its pixels.  The real
#: files need a few KiB (256 strips: 2 KiB of offsets and counts); 1 MiB is generous.
HEADER_MARGIN = 1 << 20
_BITS_RE = re.compile(r"(\d+)$")


def patch_size_cap(fmt: SensorFormat) -> int:
    """The most bytes a patch file of this format can hold: its bands at the widest file dtype
    it may have over ``facts.PATCH_SIZE``² pixels, plus :data:`HEADER_MARGIN`."""
    widest = max(int(_BITS_RE.search(dtype).group(1)) // 8 for dtype in fmt.file_dtypes)
    return len(fmt.bands) * widest * facts.PATCH_SIZE**2 + HEADER_MARGIN


# --- entries ----------------------------------------------------------------------------------------


class EntryKind(StrEnum):
    """What an entry is, as far as extraction is concerned."""

    FILE = "file"
    DIR = "folder"
    SYMLINK = "symbolic link"
    HARDLINK = "hard link"
    SPECIAL = "special file"  # device, fifo, socket


@dataclass(frozen=True)
class Entry:
    """One member of a source: its name (``/``-separated, relative to the source), kind and size."""

    name: str
    kind: EntryKind
    size: int = 0
    #: What a link points to, when the source says.
    link: str | None = None
    encrypted: bool = False
    #: Modification time (seconds since the epoch), given to the file written.
    mtime: float | None = None
    #: How the source opens it: a TarInfo, a ZipInfo, or the path of a folder entry.
    handle: object = field(default=None, compare=False, repr=False)

    @property
    def shown(self) -> str:
        """The name as listings show it: folders with a trailing ``/``, as ``tar -t`` lists them."""
        return f"{self.name}/" if self.kind == EntryKind.DIR and not self.name.endswith("/") else self.name


def tar_entry(member: tarfile.TarInfo) -> Entry:
    if member.isdir():
        kind = EntryKind.DIR
    elif member.isreg():
        kind = EntryKind.FILE
    elif member.issym():
        kind = EntryKind.SYMLINK
    elif member.islnk():
        kind = EntryKind.HARDLINK
    else:
        kind = EntryKind.SPECIAL
    link = member.linkname if kind in (EntryKind.SYMLINK, EntryKind.HARDLINK) else None
    return Entry(member.name, kind, member.size if kind == EntryKind.FILE else 0, link, mtime=member.mtime,
                 handle=member)


def zip_entries(archive: zipfile.ZipFile) -> Iterator[Entry]:
    """The members of a zip; a Unix mode in the member says links and devices."""
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
        mtime = _zip_mtime(info)
        yield Entry(info.filename, kind, info.file_size, encrypted=bool(info.flag_bits & 0x1), mtime=mtime,
                    handle=info)


def _zip_mtime(info: zipfile.ZipInfo) -> float | None:
    """A zip member's time: local wall-clock time, as zip tools write it."""
    try:
        return _dt.datetime(*info.date_time).timestamp()
    except (ValueError, OverflowError):
        return None


def folder_entries(base: Path, top: str) -> Iterator[Entry]:
    """The entries of folder ``base/top``, named ``top/…`` relative to ``base``; links are not
    followed (they are entries of their own, refused by :func:`decide`)."""
    pending = [top]
    while pending:
        rel = pending.pop()
        with os.scandir(base / rel) as it:
            for e in sorted(it, key=lambda e: e.name):
                name, path = f"{rel}/{e.name}", Path(e.path)
                if e.is_symlink():
                    yield Entry(name, EntryKind.SYMLINK, link=os.readlink(e.path), handle=path)
                elif e.is_dir(follow_symlinks=False):
                    yield Entry(f"{name}/", EntryKind.DIR, handle=path)
                    pending.append(name)
                elif e.is_file(follow_symlinks=False):
                    st = e.stat(follow_symlinks=False)
                    yield Entry(name, EntryKind.FILE, st.st_size, mtime=st.st_mtime, handle=path)
                else:
                    yield Entry(name, EntryKind.SPECIAL, handle=path)


# --- decisions ----------------------------------------------------------------------------------


class MemberAction(StrEnum):
    """What extraction does with one entry."""

    KEEP = "keep"
    SKIP = "skip"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Decision:
    action: MemberAction
    #: Where a kept entry lands, as path components relative to the root (empty: nothing to make).
    parts: tuple[str, ...] = ()
    #: Why it is skipped or refused (a phrase that follows the entry's name).
    reason: str = ""


class Layout(Protocol):
    """What one source must hold: the rules :func:`decide` applies after the shared ones."""

    #: The format of the patches, which bounds their size.
    fmt: SensorFormat
    #: Where the patches go, for messages: ``ROIs1158_spring/s2_<scene>/``.
    where: str

    def foreign(self, parts: list[str]) -> str | None:
        """Why an entry at ``parts`` belongs to another source (refused), if it does."""

    def folder(self, parts: list[str]) -> tuple[str, ...] | str:
        """Where a folder at ``parts`` lands (root-relative components), or why it is skipped."""

    def patch(self, parts: list[str]) -> tuple[str, ...] | str:
        """Where a file at ``parts`` lands as a patch, or why it is skipped (not a patch)."""


def path_components(name: str) -> list[str] | None:
    """Path components without leading ``./`` and trailing ``/``; None when one is ``..`` or empty."""
    parts = name.split("/")
    while parts and parts[0] == ".":
        parts.pop(0)
    while parts and parts[-1] == "":
        parts.pop()
    return None if any(p in ("", ".", "..") for p in parts) else parts


def _unsafe(entry: Entry) -> str | None:
    name = entry.name
    if "\x00" in name or "\\" in name:
        return "has a NUL or backslash in its name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "has an absolute path"
    if entry.kind in (EntryKind.SYMLINK, EntryKind.HARDLINK):
        return f"is a {entry.kind}" + (f" (to {entry.link!r})" if entry.link is not None else "")
    if entry.kind == EntryKind.SPECIAL:
        return "is a device, fifo or other special file"
    if entry.encrypted:
        return "is encrypted"
    return None


def decide(entry: Entry, layout: Layout) -> Decision:
    """What to do with ``entry`` of a source that must hold ``layout`` (see the module docstring)."""
    unsafe = _unsafe(entry)
    if unsafe is not None:
        return Decision(MemberAction.REFUSE, reason=unsafe)
    parts = path_components(entry.name)
    if parts is None:
        return Decision(MemberAction.REFUSE, reason="has '..' or an empty component in its path")
    if not parts:
        return Decision(MemberAction.KEEP) if entry.kind == EntryKind.DIR else \
            Decision(MemberAction.REFUSE, reason="has an empty name")
    foreign = layout.foreign(parts)
    if foreign is not None:
        return Decision(MemberAction.REFUSE, reason=foreign)
    if parts[-1].startswith("._") or parts[0] == "__MACOSX":
        return Decision(MemberAction.SKIP, reason=f"is a macOS {entry.kind} (._* or __MACOSX/), not a patch")
    place = layout.folder(parts) if entry.kind == EntryKind.DIR else layout.patch(parts)
    if isinstance(place, str):
        return Decision(MemberAction.SKIP, reason=place)
    cap = patch_size_cap(layout.fmt)
    if entry.size > cap:
        return Decision(MemberAction.REFUSE, reason=f"is {entry.size:,} bytes, more than a {layout.fmt.sensor} patch "
                                                    f"can be (at most {cap:,})")
    return Decision(MemberAction.KEEP, place)


@dataclass
class Skips:
    """The entries a source had that are not patches: a bounded list, and their count."""

    listed: list[SkippedMember] = field(default_factory=list)
    total: int = 0

    def add(self, entry: Entry, reason: str) -> None:
        self.total += 1
        if len(self.listed) < MAX_LISTED_SKIPS:
            self.listed.append(SkippedMember(entry.shown, reason, entry.size if entry.kind == EntryKind.FILE else 0))

    def summary(self, shown: int = 3) -> str:
        """`` (N members skipped: 'a' why; 'b' why, …)`` for an error saying a source holds no patch."""
        if not self.total:
            return ""
        listed = "; ".join(f"{s.member!r} {s.reason}" for s in self.listed[:shown])
        return f" ({self.total:,} members skipped: {listed}{', …' if self.total > shown else ''})"


def kept(entries: Iterable[Entry], layout: Layout, skips: Skips, *, source: str,
         root: str | os.PathLike[str]) -> Iterator[tuple[Entry, tuple[str, ...]]]:
    """The entries to keep, with where they land; a skipped one is added to ``skips``, a
    refused one raises :class:`~sen12ms_plugins.errors.UnsafeArchiveError` for ``source``."""
    for entry in entries:
        decision = decide(entry, layout)
        if decision.action == MemberAction.REFUSE:
            raise UnsafeArchiveError(source, entry.name, decision.reason, root)
        if decision.action == MemberAction.SKIP:
            skips.add(entry, decision.reason)
        else:
            yield entry, decision.parts


# --- the layouts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveLayout:
    """A SEN12MS archive, ``ROIs<season>_<sensor>.tar.gz``."""

    season: str
    sensor: str

    @classmethod
    def of(cls, archive: str) -> ArchiveLayout:
        return cls(*facts.parse_archive_name(archive))

    @property
    def fmt(self) -> SensorFormat:
        return facts.FORMATS[self.sensor]

    @property
    def where(self) -> str:
        return f"{self.season}/{self.sensor}_<scene>/"

    def foreign(self, parts: list[str]) -> str | None:
        if parts[0] != self.season:
            return f"is in another season's folder {parts[0]}/" if parts[0] in facts.SEASONS else None
        scene_dir = SCENE_DIR_RE.fullmatch(parts[1]) if len(parts) >= 2 else None
        if scene_dir is not None and scene_dir.group(1) != self.sensor:
            return f"is in a {scene_dir.group(1)} scene folder, not a {self.sensor} one"
        return None

    def folder(self, parts: list[str]) -> tuple[str, ...] | str:
        if parts[0] != self.season:
            return f"is a folder outside the {self.season}/ folder, not a patch"
        if len(parts) == 1:
            return tuple(parts)
        if SCENE_DIR_RE.fullmatch(parts[1]) is None:
            return f"is a folder outside the {self.sensor}_<scene> folders, not a patch"
        return tuple(parts) if len(parts) == 2 else "is a folder below a scene folder, not a patch"

    def patch(self, parts: list[str]) -> tuple[str, ...] | str:
        if parts[0] != self.season:
            return f"is a file outside the {self.season}/ folder, not a patch"
        if len(parts) == 1:
            return f"is a file in place of the {self.season}/ folder"
        scene_dir = SCENE_DIR_RE.fullmatch(parts[1])
        if scene_dir is None:
            return f"is a file outside the {self.sensor}_<scene> folders, not a patch"
        if len(parts) == 2:
            return f"is a file in place of a {self.sensor}_<scene> folder"
        if len(parts) > 3:
            return "is a file below a scene folder, not a patch"
        patch = FILENAME_RE.fullmatch(parts[2])
        if patch is None or patch.group(1, 2, 3) != (self.season, self.sensor, scene_dir.group(2)):
            return f"is not named {self.season}_{self.sensor}_{scene_dir.group(2)}_p<patch>.tif, not a patch"
        return tuple(parts)


@dataclass(frozen=True)
class DFC2020Layout:
    """One DFC2020 zip (``s1_validation.zip`` …), or a folder extracted from it.

    Whether the released zips hold the set's folder (``ROIs0000_validation/s1_validation/…``)
    or only the sensor folder (``s1_validation/…``) is not known, so both are accepted, and
    so are the patches at the top of the zip; every patch lands in
    ``<root>/ROIs0000_validation/s1_validation/``."""

    folder_name: str  # the set's folder, ROIs0000_validation or ROIs0000_test
    sensor: str

    @property
    def fmt(self) -> SensorFormat:
        return facts.DFC2020_FORMATS[self.sensor]

    @property
    def sensor_dir(self) -> str:
        return facts.dfc2020_sensor_dir(self.folder_name, self.sensor)

    @property
    def where(self) -> str:
        return f"{self.folder_name}/{self.sensor_dir}/"

    def foreign(self, parts: list[str]) -> str | None:
        first = parts[0]
        if first in facts.DFC2020_FOLDERS and first != self.folder_name:
            return f"is in the other DFC2020 set's folder {first}/"
        if first in facts.SEASONS:
            return f"is in the SEN12MS season folder {first}/"
        sensor_dir = parts[1] if first == self.folder_name and len(parts) >= 2 else first
        others = {facts.dfc2020_sensor_dir(f, s) for f in facts.DFC2020_FOLDERS for s in facts.DFC2020_SENSORS}
        if sensor_dir in others and sensor_dir != self.sensor_dir:
            return f"is in the {sensor_dir}/ folder, not {self.sensor_dir}/"
        return None

    def folder(self, parts: list[str]) -> tuple[str, ...] | str:
        if parts in ([self.folder_name], [self.folder_name, self.sensor_dir], [self.sensor_dir]):
            return ()  # the sensor folder is made whole, in its place
        return f"is a folder outside {self.where}, not a patch"

    def patch(self, parts: list[str]) -> tuple[str, ...] | str:
        if parts[:-1] not in ([], [self.folder_name, self.sensor_dir], [self.sensor_dir]):
            return f"is a file outside {self.where}, not a patch"
        m = DFC2020_FILENAME_RE.fullmatch(parts[-1])
        if m is None or m.group(1, 2) != (self.folder_name, self.sensor):
            return f"is not named {self.folder_name}_{self.sensor}_{facts.DFC2020_SCENE}_p<patch>.tif, not a patch"
        return (self.folder_name, self.sensor_dir, parts[-1])
