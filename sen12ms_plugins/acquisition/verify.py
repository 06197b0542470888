"""Verify a SEN12MS root: its archives (md5) here, its extracted tree in :mod:`.tree`.

Each archive is md5-hashed (in parallel across files) and compared with its expected
md5 (:mod:`.checksums`).  The result is remembered by the file's size, mtime and
inode (:mod:`.records`): while the file is unchanged a second verification reads
nothing and is instant.  This replaces torchgeo's re-hashing of ~510 GB at every
dataset construction.  :func:`check_root` is the quick check the ecosystem adapters
call: the archives present and the tree.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from ..console import LockedCounter, Progress
from ..dataset import facts
from ..dataset.root import resolve_root
from . import checksums as checksums_mod
from . import records
from .hashing import md5_file
from .reports import ArchiveCheck, CheckStatus, VerificationReport
from .tree import verify_tree
from .workfiles import part_path, rejected_paths

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
            counter = LockedCounter(bar)
            workers = max(1, min(jobs or os.cpu_count() or 1, len(to_hash)))

            def _hash(item: tuple[str, os.stat_result]) -> str:
                name, st = item
                md5 = md5_file(root / name, counter).hexdigest()
                records.remember_md5(root, name, md5, st)
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
        records.remember_sizes(root, verified_sizes, verified=True)
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


# --- Quick check for the adapters ---------------------------------------------------------------


def check_root(root: str | os.PathLike[str] | None, *, quiet: bool = True) -> VerificationReport:
    """The check adapters run instead of re-hashing: the archives present are md5-verified
    (instantly when unchanged since the last check) and the extracted tree, if any, is
    checked for missing files and official counts, and the DFC2020 files added by
    ``add-dfc2020`` for their recorded md5s (instantly when unchanged)."""
    started = time.monotonic()
    root = resolve_root(root)
    present = [n for n in facts.ARCHIVE_MD5 if (root / n).is_file()]
    has_tree = any((root / folder).is_dir() for folder in facts.TOP_FOLDERS)
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
