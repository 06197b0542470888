"""What the package remembers about a root: one :class:`Bookkeeping` per root, one :class:`Record` type.

Where
    ``ROOT/.sen12ms/``, the folder :class:`Bookkeeping` resolves once when it is made.  A
    root that cannot be written (a read-only mount, a shared copy) and holds no such folder
    keeps its records in the user's cache instead (``fsutil.root_cache_dir``), so that a
    second ``verify`` of a read-only root is still instant.  Resolving writes nothing; the
    folder is made by the first record written, so reading a root (``splits``, ``index``,
    ``download --dry-run``, every adapter) leaves it as it was.
Records
    Every file is a :class:`Record`: a JSON object with a ``version`` and the record's
    fields, written atomically, changed under a lock (:meth:`Record.update`).  A record of
    another version, or a file that is not a record, is a :class:`~sen12ms_plugins.errors.RecordError`
    naming the file, never silently started afresh.  What each one holds:

    * ``verified-archives.json`` (:meth:`Bookkeeping.remember_md5`): per archive whose md5
      was computed, the md5 and the file's size, modification time (ns) and inode then;
      while those are unchanged the archive is not hashed again.
    * ``archive-sizes.json`` (:meth:`Bookkeeping.remember_sizes`): per archive, the size a
      server announced (or the size of a copy whose md5 matched: ``verified``), with the md5
      it was expected to have; transfers compare what a server announces with it.
    * ``extracted/<archive>.json`` (:meth:`Bookkeeping.write_marker`): written last when an
      archive's folders are in place: its md5, the scene folders it filled, its skipped
      members.  An archive whose marker matches its md5 is not extracted again.
    * ``selection.json``: what ``download`` was asked for (:mod:`.download`);
    * ``checksums.json``: md5s other than the official ones a root was fetched against
      (:mod:`.checksums`);
    * ``dfc2020.json``: what ``add-dfc2020`` added (:mod:`.dfc2020`, checked by :mod:`.verify`).

    The TFDS and Hugging Face adapters write the same record type into the data they prepare
    (:data:`SOURCE_RECORD`: the root, its ``content_stamp`` and the configuration it was made
    from), and owner files beside the folders ``prepare-hf`` prepares.
Locks
    ``lock`` is held (``flock``) while a download, extraction or ``add-dfc2020`` changes the
    root; ``records.lock`` for each read-modify-write of a record, so two processes (two
    ``verify`` runs) recording at once lose nothing.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..dataset.index import Index
from ..errors import RecordError, RootBusyError
from ..fsutil import atomic_write_bytes, root_cache_dir

try:
    import fcntl
except ImportError:  # not POSIX: threads still take turns, processes are not excluded
    fcntl = None  # type: ignore[assignment]

#: The folder inside a dataset root that holds its bookkeeping.
META_DIRNAME = ".sen12ms"
ROOT_LOCK_NAME = "lock"
RECORDS_LOCK_NAME = "records.lock"
EXTRACTED_DIRNAME = "extracted"
#: The record an ecosystem adapter writes into data it prepared from a root (a TFDS version
#: folder, a ``datasets`` cache folder): which root, as its files were then (:func:`source_fields`).
SOURCE_RECORD = "sen12ms_source.json"


class RecordFile(StrEnum):
    """The records of a root's bookkeeping (the module docstring says what each holds)."""

    VERIFIED = "verified-archives.json"
    SIZES = "archive-sizes.json"
    SELECTION = "selection.json"
    CHECKSUMS = "checksums.json"
    DFC2020 = "dfc2020.json"


