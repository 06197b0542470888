"""``sen12ms add-dfc2020``: add the DFC2020 validation and test sets to a SEN12MS root.

DFC2020 is distributed on IEEE DataPort behind a login (:data:`~sen12ms_plugins.dataset.facts.DFC2020_URL`),
so it is never downloaded: the user downloads the zips (:data:`~sen12ms_plugins.dataset.facts.DFC2020_ZIPS`)
into a folder and :func:`add_dfc2020` takes them from there, or folders already extracted from
them (``DIR/s1_validation/`` or ``DIR/ROIs0000_validation/s1_validation/``; a zip wins over a
folder of the same source, with a note).  The patches land in
``<root>/ROIs0000_validation/<sensor>_validation/`` and ``<root>/ROIs0000_test/<sensor>_0/``,
where the index finds them.

Everything goes through the code that extracts SEN12MS's archives: each entry is decided by
:mod:`.members` (with :class:`~.members.DFC2020Layout`, the data that differs), written by the
same writer into a temporary folder of the root and committed the same way (:mod:`.extract`),
and every patch written is checked by :func:`~.verify.check_patch`, the check ``verify
--deep`` makes (a band count, data type or value its sensor's patches cannot have refuses the
source).  What is DFC2020's own:

Atomic per set
    A set's sources are staged, then its sensor folders moved into place together and the
    record written last (``dfc2020.json`` in the root's bookkeeping).
Once
    The md5s of the official zips are not published, so what is recorded is what was
    imported.  A source already added (the same zip by size, mtime and inode, or by md5; the
    same folder by its listing) is not added again.
Recorded
    Per zip name (also for a folder extracted from one): ``kind`` (``zip`` or ``folder``), the
    ``path`` it was added from, its ``md5`` (a zip's md5; a folder's: the md5 of its
    patches' ``md5sum`` listing), ``key`` (a zip's size, mtime and inode; a folder's
    :func:`listing_key`), ``dir``, ``files``, ``bytes``, ``dtypes``, ``skipped``,
    ``skipped_total``, ``in_place``, ``added``; and per file written, its ``md5`` and ``key``,
    which ``verify`` checks.

A set is added whole: a source given for one of a set's four sensors needs the three others,
given too or already in the root; otherwise nothing is done (:class:`DFC2020SourceError`).
A folder that is already the root's own (a zip extracted into the root by hand) is recorded
in place, nothing copied.
"""

from __future__ import annotations

import hashlib
import os
import time
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

from ..console import Progress
from ..dataset import facts
from ..dataset.index import build_index
from ..dataset.root import resolve_root
from ..errors import DFC2020SourceError
from ..fsutil import make_writable_dir
from .bookkeeping import Bookkeeping, RecordFile, file_key, utc_now
from .checksums import format_manifest, md5_file, new_md5
from .extract import Staged, commit, failures_named, recover_stale_temps, stage_entries
from .members import DFC2020Layout, Entry, folder_entries, kept, zip_entries
from .reports import AddReport, AddStatus, SourceOutcome
from .verify import check_patch

#: What a zip that cannot be read raises, besides OSError.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError, zlib.error)


class SourceKind(StrEnum):
    ZIP = "zip"
    FOLDER = "folder"


@dataclass(frozen=True)
class DFC2020Source:
    """Where one zip's content comes from: the zip, or a folder extracted from it."""

    name: str  # the zip's official name
    layout: DFC2020Layout
    kind: SourceKind
    path: Path
    base: Path | None = None  # a folder source: its entries are named relative to this folder
    top: str = ""  # ... as ``top/…``

    @property
    def folder(self) -> str:
        return self.layout.folder_name

    def entries(self) -> list[Entry]:
        assert self.base is not None
        return list(folder_entries(self.base, self.top))


