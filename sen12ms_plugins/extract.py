"""Extract the SEN12MS archives: safely, atomically per archive, once.

Safe
    Each ``ROIs<season>_<sensor>.tar.gz`` may hold only ``<season>/``,
    ``<season>/<sensor>_<scene>/`` folders and regular files inside those folders.
    Anything else (absolute names, ``..``, links, devices, fifos, deeper paths, other
    seasons or sensors, a name twice) refuses the whole archive; tarfile's ``data``
    filter is applied on top.  Stricter than the filter: nothing can land outside the
    archive's own scene folders.
Atomic per archive
    Members are written into a temporary folder inside the root (same file system),
    the archive's md5 is confirmed, and only then is each scene folder moved into
    place with one ``rename``; a marker recording the md5 is written last.  An error
    (bad data, unsafe member, md5 mismatch, disk full) deletes the temporary folder:
    nothing half-extracted ever sits at a final name.  If the process dies, the
    leftover temporary folder is deleted by the next run and the archive extracted
    again; scene folders already moved are replaced.
Once
    An archive whose marker matches its md5 (and whose folders exist) is skipped.
Read once
    An archive not yet verified is hashed while it is extracted; one already verified
    (``verify``/``download`` remember it by size and mtime) is not hashed again.

The same staging (:func:`stage`) extracts from a network stream in
``download(stream=True)``: the archive then never touches the disk.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from . import checksums as checksums_mod
from . import facts, records
from .errors import SEN12MSError
from .fsutil import make_writable_dir
from .gzipio import decode_errors, open_gzip
from .hashing import ChecksumMismatchError, new_md5
from .progress import Progress
from .root import resolve_root

TEMP_PREFIX = ".sen12ms-extracting-"
_COPY_CHUNK = 1 << 20
#: errno values that mean "no room left".
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class ExtractError(SEN12MSError):
    """An archive could not be extracted (its file is named in the message)."""


class UnsafeArchiveError(ExtractError):
    """An archive holds a member that could write outside its place (or is not a SEN12MS member)."""

    def __init__(self, archive: str, member: str, problem: str, root: str | os.PathLike[str]):
        self.archive, self.member, self.problem = archive, member, problem
        super().__init__(f"{archive}: refusing to extract: member {member!r} {problem}; nothing was written to {root}")


class DiskFullError(SEN12MSError):
    """The file system filled up (while downloading or extracting)."""


def archive_layout(name: str) -> tuple[str, str]:
    """``(season, sensor)`` of a SEN12MS archive name; ValueError for other names."""
    for season in facts.SEASONS:
        for sensor in facts.SENSORS:
            if facts.archive_name(season, sensor) == name:
                return season, sensor
    raise ValueError(f"{name!r} is not a SEN12MS archive name (ROIs<season>_<sensor>.tar.gz)")


def _member_parts(member: tarfile.TarInfo, season: str, sensor: str) -> tuple[str, ...] | str:
    """The member's path components, or a string saying why it is refused."""
    name = member.name
    if "\x00" in name or "\\" in name:
        return "has a NUL or backslash in its name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "has an absolute path"
    parts = name.split("/")
    while parts and parts[0] == ".":
        parts.pop(0)
    while parts and parts[-1] == "":
        parts.pop()
    if any(p in ("", ".", "..") for p in parts):
        return "has '..' or an empty component in its path"
    if member.issym():
        return f"is a symbolic link (to {member.linkname!r})"
    if member.islnk():
        return f"is a hard link (to {member.linkname!r})"
    if member.isdev():
        return "is a device or fifo"
    if not (member.isdir() or member.isreg()):
        return f"has unsupported type {member.type!r}"
    if not parts:
        return () if member.isdir() else "has an empty name"
    if parts[0] != season:
        return f"is outside the archive's season folder {season}/"
    if len(parts) >= 2 and not re.fullmatch(rf"{sensor}_(0|[1-9][0-9]*)", parts[1]):
        return f"is not in a {sensor}_<scene> folder"
    if len(parts) > 3 or (member.isreg() and len(parts) != 3):
        return f"is not laid out as {season}/{sensor}_<scene>/<file>"
    return tuple(parts)


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
        season, _ = archive_layout(self.name)
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
    for path in root.glob(f"{TEMP_PREFIX}{name}-*"):
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
    season, sensor = archive_layout(name)
    temp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{name}-", dir=root))
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
                parts = _member_parts(member, season, sensor)
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
        abort = getattr(reader.raw, "abort", None)
        if abort is not None:
            abort()
        raise
    finally:
        gz.close()
    while reader.readinto(buffer):  # anything after the gzip stream still counts for the md5
        pass
    staged.dirs = sorted(scene_dirs)