def source_fields(root: Path, index: Index, stamp: str, config: str, patch_size: int,
                  **own: Any) -> dict[str, Any]:
    """What :data:`SOURCE_RECORD` says of data prepared from ``root`` (whose ``index`` has the
    content stamp ``stamp``, :func:`~sen12ms_plugins.dataset.index.content_stamp`) in ``config``,
    the same fields from every adapter, and the adapter's ``own`` (its version, its cache key)."""
    return {"root": str(root.resolve()), "content_stamp": stamp, "config": config, "triplets": len(index),
            "dfc2020_patches": len(index.dfc2020), "patch_size": patch_size, **own, "prepared": utc_now()}


def utc_now() -> str:
    """The time records are stamped with: UTC, to the second, ISO 8601."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def file_key(st: os.stat_result) -> list[int]:
    """What identifies one version of a file without reading it: size, mtime (ns) and inode."""
    return [st.st_size, st.st_mtime_ns, st.st_ino]


# --- one record -------------------------------------------------------------------------------

_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


@contextlib.contextmanager
def _folder_locked(folder: Path) -> Iterator[None]:
    """One read-modify-write in ``folder`` at a time, across threads and processes."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RECORDS_LOCK_NAME
    with _thread_locks_guard:
        lock = _thread_locks.setdefault(str(path), threading.Lock())
    with lock, open(path, "a") as f:
        if fcntl is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # waits: the other holder is done within milliseconds
        yield  # closing the file releases the flock


@dataclass(frozen=True)
class Record:
    """One versioned JSON record at ``path``: ``{"version": <version>, <fields>…}``."""

    path: Path
    version: int = 1

    def encode(self, fields: Mapping[str, Any]) -> bytes:
        """The bytes of the record holding ``fields`` (for writers that write through a file system of their own)."""
        return json.dumps({"version": self.version, **fields}, indent=1, sort_keys=True).encode()

    def decode(self, data: bytes) -> dict[str, Any]:
        """The fields of a record's bytes; RecordError naming the file when they are not one of this version."""
        try:
            body = json.loads(data)
        except ValueError as exc:
            raise RecordError(self.path, f"not a JSON record ({exc})") from None
        if not isinstance(body, dict) or "version" not in body:
            raise RecordError(self.path, "not a sen12ms-plugins record (no version)")
        if body["version"] != self.version:
            raise RecordError(self.path, f"a record of version {body['version']!r}; this release of sen12ms-plugins "
                                         f"reads version {self.version}")
        body.pop("version")
        return body

    def read(self) -> dict[str, Any] | None:
        """The record's fields; None when the file does not exist."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            return None
        return self.decode(data)

    def write(self, fields: Mapping[str, Any]) -> None:
        """Replace the record (atomically: readers see the old one or the new one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, self.encode(fields))

    @contextlib.contextmanager
    def update(self) -> Iterator[dict[str, Any]]:
        """Read the fields (empty when there is no record), let the caller change them, and write
        them back if they changed; all under the folder's lock, so concurrent updates lose nothing."""
        with _folder_locked(self.path.parent):
            fields = self.read() or {}
            before = json.dumps(fields, sort_keys=True)
            yield fields
            if json.dumps(fields, sort_keys=True) != before:
                self.write(fields)


# --- a root's bookkeeping -------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownSize:
    """The size of an archive as far as it is known."""

    size: int
    #: True when a copy of this size had the expected md5; False when a server only announced it.
    verified: bool
    #: Who announced it (a URL) or where the verified copy was.
    source: str


