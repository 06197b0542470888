"""Bookkeeping kept in ``fsutil.meta_dir(root)``: verified archives, their sizes, extraction markers, a lock.

* ``verified-archives.json``: for each archive whose md5 was computed, the md5 and the
  file's size, modification time (ns) and inode at that moment.  While those three
  are unchanged the file is not hashed again, so a second verification is instant.
* ``archive-sizes.json``: for each archive, the size a server announced for it (or the
  size of a copy whose md5 matched: ``verified``), next to the md5 it was expected to
  have.  A download compares what a server announces with it (:mod:`.transfer`).
* ``extracted/<archive>.json``: written after an archive's content was moved into
  place, holding the archive's md5, the scene folders it filled and the members that
  were skipped (not patches).  An archive whose marker matches its md5 (and whose
  folders still exist) is not extracted again.
* ``lock``: held (``flock``) while a download or extraction changes the root, so two
  runs (two processes, or two threads of one) cannot interleave their temporary folders.
* ``records.lock``: held (``flock``) for each read-modify-write of the JSON records, so
  two processes (two ``verify`` runs) recording at once lose nothing.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import RootBusyError
from ..fsutil import atomic_write_bytes, meta_dir

try:
    import fcntl
except ImportError:  # not POSIX: threads still take turns, processes are not excluded
    fcntl = None  # type: ignore[assignment]

VERIFIED_NAME = "verified-archives.json"
SIZES_NAME = "archive-sizes.json"
EXTRACTED_DIRNAME = "extracted"
LOCK_NAME = "lock"
RECORDS_LOCK_NAME = "records.lock"
_VERSION = 1
_records_lock = threading.Lock()  # read-modify-write of the JSON files by threads of this process
_held_lock = threading.Lock()  # guards _held


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def file_key(st: os.stat_result) -> list[int]:
    """What identifies one version of a file: size, mtime (ns) and inode."""
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != _VERSION or not isinstance(data.get("archives"), dict):
        return {}
    return data["archives"]


def remembered_md5(root: str | os.PathLike[str], name: str, st: os.stat_result | None = None) -> str | None:
    """The md5 computed earlier for ``root/name``, if the file is unchanged since."""
    if st is None:
        try:
            st = os.stat(Path(root, name))
        except OSError:
            return None
    entry = _load(meta_dir(root) / VERIFIED_NAME).get(name)
    if isinstance(entry, dict) and entry.get("key") == file_key(st):
        md5 = entry.get("md5")
        return md5 if isinstance(md5, str) else None
    return None


@contextlib.contextmanager
def records_locked(root: str | os.PathLike[str]) -> Iterator[Path]:
    """One read-modify-write of the records at a time, across threads and processes; yields meta_dir(root)."""
    folder = meta_dir(root)
    with _records_lock, open(folder / RECORDS_LOCK_NAME, "a") as f:
        if fcntl is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # waits: the other holder is done within milliseconds
        try:
            yield folder
        finally:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def remember_md5(root: str | os.PathLike[str], name: str, md5: str, st: os.stat_result | None = None) -> None:
    """Record that ``root/name`` (as it is now, or as ``st`` describes it) has this md5."""
    st = st if st is not None else os.stat(Path(root, name))
    with records_locked(root) as folder:
        entries = _load(folder / VERIFIED_NAME)
        entries[name] = {"md5": md5, "key": file_key(st), "checked": _now()}
        _save(folder / VERIFIED_NAME, entries)


def forget_md5(root: str | os.PathLike[str], name: str) -> None:
    with records_locked(root) as folder:
        entries = _load(folder / VERIFIED_NAME)
        if entries.pop(name, None) is not None:
            _save(folder / VERIFIED_NAME, entries)


def _save(path: Path, entries: dict) -> None:
    try:
        atomic_write_bytes(path, json.dumps({"version": _VERSION, "archives": entries}, indent=1).encode())
    except OSError:
        pass  # a record we cannot write only costs a re-hash (or a size check) next time


# --- Archive sizes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownSize:
    """The size of an archive as far as it is known."""

    size: int
    #: True when a copy of this size had the expected md5; False when a server only announced it.
    verified: bool
    #: Who announced it (a URL) or where the verified copy was.
    source: str


def remembered_size(root: str | os.PathLike[str], name: str, md5: str) -> KnownSize | None:
    """The size remembered for ``name`` with this md5 (None when none is, or for another md5)."""
    entry = _load(meta_dir(root) / SIZES_NAME).get(name)
    if not isinstance(entry, dict) or entry.get("md5") != md5 or not isinstance(entry.get("size"), int):
        return None
    return KnownSize(entry["size"], entry.get("verified") is True, str(entry.get("source", "?")))


def remember_size(root: str | os.PathLike[str], name: str, md5: str, size: int, *, verified: bool,
                  source: str) -> None:
    """Record the size of ``name`` (expected md5 ``md5``).  An announced size never replaces a verified one."""
    remember_sizes(root, {name: (md5, size, source)}, verified=verified)


def _size_change(old: object, md5: str, size: int, verified: bool) -> bool:
    if not isinstance(old, dict) or old.get("md5") != md5:
        return True
    if old.get("verified") is True:
        return verified and old.get("size") != size  # an announced size never replaces a verified one
    return old.get("size") != size or verified


def remember_sizes(root: str | os.PathLike[str], sizes: dict[str, tuple[str, int, str]], *, verified: bool) -> None:
    """Record several sizes at once, ``{name: (md5, size, source)}`` (see :func:`remember_size`);
    nothing is locked or written when every one is recorded already."""
    known = _load(meta_dir(root) / SIZES_NAME)
    if not any(_size_change(known.get(name), md5, size, verified) for name, (md5, size, _) in sizes.items()):
        return
    with records_locked(root) as folder:
        entries = _load(folder / SIZES_NAME)
        changed = False
        for name, (md5, size, source) in sizes.items():
            if _size_change(entries.get(name), md5, size, verified):
                entries[name] = {"md5": md5, "size": size, "verified": verified, "source": source, "seen": _now()}
                changed = True
        if changed:
            _save(folder / SIZES_NAME, entries)


def forget_size(root: str | os.PathLike[str], name: str, md5: str) -> None:
    """Drop the announced (not verified) size of ``name``: the data that came with it was bad."""
    with records_locked(root) as folder:
        entries = _load(folder / SIZES_NAME)
        old = entries.get(name)
        if isinstance(old, dict) and old.get("md5") == md5 and old.get("verified") is not True:
            del entries[name]
            _save(folder / SIZES_NAME, entries)


# --- Extraction markers -----------------------------------------------------------------


def _marker_path(root: str | os.PathLike[str], name: str) -> Path:
    return meta_dir(root) / EXTRACTED_DIRNAME / f"{name}.json"


def read_marker(root: str | os.PathLike[str], name: str) -> dict | None:
    try:
        data = json.loads(_marker_path(root, name).read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("version") == _VERSION else None


def is_extracted(root: str | os.PathLike[str], name: str, md5: str) -> bool:
    """True when ``name`` with this md5 was extracted into ``root`` and its folders are still there."""
    marker = read_marker(root, name)
    if marker is None or marker.get("md5") != md5:
        return False
    dirs = marker.get("dirs")
    return isinstance(dirs, list) and all(os.path.isdir(Path(root, d)) for d in dirs)


def write_marker(root: str | os.PathLike[str], name: str, md5: str, dirs: list[str], files: int, nbytes: int,
                 skipped: list[dict[str, object]] | None = None, skipped_total: int | None = None) -> None:
    """Record that ``name`` was extracted: its md5, the scene folders, the count and bytes of the
    patches, and the members skipped as not patches (``skipped``, at most a bounded list, of
    ``skipped_total`` in all)."""
    path = _marker_path(root, name)
    path.parent.mkdir(exist_ok=True)
    skipped = list(skipped or [])
    record = {"version": _VERSION, "archive": name, "md5": md5, "dirs": sorted(dirs), "files": files,
              "bytes": nbytes, "skipped": skipped,
              "skipped_total": len(skipped) if skipped_total is None else skipped_total, "extracted": _now()}
    atomic_write_bytes(path, json.dumps(record, indent=1).encode())


def remove_marker(root: str | os.PathLike[str], name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        _marker_path(root, name).unlink()


# --- Lock ----------------------------------------------------------------------------------


@contextlib.contextmanager
def root_lock(root: str | os.PathLike[str], what: str) -> Iterator[None]:
    """Hold the root's lock for the duration; raise RootBusyError at once if another process,
    or another thread of this one, holds it.  The thread holding it may take it again (a
    download that extracts takes it once)."""
    path = meta_dir(root) / LOCK_NAME
    key, me = str(path), threading.get_ident()
    with _held_lock:
        held = _held.get(key)
        if held is not None and held[0] != me:
            raise RootBusyError(f"{root}: busy: {held[2]} (pid {os.getpid()}, another thread of this process) is "
                                "changing this root; wait for it to finish")
        _held[key] = (me, 1 if held is None else held[1] + 1, what if held is None else held[2])
    try:
        if held is not None or fcntl is None:
            yield
        else:
            with _flocked(path, root, what):
                yield
    finally:
        with _held_lock:
            owner, depth, holder = _held[key]
            if depth == 1:
                del _held[key]
            else:
                _held[key] = (owner, depth - 1, holder)


#: Lock file -> (thread holding it, nesting depth, what holds it).
_held: dict[str, tuple[int, int, str]] = {}


@contextlib.contextmanager
def _flocked(path: Path, root, what: str) -> Iterator[None]:
    with open(path, "a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise RootBusyError(f"{root}: busy: {holder} is changing this root; wait for it to finish") from None
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
