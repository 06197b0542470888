"""Bookkeeping kept in ``fsutil.meta_dir(root)``: verified archives, extraction markers, a lock.

* ``verified-archives.json``: for each archive whose md5 was computed, the md5 and the
  file's size, modification time (ns) and inode at that moment.  While those three
  are unchanged the file is not hashed again, so a second verification is instant.
* ``extracted/<archive>.json``: written after an archive's content was moved into
  place, holding the archive's md5 and the scene folders it filled.  An archive whose
  marker matches its md5 (and whose folders still exist) is not extracted again.
* ``lock``: held (``flock``) while a download or extraction changes the root, so two
  runs cannot interleave their temporary folders.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from ..errors import RootBusyError
from ..fsutil import atomic_write_bytes, meta_dir

VERIFIED_NAME = "verified-archives.json"
EXTRACTED_DIRNAME = "extracted"
LOCK_NAME = "lock"
_VERSION = 1
_lock = threading.Lock()  # read-modify-write of the JSON files from several threads


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


def remember_md5(root: str | os.PathLike[str], name: str, md5: str, st: os.stat_result | None = None) -> None:
    """Record that ``root/name`` (as it is now, or as ``st`` describes it) has this md5."""
    st = st if st is not None else os.stat(Path(root, name))
    path = meta_dir(root) / VERIFIED_NAME
    with _lock:
        entries = _load(path)
        entries[name] = {"md5": md5, "key": file_key(st), "checked": _now()}
        _save(path, entries)


def forget_md5(root: str | os.PathLike[str], name: str) -> None:
    path = meta_dir(root) / VERIFIED_NAME
    with _lock:
        entries = _load(path)
        if entries.pop(name, None) is not None:
            _save(path, entries)


def _save(path: Path, entries: dict) -> None:
    try:
        atomic_write_bytes(path, json.dumps({"version": _VERSION, "archives": entries}, indent=1).encode())
    except OSError:
        pass  # a record we cannot write only costs a re-hash next time


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


def write_marker(root: str | os.PathLike[str], name: str, md5: str, dirs: list[str], files: int, nbytes: int) -> None:
    path = _marker_path(root, name)
    path.parent.mkdir(exist_ok=True)
    record = {"version": _VERSION, "archive": name, "md5": md5, "dirs": sorted(dirs), "files": files,
              "bytes": nbytes, "extracted": _now()}
    atomic_write_bytes(path, json.dumps(record, indent=1).encode())


def remove_marker(root: str | os.PathLike[str], name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        _marker_path(root, name).unlink()


# --- Lock ----------------------------------------------------------------------------------


@contextlib.contextmanager
def root_lock(root: str | os.PathLike[str], what: str) -> Iterator[None]:
    """Hold the root's lock for the duration; fail at once if another process holds it.
    Re-entrant within a process (a download that extracts takes it once)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no inter-process lock
        yield
        return
    path = meta_dir(root) / LOCK_NAME
    key = str(path)
    with _lock:
        nested = _held.get(key, 0) > 0
        _held[key] = _held.get(key, 0) + 1
    try:
        if nested:
            yield
        else:
            with _flocked(path, root, what, fcntl):
                yield
    finally:
        with _lock:
            _held[key] -= 1


_held: dict[str, int] = {}


@contextlib.contextmanager
def _flocked(path: Path, root, what: str, fcntl) -> Iterator[None]:
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