def find_sources(source_dir: Path) -> tuple[list[DFC2020Source], list[str]]:
    """The sources in ``source_dir`` (a zip, else an extracted folder, per zip name), and notes on
    the copies not used."""
    sources: list[DFC2020Source] = []
    notes: list[str] = []
    for name, (folder, sensor) in facts.DFC2020_ZIPS.items():
        layout = DFC2020Layout(folder, sensor)
        folders = [(base, layout.sensor_dir) for base in (source_dir / folder, source_dir)
                   if (base / layout.sensor_dir).is_dir()]
        if (source_dir / name).is_file():
            sources.append(DFC2020Source(name, layout, SourceKind.ZIP, source_dir / name))
            notes += [f"{base / top}: not used, {name} is" for base, top in folders]
        elif folders:
            base, top = folders[0]
            sources.append(DFC2020Source(name, layout, SourceKind.FOLDER, base / top, base, top))
            notes += [f"{b / t}: not used, {base / top} is" for b, t in folders[1:]]
    return sources, notes


def _check_complete_sets(root: Path, source_dir: Path, sources: list[DFC2020Source]) -> None:
    """Refuse, before anything is done, a set given in part whose other sensors the root lacks."""
    problems = []
    for folder in facts.DFC2020_FOLDERS:
        given = {s.layout.sensor for s in sources if s.folder == folder}
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


