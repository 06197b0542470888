"""Verify a root: its archives (md5), its extracted tree (complete patches, counts), every GeoTIFF header (deep).

Archives
    Each archive is md5-hashed (in parallel across files) and compared with its expected
    md5 (:mod:`.checksums`).  The result is remembered by the file's size, mtime and inode
    (:mod:`.bookkeeping`): while the file is unchanged a second verification reads nothing
    and is instant.  This replaces torchgeo's re-hashing of ~510 GB at every dataset
    construction.
Tree
    Every patch must have its s1, s2 and lc file (missing files and their orphaned partners
    are listed, as are entries that are not SEN12MS patches), and every scene that has a folder
    of one sensor must have the folders of the others (an empty ``s1_101/`` beside no ``s2_101/``
    is a scene deleted in part).  Every patch file must be as long as its header says: its size
    is read (one ``stat`` a file), and within a folder the files of one size share a header
    layout, so the header of one file per folder and size is read (:func:`~sen12ms_plugins.reading.reader.cut_short`),
    and every file of a size whose file is cut short; words as ``verify --deep``'s.  Nothing is
    remembered for this: on an unchanged root it costs the ``stat`` calls and a few hundred reads
    of 16 KiB (a file truncated in place changes neither its folder nor anything but itself).
    What should be there: a root the downloader filled has its request and extraction markers
    (:class:`~.download.Selection`), and an archive of the request that is not extracted as
    recorded (never, or its folders gone since) is a problem saying how to finish the download;
    any root also has the folders the last passing verify saw (kept in the user's cache beside
    the index, never in the root), and one of them gone is a problem, until a verify with
    ``accept_removed`` (``--accept-removed``) takes the root as it now is.  Counts are compared with the
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
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from ..console import LockedCounter, Progress
from ..dataset import facts
from ..dataset.facts import SensorFormat
from ..dataset.ids import SCENE_DIR_RE, scene_dirname
from ..dataset.index import Index, build_index
from ..dataset.root import resolve_root
from ..dataset.splits import compute_splits
from ..errors import PatchFileError
from ..fsutil import root_cache_dir
from . import checksums as checksums_mod
from .bookkeeping import Bookkeeping, Record, RecordFile, file_key, utc_now
from .checksums import md5_file
from .download import Selection
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
    accept_removed: bool = False,
) -> VerificationReport:
    """Check the extracted tree of ``root`` (see the module docstring).

    ``full``: True compares all official counts, False none; None (default) decides from
    what was extracted here.  ``deep`` checks every GeoTIFF (``jobs`` threads);
    ``patch_size=None`` accepts any square size.  ``accept_removed`` takes the folders gone
    since the last passing verify as removed on purpose.
    """
    return _verify_tree(Bookkeeping(resolve_root(root)), deep, patch_size, full, jobs, quiet, accept_removed)


def _verify_tree(books: Bookkeeping, deep: bool, patch_size: int | None, full: bool | None, jobs: int | None,
                 quiet: bool, accept_removed: bool = False) -> VerificationReport:
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
    folders = _files_by_folder(index)
    unpartnered = _unpartnered_scenes(root)
    if unpartnered:
        scenes = "1 scene has" if len(unpartnered) == 1 else f"{len(unpartnered):,} scenes have"
        report.problems.append(f"{root}: {scenes} folders of some sensors only ({_sample(unpartnered)})")
    reported = _check_download_record(books, report)
    _check_gone_folders(books, report, set(folders) | reported, accept_removed)
    if not deep:
        tree.bad_files, tree.files_checked = _cut_short_files(root, folders)
        if tree.bad_files:
            report.problems.append(
                f"{root}: {len(tree.bad_files):,} of {tree.files_checked:,} GeoTIFFs are shorter than their headers say "
                f"({_sample([b['path'] + ': ' + b['problem'] for b in tree.bad_files], 2)}); download or extract "
                "them again")
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
    if report.ok:
        _remember_folders(root, sorted(folders))
    report.seconds = time.monotonic() - started
    return report


# --- The tree's cheap checks: files cut short, partner folders, folders that should be there ------------------


def _files_by_folder(index: Index) -> dict[str, list[str]]:
    """The patch files of ``index`` (complete patches, and the files incomplete ones have) by
    folder: root-relative folder -> file names."""
    folders: dict[str, list[str]] = {}
    for _, group in groupby((*index.triplets, *index.dfc2020), key=lambda pid: (pid.season, pid.scene)):
        patches = list(group)
        for sensor in patches[0].sensors:  # one folder a sensor: its name made once, not per file
            folder = os.path.dirname(patches[0].relpath(sensor))
            folders.setdefault(folder, []).extend(pid.filename(sensor) for pid in patches)
    for item in index.incomplete:
        for sensor in item.patch.sensors:
            if sensor not in item.missing:
                rel = item.patch.relpath(sensor)
                folders.setdefault(os.path.dirname(rel), []).append(os.path.basename(rel))
    return folders


def _cut_short_files(root: Path, folders: dict[str, list[str]]) -> tuple[list[dict[str, str]], int]:
    """(``{"path", "problem"}`` of every file shorter than its header says, files looked at).  Each
    file's size is read; within a folder (one sensor of one scene) the files of one size share
    a header layout, so one file's header stands for its size, and every file of a size whose
    file is cut short is checked itself."""
    bad: list[dict[str, str]] = []
    looked = 0
    for folder in sorted(folders):
        base = os.path.join(root, folder)
        sizes: dict[int, list[str]] = {}
        for name, size in _sizes(base, folders[folder]):
            sizes.setdefault(size, []).append(name)
            looked += 1
        for size, names in sizes.items():
            if _cut(os.path.join(base, names[0]), size) is None:
                continue
            for name in names:
                problem = _cut(os.path.join(base, name), size)
                if problem is not None:
                    bad.append({"path": f"{folder}/{name}", "problem": problem})
    return sorted(bad, key=lambda b: b["path"]), looked


def _sizes(folder: str, names: list[str]) -> Iterator[tuple[str, int]]:
    """(name, size) of the files of ``folder`` that exist (one gone since the index was made is
    left out: the next index says so)."""
    fd = None
    if os.stat in os.supports_dir_fd:
        try:  # names looked up in the folder's descriptor: its path is walked once, not once a file (-30 %)
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            return
    try:
        for name in names:
            try:
                size = os.stat(name, dir_fd=fd).st_size if fd is not None else os.stat(os.path.join(folder, name)).st_size
            except FileNotFoundError:
                continue
            yield name, size
    finally:
        if fd is not None:
            os.close(fd)


def _cut(path: str, size: int) -> str | None:
    from ..reading.reader import cut_short  # deferred: numpy, which importing the package avoids

    try:
        return cut_short(path, size)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"


def _unpartnered_scenes(root: Path) -> list[str]:
    """Scenes of the seasons present that have folders of some sensors only, as
    ``ROIs1158_spring/s1_101/ and lc_101/ without s2_101/``."""
    found = []
    for season in facts.SEASONS:
        try:
            with os.scandir(root / season) as entries:
                names = [e.name for e in entries if e.is_dir()]
        except (FileNotFoundError, NotADirectoryError):
            continue
        scenes: dict[int, set[str]] = {}
        for name in names:
            match = SCENE_DIR_RE.fullmatch(name)
            if match:
                scenes.setdefault(int(match.group(2)), set()).add(match.group(1))
        for scene, sensors in sorted(scenes.items()):
            if len(sensors) < len(facts.SENSORS):
                have = " and ".join(f"{scene_dirname(season, s, scene)}/" for s in facts.SENSORS if s in sensors)
                lack = " and ".join(f"{scene_dirname(season, s, scene)}/" for s in facts.SENSORS if s not in sensors)
                found.append(f"{season}/{have} without {lack}")
    return found


def _check_download_record(books: Bookkeeping, report: VerificationReport) -> set[str]:
    """A problem for the archives of the root's recorded download that are not extracted as
    recorded (never, or their folders gone since); returns the folders those archives fill."""
    selection = Selection.recorded(books)
    if selection is None:
        return set()
    missing = selection.not_extracted(books)
    if not missing:
        return set()
    markers = {name: books.marker(name) or {} for name in missing}
    gone = sorted(name for name in missing if markers[name])
    never = sorted(name for name in missing if not markers[name])
    parts = [f"{', '.join(names)}: {what}" for names, what in ((gone, "folders gone"), (never, "never extracted"))
             if names]
    report.problems.append(
        f"{books.root}: {len(missing)} of the {len(selection.archives)} archives recorded as downloaded here are not "
        f"extracted as recorded ({'; '.join(parts)}); complete the download with `{selection.command(books.root)}`")
    return {folder for marker in markers.values() for folder in marker.get("dirs", ())}


#: The record of the folders the last passing verify saw, in the user's cache of the root.
_VERIFIED_FOLDERS = "verified-tree.json"


def _verified_folders(root: Path) -> Record:
    return Record(root_cache_dir(root) / _VERIFIED_FOLDERS)


def _check_gone_folders(books: Bookkeeping, report: VerificationReport, accounted: set[str],
                        accept_removed: bool) -> None:
    """A problem for the folders the last passing verify saw that are gone (and not already
    said by :func:`_check_download_record`); with ``accept_removed``, they are forgotten."""
    record = _verified_folders(books.root)
    fields = record.read() or {}
    gone = sorted(folder for folder in fields.get("folders", ()) if folder not in accounted
                  and not (books.root / folder).is_dir())
    if not gone:
        return
    if accept_removed:
        with contextlib.suppress(OSError), record.update() as latest:
            latest["folders"] = [f for f in latest.get("folders", ()) if f not in set(gone)]
        return
    report.problems.append(
        f"{books.root}: {len(gone):,} folders that held patches when verify last passed ({fields.get('verified', '?')}: "
        f"{_sample(gone)}) are gone; restore them, or, if they were removed on purpose, run "
        f"`sen12ms verify --root {books.root} --accept-removed`")


def _remember_folders(root: Path, folders: list[str]) -> None:
    """Record the folders of a root that passed (a cache: a record that cannot be written only
    means a folder removed later goes unnoticed)."""
    record = _verified_folders(root)
    with contextlib.suppress(OSError):
        if (record.read() or {}).get("folders") != folders:
            record.write({"folders": folders, "verified": utc_now()})


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

    from ..reading.reader import NO_CRS, UNREADABLE, gdal_reason, profile_problems

    try:
        with rasterio.open(path) as src:
            count, dtypes, width, height, crs = src.count, set(src.dtypes), src.width, src.height, src.crs
    except (RasterioError, ValueError) as exc:  # rasterio's CRSError (garbled GeoKeys) is a ValueError
        return [f"{UNREADABLE} ({gdal_reason(exc)})"], None  # check_patch weighs it against the TIFF structure
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
    from ..reading.tiffheader import TRUNCATED

    path = os.fspath(path)
    try:
        problem, slow = structure_problem(path)
    except OSError as exc:
        return PatchCheck(f"cannot be read ({exc.strerror or exc})")
    profile, dtype = _profile_problems(path, fmt, patch_size, needs_crs)
    if profile and profile[0].startswith(UNREADABLE):
        # GDAL's own words say why (the TIFF parser's would repeat them), except of a file cut short
        return PatchCheck(problem if problem is not None and problem.startswith(TRUNCATED) else profile[0])
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
