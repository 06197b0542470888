"""Verify a root: its archives (md5), its extracted tree (complete patches, counts), every GeoTIFF header (deep).

Archives
    Each archive is md5-hashed (in parallel across files) and compared with its expected
    md5 (:mod:`.checksums`).  The result is remembered by the file's size, mtime and inode
    (:mod:`.bookkeeping`): while the file is unchanged a second verification reads nothing
    and is instant.  This replaces torchgeo's re-hashing of ~510 GB at every dataset
    construction.
Tree
    Every patch must have its s1, s2 and lc file (missing files and their orphaned partners
    are listed, as are entries that are not SEN12MS patches).  Counts are compared with the
    official ones (:mod:`~sen12ms_plugins.dataset.facts`) only where they are known and the
    tree claims to be complete: the hold-out patches of a season once that season's three
    official archives were extracted here (or ``full=True``), and the totals once all four
    seasons are.  Official per-season totals are not published, so they are not compared.
    DFC2020 patches (``sen12ms add-dfc2020``) are checked alike (four files each), and so is
    every file add-dfc2020 recorded: it must still have its md5 (``deep`` re-hashes them all).
Deep (``deep=True``)
    Every GeoTIFF is checked by :func:`check_patch`, the one check of a patch file against
    its format, which ``add-dfc2020`` also runs on every patch it imports.  Each file is
    parsed twice, once by the fast reader's TIFF parser
    (:func:`~sen12ms_plugins.reading.fastread.read_layout`: a header that contradicts itself
    or the file is *damaged*, even where GDAL would repair it; a file cut short is
    *truncated*) and once by rasterio (band count, data type, size, CRS).  Whatever a header
    holds, the outcome for the file is either nothing (a valid patch) or a problem naming it;
    a file in a valid layout the fast reader leaves to rasterio (compressed, tiled …) is no
    problem, but is counted by reason, because such a dataset reads several times slower.
    A DFC2020 file whose dtype the readers narrow (s1 float64, dfc int32) is also read whole,
    so that a value that does not fit is found; its CRS is not required (the release's
    georeference is reported stripped).

:func:`check_root` is the quick check the ecosystem adapters call: the archives present and the tree.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..console import LockedCounter, Progress
from ..dataset import facts
from ..dataset.facts import SensorFormat
from ..dataset.index import Index, build_index
from ..dataset.root import resolve_root
from ..dataset.splits import compute_splits
from ..errors import PatchFileError
from . import checksums as checksums_mod
from .bookkeeping import Bookkeeping, RecordFile, file_key
from .checksums import md5_file
from .fetch import part_path, rejected_paths
from .reports import ArchiveCheck, CheckStatus, TreeCheck, VerificationReport

#: Files handed to one deep-check task (one GDAL environment per task).
_DEEP_BATCH = 256

# --- Archives ------------------------------------------------------------------------------


def verify_archives(
    root: str | os.PathLike[str] | None,
    *,
    names: Iterable[str] | None = None,
    checksums: checksums_mod.ChecksumSpec = None,
    jobs: int | None = None,
    quiet: bool = False,
) -> VerificationReport:
    """md5-check the archives of ``root`` (default: every SEN12MS archive present).

    ``checksums`` as in :func:`sen12ms_plugins.acquisition.download.download` (default: official md5s,
    or those recorded when the root was downloaded with others).  Files unchanged since
    an earlier check are not read again.  ``jobs`` files are hashed at once (default:
    one per CPU).
    """
    names = None if names is None else list(dict.fromkeys(names))
    for name in names or ():
        if not name or "/" in name or os.sep in name or name in (".", ".."):
            raise ValueError(f"{name!r} is not an archive file name")
    return _verify_archives(Bookkeeping(resolve_root(root)), names, checksums, jobs, quiet)


def _verify_archives(books: Bookkeeping, names: list[str] | None, checksums: checksums_mod.ChecksumSpec,
                     jobs: int | None, quiet: bool) -> VerificationReport:
    started = time.monotonic()
    root = books.root
    explicit = names is not None
    wanted = names if names is not None else list(facts.ARCHIVE_MD5)
    sums = checksums_mod.for_root(books, checksums)
    report = VerificationReport(root, archives=[])
    checks: dict[str, ArchiveCheck] = {}
    to_hash: list[tuple[str, os.stat_result]] = []
    for name in wanted:
        path = root / name
        try:
            st = os.stat(path)
        except FileNotFoundError:
            if explicit:
                checks[name] = ArchiveCheck(name, CheckStatus.MISSING, sums.get(name), origin=sums.origin.get(name))
                report.problems.append(f"{path}: archive missing")
            continue
        if not os.path.isfile(path):
            checks[name] = ArchiveCheck(name, CheckStatus.MISSING)
            report.problems.append(f"{path}: not a regular file")
            continue
        expected = sums.get(name)
        check = ArchiveCheck(name, CheckStatus.OK, expected, size=st.st_size, origin=sums.origin.get(name))
        checks[name] = check
        if expected is None:
            check.status = CheckStatus.UNKNOWN_MD5
            report.problems.append(f"{path}: no known md5 to check it against (md5s from {sums.describe()})")
            continue
        known = books.remembered_md5(name, st)
        if known is not None:
            check.actual, check.remembered = known, True
        else:
            to_hash.append((name, st))
    if not checks and not explicit:
        report.problems.append(f"{root}: no SEN12MS archive found (expected names like {wanted[0]})")
    if to_hash:
        total = sum(st.st_size for _, st in to_hash)
        with Progress(total, "md5", unit="B", quiet=quiet) as bar:
            counter = LockedCounter(bar)
            workers = max(1, min(jobs or os.cpu_count() or 1, len(to_hash)))

            def _hash(item: tuple[str, os.stat_result]) -> str:
                name, st = item
                md5 = md5_file(root / name, counter).hexdigest()
                books.remember_md5(name, md5, st)
                return md5

            with ThreadPoolExecutor(workers, thread_name_prefix="sen12ms-verify") as pool:
                for (name, _), md5 in zip(to_hash, pool.map(_hash, to_hash)):
                    checks[name].actual = md5
    verified_sizes: dict[str, tuple[str, int, str]] = {}
    for name in wanted:
        check = checks.get(name)
        if check is None:
            continue
        report.archives.append(check)
        if check.status == CheckStatus.OK and check.actual == check.expected and check.size is not None:
            verified_sizes[name] = (check.expected, check.size, str(root / name))
        if check.status == CheckStatus.OK and check.actual != check.expected:
            check.status = CheckStatus.MISMATCH
            report.problems.append(
                f"{root / name}: md5 mismatch: expected {check.expected}, got {check.actual} "
                f"(expected md5 from {check.origin}); download it again"
            )
    if verified_sizes:  # what downloads compare announced sizes with
        books.remember_sizes(verified_sizes, verified=True)
    for name in wanted:
        part = part_path(root, name)
        if part.is_file():
            report.notes.append(f"{part}: unfinished download ({part.stat().st_size:,} bytes); "
                                "'sen12ms download' resumes it")
        for rejected in rejected_paths(root, name):
            report.notes.append(f"{rejected}: data that failed its md5 check, kept for inspection (safe to delete)")
    origins = sorted({c.origin for c in report.archives if c.origin and c.origin != checksums_mod.OFFICIAL})
    if origins:
        report.notes.append(f"md5s not from the official list: {', '.join(origins)}")
    report.seconds = time.monotonic() - started
    return report


# --- Tree ------------------------------------------------------------------------------------------


def _complete_seasons(books: Bookkeeping, index: Index, full: bool | None) -> list[str]:
    """Seasons the tree claims to hold completely (see the module docstring)."""
    if full is not None:
        return list(facts.SEASONS) if full else []
    if len(index.scene_counts) == facts.TOTAL_SCENES:
        return list(facts.SEASONS)
    complete = []
    for season in facts.SEASONS:
        names = [facts.archive_name(season, sensor) for sensor in facts.SENSORS]
        if all(books.is_extracted(n, facts.ARCHIVE_MD5[n]) for n in names):
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
    what was extracted here.  ``deep`` checks every GeoTIFF (``jobs`` threads);
    ``patch_size=None`` accepts any square size.
    """
    return _verify_tree(Bookkeeping(resolve_root(root)), deep, patch_size, full, jobs, quiet)


