"""Extract the SEN12MS archives: safely, atomically per archive, once.

Safe
    Each member is decided before anything is written (:mod:`.members`): patches are
    extracted; harmless members that are not patches (a README, macOS ``._*`` files,
    folders outside the layout) are skipped, never written, and listed in the report and
    the marker; a dangerous member (outside the archive's own scene folders, a link, a
    device, larger than a patch can be) refuses the whole archive.
Atomic per archive
    Members are written into a temporary folder inside the root (same file system),
    the archive's md5 is confirmed, and only then is each scene folder moved into
    place with one ``rename``; a marker recording the md5 is written last.  An error
    (bad data, unsafe member, md5 mismatch, disk full) deletes the temporary folder:
    nothing half-extracted ever sits at a final name.  If the process dies, the next
    run puts back a scene folder that was moved aside and not replaced, deletes the
    leftover temporary folder and extracts the archive again (see :mod:`.staging`).
Once
    An archive whose marker matches its md5 (and whose folders exist) is skipped.
Read once
    An archive not yet verified is hashed while it is extracted; one already verified
    (``verify``/``download`` remember it by size and mtime) is not hashed again.

The same staging (:func:`~.staging.stage`) extracts from a network stream in
``download(stream=True)``: the archive then never touches the disk.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from ..console import Progress
from ..dataset import facts
from ..dataset.root import resolve_root
from ..errors import BadArchiveError, ChecksumMismatchError, DiskFullError, ExtractError, SEN12MSError
from ..fsutil import make_writable_dir
from . import checksums as checksums_mod
from . import records
from .hashing import new_md5
from .reports import ExtractOutcome, ExtractReport, ExtractStatus
from .staging import recover_stale_temps, stage


def extract_archive(
    root: Path,
    name: str,
    md5: str,
    *,
    delete_archive: bool = False,
    quiet: bool = False,
) -> ExtractOutcome:
    """Extract ``root/name`` (which must have md5 ``md5``) into ``root``; the root lock must be held."""
    started = time.monotonic()
    path = root / name
    st = os.stat(path)
    known = records.remembered_md5(root, name, st)
    if known is not None and known != md5:
        raise ChecksumMismatchError(name, md5, known, where=f"{path}, not extracted")
    hasher = None if known == md5 else new_md5()
    recover_stale_temps(root, name)
    with Progress(st.st_size, f"extract {name}", unit="B", quiet=quiet) as bar, open(path, "rb", buffering=0) as f:
        try:
            staged = stage(f, root, name, hasher=hasher, progress=bar.update)
        except BadArchiveError as exc:
            if hasher is None:
                raise  # the md5 was verified: the archive itself is bad
            _hash_rest(f, hasher, bar.update)  # the md5 tells a damaged file from a bad archive
            actual = hasher.hexdigest()
            records.remember_md5(root, name, actual, st)
            verdict = (f"its md5 matches {md5}: the archive itself is bad" if actual == md5 else
                       f"its md5 {actual} is not the expected {md5}: the file is damaged, download it again")
            exc.args = (f"{exc} ({verdict})",)
            raise
    if hasher is not None:
        actual = hasher.hexdigest()
        records.remember_md5(root, name, actual, st)
        if actual != md5:
            staged.discard()
            raise ChecksumMismatchError(name, md5, actual, where=f"{path}, not extracted")
    staged.commit(md5)
    if delete_archive:
        os.unlink(path)
        records.forget_md5(root, name)
    return ExtractOutcome(name, ExtractStatus.EXTRACTED, staged.files, staged.nbytes, time.monotonic() - started,
                          skipped=staged.skipped, skipped_total=staged.skipped_total)


def _hash_rest(f, hasher, progress) -> None:
    """Feed the rest of ``f`` to ``hasher`` (the extraction stopped part way)."""
    buffer = bytearray(1 << 20)
    while n := f.readinto(buffer):
        hasher.update(memoryview(buffer)[:n])
        progress(n)


def extract_archives(
    root: str | os.PathLike[str] | None,
    *,
    names: Iterable[str] | None = None,
    delete_archives: bool = False,
    quiet: bool = False,
    checksums=None,
) -> ExtractReport:
    """Extract the archives in ``root`` (default: every SEN12MS archive there), each verified
    against its md5 (``checksums`` as in :func:`sen12ms_plugins.acquisition.download.download`).

    Archives already extracted (marker matching the md5) are skipped, so a re-run does
    nothing.  With ``delete_archives`` each archive is deleted once its content is in
    place.  Raises the archive's error when one fails (after trying the others, except on
    a full disk), :class:`ExtractError` naming all of them when several fail.
    """
    root = make_writable_dir(resolve_root(root), "SEN12MS root")
    explicit = names is not None
    wanted = list(dict.fromkeys(names)) if explicit else list(facts.ARCHIVE_MD5)
    for name in wanted:
        facts.parse_archive_name(name)  # ValueError before any work for a name that is not an archive
    sums = checksums_mod.for_root(root, checksums)
    outcomes: list[ExtractOutcome] = []
    errors: list[SEN12MSError] = []
    with records.root_lock(root, "sen12ms extract"):
        for name in wanted:
            recover_stale_temps(root, name)  # a killed run's leftovers, also of archives it finished
        todo = []
        for name in wanted:
            md5 = sums.get(name)
            if md5 is not None and records.is_extracted(root, name, md5):
                outcomes.append(ExtractOutcome(name, ExtractStatus.ALREADY_EXTRACTED))
            elif not (root / name).is_file():
                if explicit:
                    error = ExtractError(f"{root / name}: archive not found")
                    errors.append(error)
                    outcomes.append(ExtractOutcome(name, ExtractStatus.FAILED, error=str(error)))
                else:
                    outcomes.append(ExtractOutcome(name, ExtractStatus.ABSENT))
            else:
                todo.append(name)
        sums.require(todo)
        if not todo and not errors and not any(o.status == ExtractStatus.ALREADY_EXTRACTED for o in outcomes):
            raise ExtractError(f"{root}: no SEN12MS archive to extract (expected names like {next(iter(facts.ARCHIVE_MD5))})")
        checksums_mod.record(root, sums, todo)
        for name in todo:
            try:
                outcomes.append(extract_archive(root, name, sums.md5[name], delete_archive=delete_archives, quiet=quiet))
            except SEN12MSError as exc:
                errors.append(exc)
                outcomes.append(ExtractOutcome(name, ExtractStatus.FAILED, error=str(exc)))
                if isinstance(exc, DiskFullError):
                    break
    outcomes.sort(key=lambda o: wanted.index(o.name))
    report = ExtractReport(root, outcomes)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ExtractError(f"{len(errors)} archives failed:\n" + "\n".join(f"  {e}" for e in errors), errors)
    return report