def listing_key(base: Path, entries: Iterable[Entry]) -> str:
    """What identifies an extracted folder without reading its files: a digest of every entry's
    name, size and modification time."""
    digest = hashlib.sha256()
    for entry in sorted(entries, key=lambda e: e.name):
        st = os.stat(base / entry.name, follow_symlinks=False)
        digest.update(f"{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dataclass
class _Added:
    """One source, staged (or, for a folder already in its place, checked where it is)."""

    source: DFC2020Source
    staged: Staged
    md5: str = ""
    key: object = None
    dtypes: set[str] = field(default_factory=set)
    in_place: bool = False
    seconds: float = 0.0

    def outcome(self, status: AddStatus) -> SourceOutcome:
        return SourceOutcome(self.source.name, self.source.kind.value, str(self.source.path), status,
                             len(self.staged.files), self.staged.nbytes, self.md5, sorted(self.dtypes),
                             round(self.seconds, 3), skipped=self.staged.skips.listed,
                             skipped_total=self.staged.skips.total)

    def record(self) -> dict:
        return {"kind": self.source.kind.value, "path": str(self.source.path), "md5": self.md5, "key": self.key,
                "dir": self.source.layout.where.rstrip("/"), "files": len(self.staged.files),
                "bytes": self.staged.nbytes, "dtypes": sorted(self.dtypes), "in_place": self.in_place,
                "skipped": [asdict(s) for s in self.staged.skips.listed], "skipped_total": self.staged.skips.total,
                "added": utc_now()}


def _stage(books: Bookkeeping, source: DFC2020Source, quiet: bool) -> _Added:
    """Decide every entry of ``source`` and write its patches into a temporary folder of the
    root, each checked; a folder that already is the root's is checked where it is."""
    started = time.monotonic()
    root = books.root
    nothing = f"nothing was added to {root}"
    in_place = source.kind == SourceKind.FOLDER and source.path.resolve() == (root / source.layout.where).resolve()
    staged = Staged(root, source.name, None) if in_place else Staged.begin(root, source.name, f"dfc2020-{source.folder}")
    added = _Added(source, staged, in_place=in_place)

    def check(path: Path) -> str | None:
        checked = check_patch(path, source.layout.fmt, None, needs_crs=False)
        added.dtypes.update([checked.dtype] if checked.dtype else [])
        return None if checked.problem is None else f"is not a DFC2020 {source.layout.sensor} patch: {checked.problem}"

    with failures_named(staged, _ZIP_ERRORS, "zip", nothing):
        if source.kind == SourceKind.ZIP:
            added.key = file_key(os.stat(source.path))
            with Progress(os.path.getsize(source.path), f"md5 {source.name}", unit="B", quiet=quiet) as bar:
                added.md5 = md5_file(source.path, bar.update).hexdigest()
            with zipfile.ZipFile(source.path) as archive:
                stage_entries(staged, zip_entries(archive), source.layout, lambda e: archive.open(e.handle),
                              hash_files=True, check=check, nothing=nothing)
        else:
            entries = source.entries()
            added.key = listing_key(source.base, entries)
            if in_place:
                _check_in_place(staged, entries, source, check, nothing)
            else:
                stage_entries(staged, entries, source.layout, lambda e: open(e.handle, "rb"), hash_files=True,
                              check=check, nothing=nothing)
            listing = new_md5()  # a folder's md5: of its patches' md5sum listing
            listing.update(format_manifest({Path(rel).name: md5 for rel, md5 in staged.files.items()}).encode())
            added.md5 = listing.hexdigest()
    added.seconds = time.monotonic() - started
    return added


def _check_in_place(staged: Staged, entries: list[Entry], source: DFC2020Source, check, nothing: str) -> None:
    """Record a folder that is already in its place in the root: its patches are hashed and
    checked where they are; what is not a patch is left there (the index lists it as stray)."""
    for entry, parts in kept(entries, source.layout, staged.skips, source=source.name, root=staged.root):
        if not parts:
            continue
        problem = check(entry.handle)
        if problem:
            raise DFC2020SourceError(f"{entry.handle}: {problem}; nothing was recorded")
        staged.files["/".join(parts)] = md5_file(entry.handle).hexdigest()
        staged.nbytes += entry.size
    if not staged.files:
        raise DFC2020SourceError(f"{source.path}: holds no {source.layout.where} patch{staged.skips.summary()}; "
                                 f"{nothing}")


def _unchanged(books: Bookkeeping, source: DFC2020Source, recorded: dict) -> bool:
    """True when this very source (same key) was added and its folder is still in place."""
    entry = recorded.get(source.name)
    if not entry or entry.get("kind") != source.kind.value or not (books.root / entry.get("dir", "")).is_dir():
        return False
    key = file_key(os.stat(source.path)) if source.kind == SourceKind.ZIP else listing_key(source.base, source.entries())
    return entry.get("key") == key


def _add_set(books: Bookkeeping, folder: str, given: list[DFC2020Source], quiet: bool) -> list[SourceOutcome]:
    root = books.root
    record = books.record(RecordFile.DFC2020)
    earlier = (record.read() or {}).get("sources", {})
    outcomes: list[SourceOutcome] = []
    todo = []
    for source in given:
        if _unchanged(books, source, earlier):
            entry = earlier[source.name]
            outcomes.append(SourceOutcome(source.name, source.kind.value, str(source.path), AddStatus.ALREADY_ADDED,
                                          entry.get("files", 0), entry.get("bytes", 0), entry.get("md5"),
                                          list(entry.get("dtypes", []))))
        else:
            todo.append(source)
    if not todo:
        return outcomes
    staged: list[_Added] = []
    same: dict[str, object] = {}
    try:
        for source in todo:
            added = _stage(books, source, quiet)
            staged.append(added)
            entry = earlier.get(source.name)
            if entry and entry.get("md5") == added.md5 and (root / source.layout.where).is_dir():
                same[source.name] = added.key  # the same bytes as added before: nothing to move
                outcomes.append(added.outcome(AddStatus.ALREADY_ADDED))
                added.staged.discard()
        new = [added for added in staged if added.source.name not in same]

        def write_record() -> None:
            with record.update() as fields:
                sources, files = fields.setdefault("sources", {}), fields.setdefault("files", {})
                for name, key in same.items():
                    if name in sources:
                        sources[name]["key"] = key
                dirs = tuple(added.source.layout.where for added in new)
                fields["files"] = files = {rel: e for rel, e in files.items() if not rel.startswith(dirs)}
                for added in new:
                    sources[added.source.name] = added.record()
                    files.update({rel: {"md5": md5, "key": file_key(os.stat(root / rel))}
                                  for rel, md5 in added.staged.files.items()})

        commit([added.staged for added in new if not added.in_place], write_record)
    finally:
        for added in staged:
            added.staged.discard()
    return outcomes + [added.outcome(AddStatus.ADDED) for added in new]


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
    books = Bookkeeping(root)
    outcomes: list[SourceOutcome] = []
    with books.lock("sen12ms add-dfc2020"):
        for folder in facts.DFC2020_FOLDERS:
            recover_stale_temps(root, f"dfc2020-{folder}")
            given = [s for s in sources if s.folder == folder]
            if given:
                outcomes += _add_set(books, folder, given, quiet)
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