def _verify_tree(books: Bookkeeping, deep: bool, patch_size: int | None, full: bool | None, jobs: int | None,
                 quiet: bool) -> VerificationReport:
    started = time.monotonic()
    root = books.root
    index = build_index(root)
    tree = TreeCheck(deep=deep)
    report = VerificationReport(root, tree=tree)
    tree.triplets = len(index.triplets)
    tree.per_season = index.season_counts()
    tree.splits = compute_splits(index).counts()
    tree.incomplete = len(index.incomplete)
    tree.dfc2020 = index.dfc2020_counts() if index.dfc2020 else {}
    for item in index.incomplete:
        tree.missing.extend(item.patch.relpath(s) for s in item.missing)
        tree.orphans.extend(item.patch.relpath(s) for s in item.patch.sensors if s not in item.missing)
    tree.strays = list(index.strays)
    if not index.triplets and not index.incomplete and not index.dfc2020:
        report.problems.append(f"{root}: no SEN12MS patch found (expected {facts.SEASONS[0]}/s2_<scene>/… folders)")
    if tree.missing:
        report.problems.append(f"{root}: {tree.incomplete:,} incomplete triplets, {len(tree.missing):,} files missing "
                               f"({_sample(tree.missing)})")
    if tree.strays:
        report.problems.append(f"{root}: {len(tree.strays):,} entries that are not SEN12MS patches ({_sample(tree.strays)})")
    seasons = _complete_seasons(books, index, full)
    if seasons:
        _compare_counts(report, tree, seasons)
    elif index.triplets:
        report.notes.append("counts not compared with the official ones: the tree is not a complete SEN12MS "
                            "(pass full=True / --full to compare anyway)")
    _check_dfc2020(books, report, index, deep=deep, full=bool(full), quiet=quiet)
    if deep:
        paths = [(pid.relpath(s), s) for pid in (*index.dfc2020, *index.triplets) for s in pid.sensors]
        paths += [(rel, rel.split("/", 1)[1].split("_", 1)[0]) for rel in tree.orphans]
        checked = _deep_check(root, paths, patch_size, jobs, quiet)
        tree.bad_files = checked.bad
        tree.files_checked = len(paths)
        if checked.slow:
            reasons = ", ".join(f"{reason}: {n:,}" for reason, n in checked.slow.most_common())
            report.notes.append("GeoTIFFs in a layout the fast reader leaves to rasterio, valid but several "
                                f"times slower to read ({reasons})")
        if tree.bad_files:
            report.problems.append(f"{root}: {len(tree.bad_files):,} of {len(paths):,} GeoTIFFs are not valid "
                                   f"SEN12MS patches ({_sample([b['path'] + ': ' + b['problem'] for b in tree.bad_files], 2)})")
    report.seconds = time.monotonic() - started
    return report


