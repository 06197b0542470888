"""``sen12ms add-dfc2020``: add the DFC2020 validation and test sets to a SEN12MS root.

DFC2020 is distributed on IEEE DataPort behind a login (:data:`~sen12ms_plugins.dataset.facts.DFC2020_URL`),
so it is never downloaded: the user downloads the zips (:data:`~sen12ms_plugins.dataset.facts.DFC2020_ZIPS`)
into a folder and :func:`add_dfc2020` takes them from there, or folders already extracted from
them (``DIR/s1_validation/`` or ``DIR/ROIs0000_validation/s1_validation/``; a zip wins over a
folder of the same source, with a note).  The patches land in
``<root>/ROIs0000_validation/<sensor>_validation/`` and ``<root>/ROIs0000_test/<sensor>_0/``,
where the index finds them.  The same guarantees as ``extract``:

Safe
    Every member is decided before anything is written (:mod:`.dfc2020_members`): patches are
    kept, harmless other members skipped and listed, a dangerous one (a link, ``..``, an
    absolute name, another set's or sensor's folder, a file larger than a patch) refuses the
    source.  A kept patch whose header shows a band count or data type that its sensor's
    patches cannot have refuses the source too.
Atomic per set
    A set's sources are written into one temporary folder of the root, then each sensor
    folder is moved into place with one ``rename`` (swapped with an older copy in one step
    where the file system can), and the record (:mod:`.dfc2020_records`) is written last.
    An error deletes the temporary folder; a run killed while moving is recovered by the next.
Once
    A source already added (the same zip by size, mtime and inode, or by md5; the same
    folder by its listing) is not added again.
Recorded
    The md5 of each zip (of a folder: of its files), and the md5 of every file written, which
    ``verify`` checks.

A set is added whole: a source given for one of a set's four sensors needs the three others,
given too or already in the root; otherwise nothing is done (:class:`DFC2020SourceError`).
A folder that is already the root's own (a zip extracted into the root by hand) is recorded
in place, nothing copied.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Iterator

from ..console import Progress
from ..dataset import facts
from ..dataset.index import build_index
from ..dataset.root import resolve_root
from ..errors import (
    BadArchiveError,
    DamagedHeaderError,
    DFC2020SourceError,
    DiskFullError,
    ExtractError,
    UnsafeArchiveError,
    UnsupportedLayoutError,
)
from ..fsutil import DISK_FULL_ERRNOS, make_writable_dir
from ..reading.fastread import read_layout
from . import dfc2020_records as dfc_records
from .dfc2020_members import Entry, EntryKind, decide, folder_entries, patch_size_cap, zip_entries
from .hashing import md5_file, new_md5
from .members import MemberAction
from .records import file_key, root_lock
from .reports import MAX_LISTED_SKIPS, AddReport, AddStatus, SkippedMember, SourceOutcome
from .staging import restore_and_remove_temps, swap_into_place
from .workfiles import temp_prefix

_COPY_CHUNK = 1 << 20


class SourceKind(StrEnum):
    ZIP = "zip"
    FOLDER = "folder"


@dataclass(frozen=True)
class Source:
    """Where one zip's content comes from: the zip, or a folder extracted from it."""

    name: str  # the zip's official name
    folder: str  # the set's folder
    sensor: str
    kind: SourceKind
    path: Path
    base: Path | None = None  # a folder source: its entries are named relative to this folder
    top: str = ""  # ... as ``top/…``

    @property
    def sensor_dir(self) -> str:
        return facts.dfc2020_sensor_dir(self.folder, self.sensor)

    def entries(self, archive: zipfile.ZipFile | None = None) -> Iterator[Entry]:
        return zip_entries(archive) if archive is not None else folder_entries(self.base, self.top)