class Bookkeeping:
    """The records of one root (see the module docstring).  Make one per operation and pass it
    on: its folder is resolved once, here, and nothing is created until a record is written."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        absolute = self.root.resolve()
        inside = absolute / META_DIRNAME
        # os.access writes nothing (a probe file would be a write into a root only being read);
        # it says no on a read-only file system also to the superuser.
        if inside.is_dir() or not absolute.is_dir() or os.access(absolute, os.W_OK):
            self.folder = inside
        else:
            self.folder = root_cache_dir(absolute) / META_DIRNAME

    def __repr__(self) -> str:
        return f"Bookkeeping({str(self.root)!r}, folder={str(self.folder)!r})"

    def record(self, name: RecordFile | str, version: int = 1) -> Record:
        return Record(self.folder / name, version)

    def read(self, name: RecordFile) -> dict[str, Any]:
        """The fields of record ``name``; empty when there is none."""
        return self.record(name).read() or {}

    # --- verified archives

    def remembered_md5(self, name: str, st: os.stat_result | None = None) -> str | None:
        """The md5 computed earlier for ``root/name``, if the file is unchanged since."""
        if st is None:
            try:
                st = os.stat(self.root / name)
            except OSError:
                return None
        entry = self.read(RecordFile.VERIFIED).get("archives", {}).get(name)
        if isinstance(entry, dict) and entry.get("key") == file_key(st) and isinstance(entry.get("md5"), str):
            return entry["md5"]
        return None

    def remember_md5(self, name: str, md5: str, st: os.stat_result | None = None) -> None:
        """Record that ``root/name`` (as it is now, or as ``st`` describes it) has this md5.  A
        record that cannot be written only costs a re-hash next time."""
        st = st if st is not None else os.stat(self.root / name)
        with contextlib.suppress(OSError), self.record(RecordFile.VERIFIED).update() as fields:
            fields.setdefault("archives", {})[name] = {"md5": md5, "key": file_key(st), "checked": utc_now()}

    def forget_md5(self, name: str) -> None:
        if name not in self.read(RecordFile.VERIFIED).get("archives", {}):
            return
        with contextlib.suppress(OSError), self.record(RecordFile.VERIFIED).update() as fields:
            fields.get("archives", {}).pop(name, None)

    # --- archive sizes

    def remembered_size(self, name: str, md5: str) -> KnownSize | None:
        """The size remembered for ``name`` with this md5 (None when none is, or for another md5)."""
        entry = self.read(RecordFile.SIZES).get("archives", {}).get(name)
        if not isinstance(entry, dict) or entry.get("md5") != md5 or not isinstance(entry.get("size"), int):
            return None
        return KnownSize(entry["size"], entry.get("verified") is True, str(entry.get("source", "?")))

    def remember_sizes(self, sizes: Mapping[str, tuple[str, int, str]], *, verified: bool) -> None:
        """Record sizes, ``{name: (md5, size, source)}``; an announced size never replaces a
        verified one.  Nothing is locked or written when every one is recorded already."""
        known = self.read(RecordFile.SIZES).get("archives", {})
        if not any(_size_change(known.get(n), md5, size, verified) for n, (md5, size, _) in sizes.items()):
            return
        with contextlib.suppress(OSError), self.record(RecordFile.SIZES).update() as fields:
            entries = fields.setdefault("archives", {})
            for name, (md5, size, source) in sizes.items():
                if _size_change(entries.get(name), md5, size, verified):
                    entries[name] = {"md5": md5, "size": size, "verified": verified, "source": source,
                                     "seen": utc_now()}

    def forget_size(self, name: str, md5: str) -> None:
        """Drop the announced (not verified) size of ``name``: the data that came with it was bad."""
        old = self.read(RecordFile.SIZES).get("archives", {}).get(name)
        if not isinstance(old, dict) or old.get("md5") != md5 or old.get("verified") is True:
            return
        with contextlib.suppress(OSError), self.record(RecordFile.SIZES).update() as fields:
            fields.get("archives", {}).pop(name, None)

    def sizes(self, md5s: Mapping[str, str]) -> RootSizes:
        """The sizes of this root's archives as a transfer remembers them (:class:`~.transfer.SizeMemory`)."""
        return RootSizes(self, md5s)

    # --- extraction markers

    def _marker(self, name: str) -> Record:
        return Record(self.folder / EXTRACTED_DIRNAME / f"{name}.json")

    def marker(self, name: str) -> dict[str, Any] | None:
        """What the extraction of archive ``name`` recorded, or None."""
        return self._marker(name).read()

    def is_extracted(self, name: str, md5: str | None) -> bool:
        """True when ``name`` with this md5 was extracted here and its folders are still there."""
        marker = self.marker(name)
        if marker is None or md5 is None or marker.get("md5") != md5:
            return False
        dirs = marker.get("dirs")
        return isinstance(dirs, list) and all((self.root / d).is_dir() for d in dirs)

    def markers(self) -> list[str]:
        """The archives with an extraction marker (whatever their md5)."""
        folder = self.folder / EXTRACTED_DIRNAME
        if not folder.is_dir():
            return []
        return sorted(p.name.removesuffix(".json") for p in folder.glob("*.json"))

    def write_marker(self, name: str, md5: str, dirs: list[str], files: int, nbytes: int,
                     skipped: list[dict[str, object]], skipped_total: int) -> None:
        """Record that ``name`` was extracted: its md5, the scene folders, the count and bytes of
        the patches, and the members skipped as not patches (a bounded list, of ``skipped_total``)."""
        self._marker(name).write({"archive": name, "md5": md5, "dirs": sorted(dirs), "files": files, "bytes": nbytes,
                                  "skipped": skipped, "skipped_total": skipped_total, "extracted": utc_now()})

    # --- the root lock

    @contextlib.contextmanager
    def lock(self, what: str) -> Iterator[None]:
        """Hold the root's lock for the duration; RootBusyError at once if another process, or
        another thread of this one, holds it.  The thread holding it may take it again (a
        download that extracts takes it once)."""
        path = self.folder / ROOT_LOCK_NAME
        key, me = str(path), threading.get_ident()
        with _held_guard:
            held = _held.get(key)
            if held is not None and held[0] != me:
                raise RootBusyError(f"{self.root}: busy: {held[2]} (pid {os.getpid()}, another thread of this "
                                    "process) is changing this root; wait for it to finish")
            _held[key] = (me, 1 if held is None else held[1] + 1, what if held is None else held[2])
        try:
            if held is not None or fcntl is None:
                yield
            else:
                with self._flocked(path, what):
                    yield
        finally:
            with _held_guard:
                owner, depth, holder = _held[key]
                if depth == 1:
                    del _held[key]
                else:
                    _held[key] = (owner, depth - 1, holder)

    @contextlib.contextmanager
    def _flocked(self, path: Path, what: str) -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "another process"
                raise RootBusyError(f"{self.root}: busy: {holder} is changing this root; wait for it to finish") from None
            f.seek(0)
            f.truncate()
            f.write(f"{what} (pid {os.getpid()})")
            f.flush()
            try:
                yield
            finally:
                f.seek(0)
                f.truncate()
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)


#: Lock file -> (thread holding it, nesting depth, what holds it).
_held: dict[str, tuple[int, int, str]] = {}
_held_guard = threading.Lock()


def _size_change(old: object, md5: str, size: int, verified: bool) -> bool:
    if not isinstance(old, dict) or old.get("md5") != md5:
        return True
    if old.get("verified") is True:
        return verified and old.get("size") != size  # an announced size never replaces a verified one
    return old.get("size") != size or verified


class RootSizes:
    """A :class:`~.transfer.SizeMemory` kept in a root's bookkeeping, per archive and expected md5."""

    def __init__(self, books: Bookkeeping, md5s: Mapping[str, str]):
        self.books, self.md5s = books, md5s

    def known(self, name: str) -> KnownSize | None:
        return self.books.remembered_size(name, self.md5s[name])

    def announced(self, name: str, size: int, source: str) -> None:
        self.books.remember_sizes({name: (self.md5s[name], size, source)}, verified=False)

    def verified(self, name: str, size: int, source: str) -> None:
        self.books.remember_sizes({name: (self.md5s[name], size, source)}, verified=True)

    def forget(self, name: str) -> None:
        self.books.forget_size(name, self.md5s[name])
