"""Checking the extracted tree of a root: complete triplets, strays, official counts, and (deep) every GeoTIFF header.

Every patch must have its s1, s2 and lc file (missing files and their orphaned
partners are listed, as are entries that are not SEN12MS patches).  Counts are
compared with the official ones (:mod:`~sen12ms_plugins.dataset.facts`) only where
they are known and the tree claims to be complete: the hold-out patches of a season
once that season's three official archives were extracted here (or ``full=True``),
and the totals once all four seasons are.  Official per-season totals are not
published, so they are not compared.  ``deep=True`` opens every GeoTIFF header
(:mod:`.headers`): damaged or wrongly shaped files are problems, files in a layout the
fast reader leaves to rasterio a note.  DFC2020 patches (``sen12ms add-dfc2020``) are
checked alike (four files each), and so is every file add-dfc2020 recorded: it must still
have its md5 (:mod:`.dfc2020_records`; ``deep`` re-hashes them all).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..dataset import facts
from ..dataset.index import build_index
from ..dataset.root import resolve_root
from ..dataset.splits import compute_splits
from . import dfc2020_records, records
from .reports import TreeCheck, VerificationReport


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


def _check_dfc2020(report: VerificationReport, index, *, deep: bool, full: bool, quiet: bool) -> None:
    """The DFC2020 part: every file add-dfc2020 recorded still has its md5 (all re-hashed when
    ``deep``), files it did not add are noted, and with ``full`` the counts are the release's."""
    root = report.root
    check = dfc2020_records.check_files(root, rehash=deep, quiet=quiet)
    report.problems += check.problems
    recorded = set(dfc2020_records.load(root)["files"])
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
    started = time.monotonic()
    root = resolve_root(root)
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
    seasons = _complete_seasons(root, index, full)
    if seasons:
        _compare_counts(report, tree, seasons)
    elif index.triplets:
        report.notes.append("counts not compared with the official ones: the tree is not a complete SEN12MS "
                            "(pass full=True / --full to compare anyway)")
    _check_dfc2020(report, index, deep=deep, full=bool(full), quiet=quiet)
    if deep:
        paths = [(pid.relpath(s), s) for pid in (*index.dfc2020, *index.triplets) for s in pid.sensors]
        paths += [(rel, rel.split("/", 1)[1].split("_", 1)[0]) for rel in tree.orphans]
        from .headers import deep_check  # deferred: numpy and rasterio, needed only here

        checked = deep_check(root, paths, patch_size, jobs, quiet)
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