# --- DFC2020 files ----------------------------------------------------------------------------------


def _check_dfc2020(books: Bookkeeping, report: VerificationReport, index: Index, *, deep: bool, full: bool,
                   quiet: bool) -> None:
    """The DFC2020 part: every file add-dfc2020 recorded still exists with its md5 (a file whose
    size, mtime and inode are unchanged since it was recorded is not read again; all are
    re-hashed when ``deep``), files it did not add are noted, and with ``full`` the counts are
    the release's."""
    root = books.root
    recorded: dict[str, dict] = books.read(RecordFile.DFC2020).get("files", {})
    missing: list[str] = []
    to_hash: list[tuple[str, dict, os.stat_result]] = []
    for rel, entry in sorted(recorded.items()):
        try:
            st = os.stat(root / rel)
        except FileNotFoundError:
            missing.append(rel)
            continue
        if deep or entry.get("key") != file_key(st):
            to_hash.append((rel, entry, st))
    if missing:
        report.problems.append(f"{root}: {len(missing):,} DFC2020 files added by add-dfc2020 are missing "
                               f"({_sample(missing)}); run 'sen12ms add-dfc2020' again")
    changed: list[str] = []
    refreshed: dict[str, list[int]] = {}
    with Progress(sum(st.st_size for _, _, st in to_hash), "DFC2020 md5", unit="B", quiet=quiet or not to_hash) as bar:
        for rel, entry, st in to_hash:
            md5 = md5_file(root / rel, bar.update).hexdigest()
            if md5 != entry.get("md5"):
                changed.append(f"{rel} (md5 {md5}, added with {entry.get('md5')})")
            elif entry.get("key") != file_key(st):
                refreshed[rel] = file_key(st)
    if changed:
        report.problems.append(f"{root}: {len(changed):,} DFC2020 files changed since add-dfc2020 added them: "
                               + "; ".join(changed[:3]) + ("; …" if len(changed) > 3 else ""))
    if refreshed:  # the same bytes under a new mtime or inode: not read again next time
        with contextlib.suppress(OSError), books.record(RecordFile.DFC2020).update() as fields:
            for rel, key in refreshed.items():
                if rel in fields.get("files", {}):
                    fields["files"][rel]["key"] = key
    unrecorded = [pid.relpath(s) for pid in index.dfc2020 for s in pid.sensors if pid.relpath(s) not in recorded]
    if unrecorded:
        report.notes.append(f"{len(unrecorded):,} DFC2020 files were not added by 'sen12ms add-dfc2020', so no md5 "
                            f"of theirs is recorded to check ({_sample(unrecorded, 2)})")
    if full and index.dfc2020:
        for folder, have in index.dfc2020_counts().items():
            report.tree.compared.append(f"DFC2020 {folder}")
            if have != facts.DFC2020_PATCHES[folder]:
                report.problems.append(f"{folder}: {have:,} DFC2020 patches, the release has "
                                       f"{facts.DFC2020_PATCHES[folder]:,}")


