"""Extracting one archive into a temporary folder of the root, to be moved into place once its md5 is confirmed.

Members are decided one by one (:mod:`.members`: kept, skipped, or refusing the
archive) and the kept ones written into a temporary folder inside the root (same file
system).  :meth:`Staged.commit` then puts each scene folder in place and writes the
extraction marker last; :meth:`Staged.discard` deletes the temporary folder.  Nothing
half-extracted ever sits at a final name.  The same staging reads a file (``extract``)
or a network stream (``download --stream``, through a :class:`~.pipe.BytePipe`).

A kill at any moment of :meth:`Staged.commit` leaves each scene folder's old content or
its new content at its name: the two are swapped in one step
(:func:`~sen12ms_plugins.fsutil.exchange_paths`); where the file system cannot swap, the
old folder is renamed into ``<temporary folder>/.replaced/`` first, and
:func:`recover_stale_temps` (run by the next download or extraction, under the root
lock) moves it back if the new one did not arrive.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..dataset import facts
from ..errors import BadArchiveError, DiskFullError, ExtractError, UnsafeArchiveError
from ..fsutil import DISK_FULL_ERRNOS, exchange_paths
from . import records
from .gzipio import decode_errors, open_gzip
from .members import MemberAction, decide, patch_size_cap
from .pipe import BytePipe
from .reports import MAX_LISTED_SKIPS, SkippedMember
from .workfiles import temp_prefix

_COPY_CHUNK = 1 << 20
#: Inside a temporary folder: old scene folders moved aside by a commit that could not swap.
REPLACED_DIRNAME = ".replaced"


class _CountingReader:
    """A raw reader that feeds what it reads to a hasher and a progress callback."""

    def __init__(self, raw: BinaryIO, hasher=None, progress: Callable[[int], object] | None = None):
        self.raw, self.hasher, self.progress = raw, hasher, progress
        self.count = 0

    def _account(self, data) -> None:
        if self.hasher is not None:
            self.hasher.update(data)
        self.count += len(data)
        if self.progress is not None:
            self.progress(len(data))

    def readinto(self, buffer) -> int:
        n = self.raw.readinto(buffer)
        if n:
            self._account(memoryview(buffer)[:n])
        return n

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if data:
            self._account(data)
        return data

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return False

    def close(self) -> None:
        pass  # the owner closes the underlying file


@dataclass
class Staged:
    """An archive extracted into a temporary folder, not yet in place."""

    root: Path
    name: str
    temp: Path
    dirs: list[str] = field(default_factory=list)  # "<season>/<sensor>_<scene>"
    files: int = 0
    nbytes: int = 0
    #: Members not extracted (not patches), at most MAX_LISTED_SKIPS of skipped_total.
    skipped: list[SkippedMember] = field(default_factory=list)
    skipped_total: int = 0

    def skip(self, member: tarfile.TarInfo, reason: str) -> None:
        self.skipped_total += 1
        if len(self.skipped) < MAX_LISTED_SKIPS:  # folders with a trailing "/", as ``tar -t`` lists them
            shown = f"{member.name}/" if member.isdir() and not member.name.endswith("/") else member.name
            self.skipped.append(SkippedMember(shown, reason, member.size if member.isreg() else 0))

    def commit(self, md5: str) -> None:
        """Put every scene folder in place (replacing an older copy), then write the marker."""
        season, _ = facts.parse_archive_name(self.name)
        (self.root / season).mkdir(exist_ok=True)
        for rel in self.dirs:
            swap_into_place(self.temp / rel, self.root / rel, self.temp)
        records.write_marker(self.root, self.name, md5, self.dirs, self.files, self.nbytes,
                             [asdict(s) for s in self.skipped], self.skipped_total)
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.temp, ignore_errors=True)


def swap_into_place(new: Path, target: Path, temp: Path) -> None:
    """Put the folder ``new`` at ``target``.  An older ``target`` is exchanged with it in one
    step where the system can (it then lies in ``temp``, deleted with it), else moved into
    ``temp``'s ``REPLACED_DIRNAME`` first, from where a killed run's recovery moves it back
    (:func:`restore_and_remove_temps`)."""
    if os.path.lexists(target):
        if exchange_paths(new, target):
            return
        replaced = temp / REPLACED_DIRNAME
        replaced.mkdir(exist_ok=True)
        os.rename(target, replaced / target.name)
    os.rename(new, target)


def recover_stale_temps(root: Path, name: str) -> None:
    """Clean up after a run that was killed while extracting ``name`` (call with the root lock
    held): a scene folder its commit moved aside without putting the new one in place is
    moved back, then its temporary folders are deleted."""
    season, _ = facts.parse_archive_name(name)
    restore_and_remove_temps(root, temp_prefix(name), root / season)


def restore_and_remove_temps(root: Path, prefix: str, home: Path) -> None:
    """The temporary folders ``root/<prefix>*`` of a killed run: what their commit moved
    aside (into ``REPLACED_DIRNAME``) and did not replace goes back into ``home``; then they
    are deleted."""
    for temp in root.glob(f"{prefix}*"):
        if not temp.is_dir() or temp.is_symlink():
            continue
        replaced = temp / REPLACED_DIRNAME
        if replaced.is_dir():
            for old in replaced.iterdir():
                if not os.path.lexists(home / old.name):
                    os.rename(old, home / old.name)
        shutil.rmtree(temp, ignore_errors=True)


def stage(
    fileobj: BinaryIO,
    root: str | os.PathLike[str],
    name: str,
    *,
    hasher=None,
    progress: Callable[[int], object] | None = None,
) -> Staged:
    """Extract the gzip-compressed tar stream ``fileobj`` (archive ``name``) into a temporary
    folder of ``root``, deciding on every member.  Reads ``fileobj`` to its end (so ``hasher``
    sees every byte).  On any error the temporary folder is removed and the error raised:
    :class:`~sen12ms_plugins.errors.BadArchiveError` (or its :class:`UnsafeArchiveError`)
    when the archive's bytes are at fault."""
    root = Path(root)
    season, sensor = facts.parse_archive_name(name)
    temp = Path(tempfile.mkdtemp(prefix=temp_prefix(name), dir=root))
    staged = Staged(root, name, temp)
    reader = _CountingReader(fileobj, hasher, progress)
    try:
        _extract_into(staged, reader, season, sensor)
    except BaseException as exc:
        staged.discard()
        if isinstance(exc, tarfile.FilterError):
            member = getattr(getattr(exc, "tarinfo", None), "name", "?")
            raise UnsafeArchiveError(name, member, str(exc), root) from exc
        if isinstance(exc, (tarfile.TarError, *decode_errors())):
            raise BadArchiveError(f"{name}: not a valid tar.gz archive ({type(exc).__name__}: {exc}); "
                                  f"nothing was extracted") from exc
        if isinstance(exc, OSError):
            if exc.errno in DISK_FULL_ERRNOS:
                raise DiskFullError(
                    f"{root}: disk full while extracting {name} ({staged.nbytes:,} bytes written to a temporary "
                    f"folder, now deleted); nothing was moved into place. Free space and run again "
                    f"(the extracted data is larger than the archive)"
                ) from exc
            raise ExtractError(f"{name}: extracting into {root} failed: {exc}; nothing was moved into place") from exc
        raise
    return staged