def find_sources(source_dir: Path) -> tuple[list[Source], list[str]]:
    """The sources in ``source_dir`` (a zip, else an extracted folder, per zip name), and notes on
    the copies not used."""
    sources: list[Source] = []
    notes: list[str] = []
    for name, (folder, sensor) in facts.DFC2020_ZIPS.items():
        sensor_dir = facts.dfc2020_sensor_dir(folder, sensor)
        folders = [(base, sensor_dir) for base in (source_dir / folder, source_dir) if (base / sensor_dir).is_dir()]
        if (source_dir / name).is_file():
            sources.append(Source(name, folder, sensor, SourceKind.ZIP, source_dir / name))
            notes += [f"{base / top}: not used, {name} is" for base, top in folders]
        elif folders:
            base, top = folders[0]
            sources.append(Source(name, folder, sensor, SourceKind.FOLDER, base / top, base, top))
            notes += [f"{b / t}: not used, {base / top} is" for b, t in folders[1:]]
    return sources, notes


def _check_complete_sets(root: Path, source_dir: Path, sources: list[Source]) -> None:
    """Refuse, before anything is done, a set given in part whose other sensors the root lacks."""
    problems = []
    for folder in facts.DFC2020_FOLDERS:
        given = {s.sensor for s in sources if s.folder == folder}
        if not given:
            continue
        lacking = [facts.dfc2020_zip_name(folder, sensor) for sensor in facts.DFC2020_SENSORS
                   if sensor not in given and not (root / folder / facts.dfc2020_sensor_dir(folder, sensor)).is_dir()]
        if lacking:
            problems.append(f"{folder} needs all of s1, s2, lc and dfc: {source_dir} lacks {', '.join(lacking)} "
                            f"(nor a folder extracted from {'it' if len(lacking) == 1 else 'them'}), and {root} "
                            "does not hold them either")
    if problems:
        raise DFC2020SourceError("; ".join(problems) + "; nothing was added")


@dataclass
class _Staged:
    """One source's patches, written (into the temporary folder, or recorded in place)."""

    source: Source
    md5: str = ""
    key: object = None
    files: dict[str, str] = field(default_factory=dict)  # file name -> md5
    nbytes: int = 0
    dtypes: set[str] = field(default_factory=set)
    skipped: list[SkippedMember] = field(default_factory=list)
    skipped_total: int = 0
    in_place: bool = False
    seconds: float = 0.0

    def skip(self, entry: Entry, reason: str) -> None:
        self.skipped_total += 1
        if len(self.skipped) < MAX_LISTED_SKIPS:
            self.skipped.append(SkippedMember(entry.name, reason, entry.size if entry.kind == EntryKind.FILE else 0))

    def outcome(self, status: AddStatus) -> SourceOutcome:
        return SourceOutcome(self.source.name, self.source.kind.value, str(self.source.path), status,
                             len(self.files), self.nbytes, self.md5, sorted(self.dtypes), round(self.seconds, 3),
                             self.skipped, self.skipped_total)


def _listing(source: Source) -> tuple[list[Entry], str]:
    """A folder source's entries and its listing key (names, sizes and mtimes: nothing read)."""
    entries = list(source.entries())
    stats = [(e.name, os.stat(source.base / e.name, follow_symlinks=False)) for e in entries]
    return entries, dfc_records.listing_key(stats)