# --- one patch file against its format ---------------------------------------------------------------


def _profile_problems(path: str, fmt: SensorFormat, patch_size: int | None,
                      needs_crs: bool) -> tuple[list[str], str | None]:
    """What rasterio finds wrong with the file's bands, data type, size and CRS (in the reader's
    words), and its data type."""
    import rasterio  # deferred: GDAL, which importing the package avoids
    from rasterio.errors import RasterioError

    from ..reading.reader import NO_CRS, profile_problems, unreadable

    try:
        with rasterio.open(path) as src:
            count, dtypes, width, height, crs = src.count, set(src.dtypes), src.width, src.height, src.crs
    except (RasterioError, ValueError) as exc:  # rasterio's CRSError (garbled GeoKeys) is a ValueError
        return [unreadable(path, exc, opened=False)], None
    problems = profile_problems(fmt, count, dtypes, width, height, patch_size)
    if crs is None and needs_crs:
        problems.append(NO_CRS)
    return problems, min(dtypes)


def _value_problem(path: str, fmt: SensorFormat, dtype: str) -> str | None:
    """What the reader says of the values of a file whose dtype it narrows (DFC2020's float64
    s1, int32 dfc): those are read whole; files of other dtypes need no value check."""
    import numpy as np  # deferred, as above

    from ..reading.reader import read_file

    if np.can_cast(dtype, fmt.dtype, "safe"):
        return None
    try:
        read_file(path, fmt.sensor, formats={fmt.sensor: fmt})
    except PatchFileError as exc:
        return exc.problem
    return None


@dataclass(frozen=True)
class PatchCheck:
    """What :func:`check_patch` found in one file."""

    #: What is wrong with it (None: a valid patch of its format).
    problem: str | None
    #: Why the fast reader leaves it to rasterio (``compressed (LZW)``), None when it reads it.
    slow: str | None = None
    #: Its data type, when its header could be read.
    dtype: str | None = None