def _write_member(staged: Staged, tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path, cap: int,
                  buffer: bytearray) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    except FileExistsError:
        raise UnsafeArchiveError(staged.name, member.name, "appears twice", staged.root) from None
    view = memoryview(buffer)
    src = tar.extractfile(member)
    written = 0
    with open(fd, "wb", buffering=0) as out:
        while n := src.readinto(buffer):
            if written + n > cap:  # the header check already holds this; a patch never grows past it
                raise UnsafeArchiveError(staged.name, member.name, f"holds more than the {cap:,} bytes a patch "
                                         "can have", staged.root)
            done = 0
            while done < n:  # a raw write may be short (and the next one then fails)
                done += out.write(view[done:n])
            written += n
            staged.nbytes += n
        os.utime(out.fileno(), (member.mtime, member.mtime))
    staged.files += 1


def _extract_into(staged: Staged, reader: _CountingReader, season: str, sensor: str) -> None:
    made: set[Path] = {staged.temp}
    buffer = bytearray(_COPY_CHUNK)
    scene_dirs: set[str] = set()
    cap = patch_size_cap(sensor)
    gz = open_gzip(reader)
    try:
        with tarfile.open(fileobj=gz, mode="r|", bufsize=_COPY_CHUNK) as tar:
            for member in tar:
                decision = decide(member, season, sensor)
                if decision.action == MemberAction.REFUSE:
                    raise UnsafeArchiveError(staged.name, member.name, decision.reason, staged.root)
                if decision.action == MemberAction.SKIP:
                    staged.skip(member, decision.reason)
                    continue
                parts = decision.parts
                if not parts:
                    continue  # "./": the archive's own top folder
                tarfile.data_filter(member, str(staged.temp))  # belt and braces; raises FilterError
                path = staged.temp.joinpath(*parts)
                if len(parts) >= 2:
                    scene_dirs.add(f"{parts[0]}/{parts[1]}")
                if member.isdir():
                    if path not in made:
                        path.mkdir(parents=True, exist_ok=True)
                        made.add(path)
                    continue
                if path.parent not in made:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    made.add(path.parent)
                _write_member(staged, tar, member, path, cap, buffer)
        while gz.read(_COPY_CHUNK):  # the rest of the gzip stream: tar padding, and the CRC check
            pass
    except BaseException:
        # A stream source (download --stream) stops feeding us, so the decoder thread is not
        # left waiting for data that nobody reads.
        if isinstance(reader.raw, BytePipe):
            reader.raw.abort()
        raise
    finally:
        gz.close()
    while reader.readinto(buffer):  # anything after the gzip stream still counts for the md5
        pass
    if not staged.files:
        shown = "; ".join(f"{s.member!r} {s.reason}" for s in staged.skipped[:3])
        raise BadArchiveError(f"{staged.name}: holds no {season}/{sensor}_<scene>/ patch"
                              + (f" ({staged.skipped_total:,} members skipped: {shown}"
                                 f"{', …' if staged.skipped_total > 3 else ''})" if staged.skipped_total else "")
                              + "; nothing was extracted")
    staged.dirs = sorted(scene_dirs)
