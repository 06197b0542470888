"""Verify a SEN12MS root: its archives (md5) and its extracted tree (files, counts, headers).

Archives
    Each archive is md5-hashed (in parallel across files) and compared with its
    expected md5 (see :mod:`sen12ms_plugins.acquisition.checksums`).  The result is remembered by
    the file's size, mtime and inode (:mod:`sen12ms_plugins.acquisition.records`): while the file
    is unchanged a second verification reads nothing and is instant.  This replaces
    torchgeo's re-hashing of ~510 GB at every dataset construction.
Tree
    Every patch must have its s1, s2 and lc file (missing files and their orphaned
    partners are listed, as are entries that are not SEN12MS patches).  Counts are
    compared with the official ones only where they are known and the tree claims to
    be complete: the hold-out patches of a season once that season's three official
    archives were extracted here (or ``full=True``), and the total (180,662), the
    hold-out (18,106) and ``train`` (162,555) once all four seasons are.  Official
    per-season totals are not published, so they are not compared.
    ``deep=True`` opens every GeoTIFF header: band count, data type, size
    (256x256 unless ``patch_size`` says otherwise) and a CRS.

:func:`check_root` is the quick check the ecosystem adapters call.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..dataset import facts
from ..dataset.root import resolve_root
from ..progress import Progress
from . import checksums as checksums_mod
from . import records
from .hashing import md5_file

#: Files handed to one deep-check task (one GDAL environment per task).
_DEEP_BATCH = 256


@dataclass
class ArchiveCheck:
    name: str
    status: str  # "ok", "mismatch", "missing", "unknown md5"
    expected: str | None = None
    actual: str | None = None
    size: int | None = None
    remembered: bool = False  # md5 taken from the record of an earlier check, nothing read
    origin: str | None = None  # where the expected md5 comes from


@dataclass
class TreeCheck:
    triplets: int = 0
    per_season: dict[str, int] = field(default_factory=dict)
    splits: dict[str, dict[str, int]] = field(default_factory=dict)
    incomplete: int = 0
    missing: list[str] = field(default_factory=list)  # files a patch lacks (root-relative)
    orphans: list[str] = field(default_factory=list)  # files of incomplete patches
    strays: list[str] = field(default_factory=list)  # entries that are not SEN12MS patches
    compared: list[str] = field(default_factory=list)  # official figures that were compared
    deep: bool = False
    files_checked: int = 0
    bad_files: list[dict[str, str]] = field(default_factory=list)  # {"path", "problem"}


@dataclass
class VerificationReport:
    """What a verification found.  ``ok`` is True when ``problems`` is empty."""

    root: Path
    archives: list[ArchiveCheck] | None = None
    tree: TreeCheck | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def merge(self, other: VerificationReport) -> VerificationReport:
        if other.archives is not None:
            self.archives = (self.archives or []) + other.archives
        if other.tree is not None:
            self.tree = other.tree
        self.problems += other.problems
        self.notes += other.notes
        self.seconds += other.seconds
        return self

    def to_dict(self) -> dict:
        return {
            "root": str(self.root),
            "ok": self.ok,
            "problems": self.problems,
            "notes": self.notes,
            "archives": None if self.archives is None else [asdict(a) for a in self.archives],
            "tree": None if self.tree is None else asdict(self.tree),
            "seconds": round(self.seconds, 3),
        }


class _LockedCounter:
    """Progress updates from several threads."""

    def __init__(self, bar: Progress):
        self.bar, self.lock = bar, threading.Lock()

    def __call__(self, n: int) -> None:
        with self.lock:
            self.bar.update(n)


# --- Archives ------------------------------------------------------------------------------


def verify_archives(
    root: str | os.PathLike[str] | None,
    *,
    names: Iterable[str] | None = None,
    checksums=None,
    jobs: int | None = None,
    quiet: bool = False,
) -> VerificationReport:
    """md5-check the archives of ``root`` (default: every SEN12MS archive present).

    ``checksums`` as in :func:`sen12ms_plugins.acquisition.download.download` (default: official md5s,
    or those recorded when the root was downloaded with others).  Files unchanged since
    an earlier check are not read again.  ``jobs`` files are hashed at once (default:
    one per CPU).
    """
    started = time.monotonic()
    root = resolve_root(root)
    explicit = names is not None
    wanted = list(dict.fromkeys(names)) if explicit else list(facts.ARCHIVE_MD5)
    for name in wanted:
        if not name or "/" in name or os.sep in name or name in (".", ".."):
            raise ValueError(f"{name!r} is not an archive file name")
    sums = checksums_mod.for_root(root, checksums)
    report = VerificationReport(root, archives=[])
    checks: dict[str, ArchiveCheck] = {}
    to_hash: list[tuple[str, os.stat_result]] = []
    for name in wanted:
        path = root / name
        try:
            st = os.stat(path)
        except FileNotFoundError:
            if explicit:
                checks[name] = ArchiveCheck(name, "missing", sums.get(name), origin=sums.origin.get(name))
                report.problems.append(f"{path}: archive missing")
            continue
        if not os.path.isfile(path):
            checks[name] = ArchiveCheck(name, "missing")
            report.problems.append(f"{path}: not a regular file")
            continue
        expected = sums.get(name)
        check = ArchiveCheck(name, "ok", expected, size=st.st_size, origin=sums.origin.get(name))
        checks[name] = check
        if expected is None:
            check.status = "unknown md5"
            report.problems.append(f"{path}: no known md5 to check it against (md5s from {sums.describe()})")
            continue
        known = records.remembered_md5(root, name, st)
        if known is not None:
            check.actual, check.remembered = known, True
        else:
            to_hash.append((name, st))
    if not checks and not explicit:
        report.problems.append(f"{root}: no SEN12MS archive found (expected names like {wanted[0]})")
    if to_hash:
        total = sum(st.st_size for _, st in to_hash)
        with Progress(total, "md5", unit="B", quiet=quiet) as bar:
            counter = _LockedCounter(bar)
            workers = max(1, min(jobs or os.cpu_count() or 1, len(to_hash)))

            def _hash(item: tuple[str, os.stat_result]) -> str:
                name, st = item
                md5 = md5_file(root / name, counter).hexdigest()
                records.remember_md5(root, name, md5, st)
                return md5

            with ThreadPoolExecutor(workers, thread_name_prefix="sen12ms-verify") as pool:
                for (name, _), md5 in zip(to_hash, pool.map(_hash, to_hash)):
                    checks[name].actual = md5
    for name in wanted:
        check = checks.get(name)
        if check is None:
            continue
        report.archives.append(check)
        if check.status == "ok" and check.actual != check.expected:
            check.status = "mismatch"
            report.problems.append(
                f"{root / name}: md5 mismatch: expected {check.expected}, got {check.actual} "
                f"(expected md5 from {check.origin}); download it again"
            )
    for name in wanted:
        part, rejected = root / f"{name}.part", root / f"{name}.rejected"
        if part.is_file():
            report.notes.append(f"{part}: unfinished download ({part.stat().st_size:,} bytes); "
                                "'sen12ms download' resumes it")
        if rejected.is_file():
            report.notes.append(f"{rejected}: data that failed its md5 check, kept for inspection (safe to delete)")
    origins = sorted({c.origin for c in report.archives if c.origin and c.origin != checksums_mod.OFFICIAL})
    if origins:
        report.notes.append(f"md5s not from the official list: {', '.join(origins)}")
    report.seconds = time.monotonic() - started
    return report


# --- Tree --------------------------------------------------------------------------------------


def _complete_seasons(root: Path, index, full: bool | None) -> list[str]:
    """Seasons the tree claims to hold completely (see the module docstring)."""
    if full is not None:
        return list(facts.SEASONS) if full else []
    if len(index.scene_counts) == facts.TOTAL_SCENES:
        return list(facts.SEASONS)
    complete = []
    for season in facts.SEASONS:
        names = [facts.archive_name(season, sensor) for sensor in facts.SENSORS]
        if all(records.is_extracted(root, n, facts.ARCHIVE_MD5[n]) for n in names):
            complete.append(season)
    return complete


def _compare_counts(report: VerificationReport, tree: TreeCheck, seasons: list[str]) -> None:
    holdout = tree.splits.get("holdout", {})
    for season in seasons:
        official = facts.HOLDOUT_PATCHES_PER_SEASON[season]
        tree.compared.append(f"holdout {season}")
        if holdout.get(season, 0) != official:
            report.problems.append(f"{season}: {holdout.get(season, 0):,} hold-out triplets, the official count is {official:,}")
    if len(seasons) == len(facts.SEASONS):
        for label, have, official in (
            ("total triplets", tree.triplets, facts.TOTAL_TRIPLETS),
            ("hold-out triplets", holdout.get("total", 0), facts.HOLDOUT_PATCHES),
            ("train triplets", tree.splits.get("train", {}).get("total", 0), facts.TRAIN_PATCHES),
        ):
            tree.compared.append(label)
            if have != official:
                report.problems.append(f"{report.root}: {have:,} {label}, the official count is {official:,}")


def _sample(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (", …" if len(items) > limit else "")


def verify_tree(
    root: str | os.PathLike[str] | None,
    *,
    deep: bool = False,
    patch_size: int | None = facts.PATCH_SIZE,
    full: bool | None = None,
    jobs: int | None = None,
    quiet: bool = False,
) -> VerificationReport:
    """Check the extracted tree of ``root`` (see the module docstring).

    ``full``: True compares all official counts, False none; None (default) decides from
    what was extracted here.  ``deep`` opens every GeoTIFF header (``jobs`` threads);
    ``patch_size=None`` accepts any square size.
    """
    from ..dataset.index import build_index
    from ..dataset.splits import compute_splits

    started = time.monotonic()
    root = resolve_root(root)
    index = build_index(root)
    tree = TreeCheck(deep=deep)
    report = VerificationReport(root, tree=tree)
    tree.triplets = len(index.triplets)
    tree.per_season = index.season_counts()
    tree.splits = compute_splits(index).counts()
    tree.incomplete = len(index.incomplete)
    for item in index.incomplete:
        tree.missing.extend(item.patch.relpath(s) for s in item.missing)
        tree.orphans.extend(item.patch.relpath(s) for s in facts.SENSORS if s not in item.missing)
    tree.strays = list(index.strays)
    if not index.triplets and not index.incomplete:
        report.problems.append(f"{root}: no SEN12MS patch found (expected {facts.SEASONS[0]}/s2_<scene>/… folders)")
    if tree.missing:
        report.problems.append(f"{root}: {tree.incomplete:,} incomplete triplets, {len(tree.missing):,} files missing "
                               f"({_sample(tree.missing)})")
    if tree.strays:
        report.problems.append(f"{root}: {len(tree.strays):,} entries that are not SEN12MS patches ({_sample(tree.strays)})")
    seasons = _complete_seasons(root, index, full)
    if seasons:
        _compare_counts(report, tree, seasons)
    elif index.triplets:
        report.notes.append("counts not compared with the official ones: the tree is not a complete SEN12MS "
                            "(pass full=True / --full to compare anyway)")
    if deep:
        paths = [(pid.relpath(s), s) for pid in index.triplets for s in facts.SENSORS]
        paths += [(rel, rel.split("/", 1)[1].split("_", 1)[0]) for rel in tree.orphans]
        tree.bad_files = _deep_check(root, paths, patch_size, jobs, quiet)
        tree.files_checked = len(paths)
        if tree.bad_files:
            report.problems.append(f"{root}: {len(tree.bad_files):,} of {len(paths):,} GeoTIFFs are not valid "
                                   f"SEN12MS patches ({_sample([b['path'] + ': ' + b['problem'] for b in tree.bad_files], 2)})")
    report.seconds = time.monotonic() - started
    return report


def _header_problem(path: str, sensor: str, patch_size: int | None) -> str | None:
    import rasterio
    from rasterio.errors import RasterioError

    from ..reading.fastread import truncation

    try:
        with rasterio.open(path) as src:
            problems = []
            if src.count != len(facts.BANDS[sensor]):
                problems.append(f"{src.count} bands, expected {len(facts.BANDS[sensor])}")
            if set(src.dtypes) != {facts.DTYPES[sensor]}:
                problems.append(f"data type {','.join(sorted(set(src.dtypes)))}, expected {facts.DTYPES[sensor]}")
            if patch_size is not None and (src.width, src.height) != (patch_size, patch_size):
                problems.append(f"{src.width}x{src.height} px, expected {patch_size}x{patch_size}")
            elif src.width != src.height:
                problems.append(f"{src.width}x{src.height} px, not square")
            if src.crs is None:
                problems.append("no CRS")
        cut = truncation(path)  # the header can be intact in a file cut short
        if cut is not None:
            problems.append(cut)
        return "; ".join(problems) or None
    except RasterioError as exc:
        return f"cannot be read as a GeoTIFF ({exc})"


def _deep_check(root: Path, paths: list[tuple[str, str]], patch_size: int | None, jobs: int | None,
                quiet: bool) -> list[dict[str, str]]:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    from ..reading.reader import GDAL_OPTIONS

    bad: list[dict[str, str]] = []
    with Progress(len(paths), "GeoTIFF headers", unit="file", quiet=quiet) as bar:
        counter = _LockedCounter(bar)

        def _batch(batch: list[tuple[str, str]]) -> list[dict[str, str]]:
            found = []
            with rasterio.Env(**GDAL_OPTIONS):
                for rel, sensor in batch:
                    problem = _header_problem(str(root / rel), sensor, patch_size)
                    if problem:
                        found.append({"path": rel, "problem": problem})
            counter(len(batch))
            return found

        batches = [paths[i:i + _DEEP_BATCH] for i in range(0, len(paths), _DEEP_BATCH)]
        with warnings.catch_warnings(), ThreadPoolExecutor(max(1, jobs or os.cpu_count() or 1),
                                                            thread_name_prefix="sen12ms-deep") as pool:
            # a file without georeference is reported as "no CRS", not warned about
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            for found in pool.map(_batch, batches):
                bad.extend(found)
    return bad


# --- Quick check for the adapters ---------------------------------------------------------------


def check_root(root: str | os.PathLike[str] | None, *, quiet: bool = True) -> VerificationReport:
    """The check adapters run instead of re-hashing: the archives present are md5-verified
    (instantly when unchanged since the last check) and the extracted tree, if any, is
    checked for missing files and official counts."""
    started = time.monotonic()
    root = resolve_root(root)
    present = [n for n in facts.ARCHIVE_MD5 if (root / n).is_file()]
    has_tree = any((root / season).is_dir() for season in facts.SEASONS)
    report = VerificationReport(root)
    if not present and not has_tree:
        report.problems.append(f"{root}: holds neither SEN12MS archives nor an extracted tree "
                               f"(expected {next(iter(facts.ARCHIVE_MD5))} … or {facts.SEASONS[0]}/ …)")
    if present:
        report.merge(verify_archives(root, names=present, quiet=quiet))
    if has_tree:
        report.merge(verify_tree(root, quiet=quiet))
    report.seconds = time.monotonic() - started
    return report