def _copy(src: BinaryIO, path: Path, cap: int, refuse: Callable[[str], Exception]) -> tuple[int, str]:
    """Copy ``src`` into the new file ``path``; (bytes, md5).  More than ``cap`` bytes is refused."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    except FileExistsError:
        raise refuse("appears twice") from None
    hasher, written = new_md5(), 0
    with open(fd, "wb") as out:
        while chunk := src.read(_COPY_CHUNK):
            written += len(chunk)
            if written > cap:  # the declared size said less: the data itself is too large
                raise refuse(f"holds more than the {cap:,} bytes a patch can have")
            hasher.update(chunk)
            out.write(chunk)
    return written, hasher.hexdigest()


def _profile(path: Path) -> tuple[int, str, int, int]:
    """(bands, dtype, width, height) of a GeoTIFF: from the fast parser, else (compressed,
    tiled …) from rasterio.  Raises :class:`DamagedHeaderError` or ``RasterioError``."""
    try:
        layout = read_layout(path)
        return layout.count, layout.dtype.newbyteorder("=").name, layout.width, layout.height
    except DamagedHeaderError:
        raise
    except UnsupportedLayoutError:
        pass
    import rasterio  # deferred: GDAL is needed only for the layouts the fast parser leaves to it
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the release's georeference is stripped
        with rasterio.open(path) as src:
            return src.count, src.dtypes[0], src.width, src.height


def _header_problem(path: Path, sensor: str) -> tuple[str | None, str | None]:
    """(what is wrong, the file's dtype) from a patch's header."""
    from rasterio.errors import RasterioError  # deferred, as in _profile

    fmt = facts.DFC2020_FORMATS[sensor]
    try:
        count, dtype, width, height = _profile(path)
    except DamagedHeaderError as exc:
        return f"has a damaged TIFF header ({exc})", None
    except RasterioError as exc:
        return f"cannot be read as a GeoTIFF ({exc})", None
    if count != len(fmt.bands):
        return f"has {count} bands, a DFC2020 {sensor} patch has {len(fmt.bands)}", dtype
    if dtype not in fmt.file_dtypes:
        return f"has data type {dtype}, a DFC2020 {sensor} patch has {fmt.describe_file_dtypes()}", dtype
    if width != height:
        return f"is {width}x{height} pixels, a patch is square", dtype
    return None, dtype


def _stage(root: Path, temp: Path, source: Source, quiet: bool) -> _Staged:
    """Decide every member of ``source`` and write its patches into ``temp`` (or, for a folder
    that already is the root's, hash them where they are)."""
    started = time.monotonic()
    staged = _Staged(source)
    target_dir = temp / source.folder / source.sensor_dir
    cap = patch_size_cap(source.sensor)

    def refuse(member: str) -> Callable[[str], Exception]:
        return lambda problem: UnsafeArchiveError(source.name, member, problem, root)

    def keep(entry: Entry, parts: tuple[str, ...], opened: BinaryIO) -> None:
        path = target_dir / parts[-1]
        nbytes, md5 = _copy(opened, path, cap, refuse(entry.name))
        problem, dtype = _header_problem(path, source.sensor)
        if problem:
            raise BadArchiveError(f"{source.name}: member {entry.name!r} {problem}; nothing was added to {root}")
        staged.files[parts[-1]] = md5
        staged.nbytes += nbytes
        staged.dtypes.update([dtype] if dtype else [])

    def each(entries, open_member: Callable[[Entry], BinaryIO]) -> None:
        for entry, parts in _patches(root, staged, entries):
            with open_member(entry) as opened:
                keep(entry, parts, opened)

    try:
        if source.kind == SourceKind.ZIP:
            staged.key = file_key(os.stat(source.path))
            with Progress(os.path.getsize(source.path), f"md5 {source.name}", unit="B", quiet=quiet) as bar:
                staged.md5 = md5_file(source.path, bar.update).hexdigest()
            target_dir.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(source.path) as archive:
                each(source.entries(archive), lambda e: archive.open(e.info))
        elif source.path.resolve() == (root / source.folder / source.sensor_dir).resolve():
            staged.in_place = True
            entries, staged.key = _listing(source)
            _adopt(root, staged, entries)
        else:
            entries, staged.key = _listing(source)
            target_dir.mkdir(parents=True, exist_ok=True)
            each(entries, lambda e: open(source.base / e.name, "rb"))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError, zlib.error) as exc:
        raise BadArchiveError(f"{source.name}: not a valid zip ({type(exc).__name__}: {exc}); "
                              f"nothing was added to {root}") from exc
    except OSError as exc:
        if exc.errno in DISK_FULL_ERRNOS:
            raise DiskFullError(f"{root}: disk full while adding {source.path}; nothing was moved into place "
                                "(the temporary folder is deleted). Free space and run again") from exc
        raise ExtractError(f"{source.path}: adding into {root} failed: {exc}; nothing was moved into place") from exc
    if not staged.files:
        shown = "; ".join(f"{s.member!r} {s.reason}" for s in staged.skipped[:3])
        more = f" ({staged.skipped_total:,} members skipped: {shown})" if staged.skipped_total else ""
        error = BadArchiveError if source.kind == SourceKind.ZIP else DFC2020SourceError
        raise error(f"{source.path}: holds no {source.folder}_{source.sensor}_{facts.DFC2020_SCENE}_p<N>.tif "
                    f"patch{more}; nothing was added to {root}")
    if source.kind == SourceKind.FOLDER:
        staged.md5 = dfc_records.folder_md5(staged.files)
    staged.seconds = time.monotonic() - started
    return staged


def _adopt(root: Path, staged: _Staged, entries: list[Entry]) -> None:
    """Record a folder that is already in its place in the root: its patches are hashed and
    checked where they are; what is not a patch is left there (the index lists it as stray)."""
    source = staged.source
    for entry, parts in _patches(root, staged, entries):
        path = source.base / entry.name
        problem, dtype = _header_problem(path, source.sensor)
        if problem:
            raise DFC2020SourceError(f"{path}: {problem}; nothing was recorded")
        staged.files[parts[-1]] = md5_file(path).hexdigest()
        staged.nbytes += entry.size
        staged.dtypes.update([dtype] if dtype else [])


def _patches(root: Path, staged: _Staged, entries: Iterable[Entry]) -> Iterator[tuple[Entry, tuple[str, ...]]]:
    """The entries that are patches of the source's set and sensor, with their path parts; an
    unsafe entry refuses the whole source, a harmless other one is skipped and listed."""
    source = staged.source
    for entry in entries:
        decision = decide(entry, source.folder, source.sensor)
        if decision.action == MemberAction.REFUSE:
            raise UnsafeArchiveError(source.name, entry.name, decision.reason, root)
        if decision.action == MemberAction.SKIP:
            staged.skip(entry, decision.reason)
        elif decision.parts:
            yield entry, decision.parts


def recover_stale_temps(root: Path) -> None:
    """After a run killed while moving sensor folders into place (call with the root lock held):
    a folder moved aside without its replacement arriving is moved back; temporary folders go."""
    for folder in facts.DFC2020_FOLDERS:
        restore_and_remove_temps(root, temp_prefix(f"dfc2020-{folder}"), root / folder)


def _unchanged(root: Path, source: Source, record: dict) -> bool:
    """True when this very source (same key) was added and its folder is still in place."""
    entry = record["sources"].get(source.name)
    if not entry or entry.get("kind") != source.kind.value or not (root / entry.get("dir", "")).is_dir():
        return False
    key = file_key(os.stat(source.path)) if source.kind == SourceKind.ZIP else _listing(source)[1]
    return entry.get("key") == key


def _commit(root: Path, temp: Path, folder: str, staged: list[_Staged]) -> dict[str, dict]:
    """Move the staged sensor folders into place; the file entries of the record."""
    (root / folder).mkdir(exist_ok=True)
    for item in staged:
        if not item.in_place:
            swap_into_place(temp / folder / item.source.sensor_dir, root / folder / item.source.sensor_dir, temp)
    files = {}
    for item in staged:
        rel_dir = f"{folder}/{item.source.sensor_dir}"
        for name, md5 in item.files.items():
            files[f"{rel_dir}/{name}"] = {"md5": md5, "key": file_key(os.stat(root / rel_dir / name))}
    return files


def _add_set(root: Path, folder: str, given: list[Source], record: dict, quiet: bool) -> list[SourceOutcome]:
    outcomes: list[SourceOutcome] = []
    todo = []
    for source in given:
        if _unchanged(root, source, record):
            entry = record["sources"][source.name]
            outcomes.append(SourceOutcome(source.name, source.kind.value, str(source.path), AddStatus.ALREADY_ADDED,
                                          entry.get("files", 0), entry.get("bytes", 0), entry.get("md5"),
                                          list(entry.get("dtypes", []))))
        else:
            todo.append(source)
    if not todo:
        return outcomes
    temp = Path(tempfile.mkdtemp(prefix=temp_prefix(f"dfc2020-{folder}"), dir=root))
    try:
        staged, same = [], {}
        for source in todo:
            item = _stage(root, temp, source, quiet)
            earlier = record["sources"].get(source.name)
            if earlier and earlier.get("md5") == item.md5 and (root / folder / source.sensor_dir).is_dir():
                same[source.name] = item.key  # the same bytes as added before: nothing to move
                outcomes.append(item.outcome(AddStatus.ALREADY_ADDED))
                shutil.rmtree(temp / folder / source.sensor_dir, ignore_errors=True)
            else:
                staged.append(item)
        if same:
            dfc_records.update_source_keys(root, same)
        files = _commit(root, temp, folder, staged)
        dfc_records.record_sources(root, {item.source.name: _source_entry(folder, item) for item in staged}, files)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return outcomes + [item.outcome(AddStatus.ADDED) for item in staged]


def _source_entry(folder: str, item: _Staged) -> dict:
    return {"kind": item.source.kind.value, "path": str(item.source.path), "md5": item.md5, "key": item.key,
            "dir": f"{folder}/{item.source.sensor_dir}", "files": len(item.files), "bytes": item.nbytes,
            "dtypes": sorted(item.dtypes), "in_place": item.in_place,
            "skipped": [vars(s) for s in item.skipped], "skipped_total": item.skipped_total, "added": dfc_records.now()}


def add_dfc2020(root: str | os.PathLike[str] | None, source_dir: str | os.PathLike[str], *,
                quiet: bool = False) -> AddReport:
    """Add the DFC2020 zips (or folders extracted from them) found in ``source_dir`` to ``root``
    (default: ``$SEN12MS_ROOT``; made if missing, as ``download`` does), as the module docstring
    says; returns what was done."""
    root = make_writable_dir(resolve_root(root, must_exist=False), "SEN12MS root")
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise DFC2020SourceError(f"{source_dir}: not a folder (give the folder holding the DFC2020 zips)")
    sources, notes = find_sources(source_dir)
    if not sources:
        raise DFC2020SourceError(
            f"{source_dir}: holds no DFC2020 zip ({', '.join(facts.DFC2020_ZIPS)}) nor a folder extracted from one "
            f"(s1_validation/ or ROIs0000_validation/s1_validation/ holding ROIs0000_validation_s1_0_p<N>.tif, …); "
            f"download them from IEEE DataPort: {facts.DFC2020_URL}")
    _check_complete_sets(root, source_dir, sources)
    outcomes: list[SourceOutcome] = []
    with root_lock(root, "sen12ms add-dfc2020"):
        recover_stale_temps(root)
        record = dfc_records.load(root)
        for folder in facts.DFC2020_FOLDERS:
            given = [s for s in sources if s.folder == folder]
            if given:
                outcomes += _add_set(root, folder, given, record, quiet)
    order = list(facts.DFC2020_ZIPS)
    outcomes.sort(key=lambda o: order.index(o.name))
    index = build_index(root)
    report = AddReport(root, source_dir, outcomes, index.dfc2020_counts(), notes)
    for folder in {s.folder for s in sources}:
        broken = [item for item in index.incomplete if item.patch.season == folder]
        if broken:
            report.notes.append(f"{folder}: {len(broken):,} patches lack a file (first: {broken[0]}); they are in no "
                                "split ('sen12ms index' lists them)")
        released = facts.DFC2020_PATCHES[folder]
        if report.patches[folder] != released:
            report.notes.append(f"{folder}: {report.patches[folder]:,} complete patches; the release has {released:,}")
    return report