# --- Extracting archives of a root ------------------------------------------------------------


@dataclass
class ExtractOutcome:
    name: str
    status: str  # "extracted", "already extracted", "absent", "failed"
    files: int = 0
    nbytes: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass
class ExtractReport:
    root: Path
    outcomes: list[ExtractOutcome]

    @property
    def ok(self) -> bool:
        return all(o.status != "failed" for o in self.outcomes)

    @property
    def problems(self) -> list[str]:
        return [o.error or o.name for o in self.outcomes if o.status == "failed"]

    def to_dict(self) -> dict:
        return {"root": str(self.root), "ok": self.ok, "archives": [vars(o) for o in self.outcomes]}


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
    remove_stale_temps(root, name)
    with Progress(st.st_size, f"extract {name}", unit="B", quiet=quiet) as bar, open(path, "rb", buffering=0) as f:
        staged = stage(f, root, name, hasher=hasher, progress=bar.update)
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
    return ExtractOutcome(name, "extracted", staged.files, staged.nbytes, time.monotonic() - started)


def extract_archives(
    root: str | os.PathLike[str] | None,
    *,
    names: Iterable[str] | None = None,
    delete_archives: bool = False,
    quiet: bool = False,
    checksums=None,
) -> ExtractReport:
    """Extract the archives in ``root`` (default: every SEN12MS archive there), each verified
    against its md5 (``checksums`` as in :func:`sen12ms_plugins.download.download`).

    Archives already extracted (marker matching the md5) are skipped, so a re-run does
    nothing.  With ``delete_archives`` each archive is deleted once its content is in
    place.  Raises the archive's error when one fails (after trying the others, except on
    a full disk), :class:`ExtractError` naming all of them when several fail.
    """
    root = make_writable_dir(resolve_root(root), "SEN12MS root")
    explicit = names is not None
    wanted = list(dict.fromkeys(names)) if explicit else list(facts.ARCHIVE_MD5)
    for name in wanted:
        archive_layout(name)  # ValueError before any work for a name that is not an archive
    sums = checksums_mod.for_root(root, checksums)
    outcomes: list[ExtractOutcome] = []
    errors: list[SEN12MSError] = []
    with records.root_lock(root, "sen12ms extract"):
        todo = []
        for name in wanted:
            md5 = sums.get(name)
            if md5 is not None and records.is_extracted(root, name, md5):
                outcomes.append(ExtractOutcome(name, "already extracted"))
            elif not (root / name).is_file():
                if explicit:
                    error = ExtractError(f"{root / name}: archive not found")
                    errors.append(error)
                    outcomes.append(ExtractOutcome(name, "failed", error=str(error)))
                else:
                    outcomes.append(ExtractOutcome(name, "absent"))
            else:
                todo.append(name)
        sums.require(todo)
        if not todo and not errors and not any(o.status == "already extracted" for o in outcomes):
            raise ExtractError(f"{root}: no SEN12MS archive to extract (expected names like {next(iter(facts.ARCHIVE_MD5))})")
        checksums_mod.record(root, sums, todo)
        for name in todo:
            try:
                outcomes.append(extract_archive(root, name, sums.md5[name], delete_archive=delete_archives, quiet=quiet))
            except SEN12MSError as exc:
                errors.append(exc)
                outcomes.append(ExtractOutcome(name, "failed", error=str(exc)))
                if isinstance(exc, DiskFullError):
                    break
    outcomes.sort(key=lambda o: wanted.index(o.name))
    report = ExtractReport(root, outcomes)
    if len(errors) == 1:
        errors[0].report = report  # type: ignore[attr-defined]
        raise errors[0]
    if errors:
        error = ExtractError(f"{len(errors)} archives failed:\n" + "\n".join(f"  {e}" for e in errors))
        error.report = report  # type: ignore[attr-defined]
        error.errors = errors  # type: ignore[attr-defined]
        raise error
    return report
