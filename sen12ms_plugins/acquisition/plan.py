"""What a download would do, without changing anything (``download --dry-run``)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import TransferError
from . import records
from .checksums import Checksums
from .content import content_problem, expected_magic
from .reports import ArchiveResult, ArchiveStatus
from .sources import Source
from .workfiles import part_path


def plan_download(root: Path, names: list[str], sums: Checksums, sources: list[Source], *, timeout: float,
                  jobs: int) -> list[ArchiveResult]:
    """One result per archive saying what a run would do; sizes are asked from the first mirror."""
    results = [_state(root, name, sums.md5[name]) for name in names]

    def probe(result: ArchiveResult) -> None:
        try:
            with sources[0].open(result.name, 0, timeout=timeout) as transfer:
                first = bytearray(512)
                n = transfer.readinto(memoryview(first))
                problem = content_problem(expected_magic(result.name), transfer.start, transfer.content_type,
                                          bytes(first[:n]), transfer.total)
                if problem is not None:  # a page's length is not the archive's size
                    raise TransferError(transfer.url, problem, retryable=False)
                result.size = transfer.total
            result.source = sources[0].url_of(result.name)
        except TransferError as exc:
            result.source = f"size unknown: {exc}"
        if result.size is None:
            known = records.remembered_size(root, result.name, sums.md5[result.name]) if root.is_dir() else None
            if known is not None:
                result.size = known.size

    todo = [r for r in results if r.status in (ArchiveStatus.WOULD_FETCH, ArchiveStatus.WOULD_RESUME)]
    if todo:
        with ThreadPoolExecutor(min(jobs, len(todo))) as pool:
            list(pool.map(probe, todo))
    return results


def _state(root: Path, name: str, md5: str) -> ArchiveResult:
    result = ArchiveResult(name, ArchiveStatus.WOULD_FETCH)
    final, part = root / name, part_path(root, name)
    if not root.is_dir():  # nothing there yet (and no bookkeeping folder to create)
        return result
    if records.is_extracted(root, name, md5):
        result.status, result.extracted = ArchiveStatus.ALREADY_EXTRACTED, True
        if final.is_file():  # kept after extraction (no --delete-archives)
            result.have = result.size = final.stat().st_size
    elif final.is_file():
        result.have = result.size = final.stat().st_size
        known = records.remembered_md5(root, name)
        if known is None:
            result.status = ArchiveStatus.PRESENT_UNVERIFIED
        elif known == md5:
            result.status = ArchiveStatus.PRESENT
        else:
            result.error = f"{name}: present but its md5 {known} is not {md5}: it would be moved aside"
    elif part.is_file():
        result.have = part.stat().st_size
        result.status = ArchiveStatus.WOULD_RESUME
    return result