def check_patch(path: str | os.PathLike[str], fmt: SensorFormat, patch_size: int | None = facts.PATCH_SIZE, *,
                needs_crs: bool = True) -> PatchCheck:
    """The one check of a patch file against its format (the module docstring says what it
    checks).  ``patch_size=None`` accepts any square size; ``needs_crs=False`` does not require a
    georeference."""
    from ..reading.reader import UNREADABLE, structure_problem  # deferred: numpy, which importing the package avoids

    path = os.fspath(path)
    try:
        problem, slow = structure_problem(path)
    except OSError as exc:
        return PatchCheck(f"cannot be read ({exc.strerror or exc})")
    profile, dtype = _profile_problems(path, fmt, patch_size, needs_crs)
    if profile and profile[0].startswith(UNREADABLE):
        return PatchCheck(profile[0])  # GDAL's own words say why; the TIFF parser's would repeat it
    problems = profile + ([problem] if problem else [])
    if not problems and dtype is not None:
        values = _value_problem(path, fmt, dtype)
        problems += [values] if values else []
    return PatchCheck("; ".join(problems) or None, slow, dtype)


@dataclass
class DeepCheck:
    """What ``verify --deep`` found: the bad files, and the valid files the fast reader leaves to rasterio."""

    #: ``{"path": <root-relative path>, "problem": <what is wrong>}`` per bad file
    bad: list[dict[str, str]] = field(default_factory=list)
    #: reason (``compressed (LZW)``) -> number of valid files in that layout
    slow: Counter[str] = field(default_factory=Counter)


def _deep_check(root: Path, paths: list[tuple[str, str]], patch_size: int | None, jobs: int | None,
                quiet: bool) -> DeepCheck:
    """Check every (root-relative path, sensor) in ``jobs`` threads."""
    import rasterio  # deferred, as above
    from rasterio.errors import NotGeoreferencedWarning

    from ..reading.reader import GDAL_OPTIONS

    result = DeepCheck()
    with Progress(len(paths), "GeoTIFF headers", unit="file", quiet=quiet) as bar:
        counter = LockedCounter(bar)

        def _batch(batch: list[tuple[str, str]]) -> DeepCheck:
            found = DeepCheck()
            with rasterio.Env(**GDAL_OPTIONS):
                for rel, sensor in batch:
                    top = rel.split("/", 1)[0]
                    # DFC2020's georeference is not relied on (the release's is reported stripped)
                    checked = check_patch(root / rel, facts.formats_of(top)[sensor], patch_size,
                                          needs_crs=not facts.is_dfc2020(top))
                    if checked.problem:
                        found.bad.append({"path": rel, "problem": checked.problem})
                    elif checked.slow:
                        found.slow[checked.slow] += 1
            counter(len(batch))
            return found

        batches = [paths[i:i + _DEEP_BATCH] for i in range(0, len(paths), _DEEP_BATCH)]
        with warnings.catch_warnings(), ThreadPoolExecutor(max(1, jobs or os.cpu_count() or 1),
                                                            thread_name_prefix="sen12ms-deep") as pool:
            # a file without georeference is reported as "no CRS", not warned about
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            for found in pool.map(_batch, batches):
                result.bad.extend(found.bad)
                result.slow.update(found.slow)
    return result


# --- Quick check for the adapters ---------------------------------------------------------------


def check_root(root: str | os.PathLike[str] | None, *, quiet: bool = True) -> VerificationReport:
    """The check adapters run instead of re-hashing: the archives present are md5-verified
    (instantly when unchanged since the last check) and the extracted tree, if any, is
    checked for missing files and official counts, and the DFC2020 files added by
    ``add-dfc2020`` for their recorded md5s (instantly when unchanged)."""
    started = time.monotonic()
    books = Bookkeeping(resolve_root(root))
    root = books.root
    present = [n for n in facts.ARCHIVE_MD5 if (root / n).is_file()]
    has_tree = any((root / folder).is_dir() for folder in facts.TOP_FOLDERS)
    report = VerificationReport(root)
    if not present and not has_tree:
        report.problems.append(f"{root}: holds neither SEN12MS archives nor an extracted tree "
                               f"(expected {next(iter(facts.ARCHIVE_MD5))} … or {facts.SEASONS[0]}/ …)")
    if present:
        report.merge(_verify_archives(books, present, None, None, quiet))
    if has_tree:
        report.merge(_verify_tree(books, False, facts.PATCH_SIZE, None, None, quiet))
    report.seconds = time.monotonic() - started
    return report
