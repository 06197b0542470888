"""Extracting one archive into a temporary folder of the root, to be moved into place once its md5 is confirmed.

Members are checked one by one (:mod:`.members`) and written into a temporary folder
inside the root (same file system).  :meth:`Staged.commit` then moves each scene
folder into place with one ``rename`` and writes the extraction marker last;
:meth:`Staged.discard` deletes the temporary folder.  Nothing half-extracted ever
sits at a final name.  The same staging reads a file (``extract``) or a network
stream (``download --stream``, through a :class:`~.pipe.BytePipe`).
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..dataset import facts
from ..errors import DiskFullError, ExtractError, UnsafeArchiveError
from ..fsutil import DISK_FULL_ERRNOS
from . import records
from .gzipio import decode_errors, open_gzip
from .members import member_parts
from .pipe import BytePipe
from .workfiles import temp_prefix

_COPY_CHUNK = 1 << 20


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

    def commit(self, md5: str) -> None:
        """Move every scene folder into place (replacing an older copy), then write the marker."""
        season, _ = facts.parse_archive_name(self.name)
        (self.root / season).mkdir(exist_ok=True)
        replaced = self.temp / ".replaced"
        for rel in self.dirs:
            target = self.root / rel
            if target.exists() or target.is_symlink():
                replaced.mkdir(exist_ok=True)
                os.rename(target, replaced / target.name)
            os.rename(self.temp / rel, target)
        records.write_marker(self.root, self.name, md5, self.dirs, self.files, self.nbytes)
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.temp, ignore_errors=True)


def remove_stale_temps(root: Path, name: str) -> None:
    """Delete temporary folders a killed run left for ``name`` (call with the root lock held)."""
    for path in root.glob(f"{temp_prefix(name)}*"):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


def stage(
    fileobj: BinaryIO,
    root: str | os.PathLike[str],
    name: str,
    *,
    hasher=None,
    progress: Callable[[int], object] | None = None,
) -> Staged:
    """Extract the gzip-compressed tar stream ``fileobj`` (archive ``name``) into a temporary
    folder of ``root``, checking every member.  Reads ``fileobj`` to its end (so ``hasher``
    sees every byte).  On any error the temporary folder is removed and the error raised."""
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
            raise ExtractError(f"{name}: not a valid tar.gz archive ({type(exc).__name__}: {exc}); "
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


def _extract_into(staged: Staged, reader: _CountingReader, season: str, sensor: str) -> None:
    made: set[Path] = {staged.temp}
    buffer = bytearray(_COPY_CHUNK)
    view = memoryview(buffer)
    scene_dirs: set[str] = set()
    gz = open_gzip(reader)
    try:
        with tarfile.open(fileobj=gz, mode="r|", bufsize=_COPY_CHUNK) as tar:
            for member in tar:
                parts = member_parts(member, season, sensor)
                if isinstance(parts, str):
                    raise UnsafeArchiveError(staged.name, member.name, parts, staged.root)
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
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
                except FileExistsError:
                    raise UnsafeArchiveError(staged.name, member.name, "appears twice", staged.root) from None
                src = tar.extractfile(member)
                with open(fd, "wb", buffering=0) as out:
                    while n := src.readinto(buffer):
                        done = 0
                        while done < n:  # a raw write may be short (and the next one then fails)
                            done += out.write(view[done:n])
                        staged.nbytes += n
                    os.utime(out.fileno(), (member.mtime, member.mtime))
                staged.files += 1
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
    staged.dirs = sorted(scene_dirs)
