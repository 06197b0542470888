"""What ``add-dfc2020`` recorded about the DFC2020 data it added, and the check that it stays so.

The md5s of the official DFC2020 zips are not published, so what is recorded is what was
imported.  ``fsutil.meta_dir(root)/dfc2020.json``, written (atomically) as the last step of
each add, holds:

* ``sources``: per zip name (``s1_validation.zip`` …, also for a folder extracted from one):
  ``kind`` (``zip`` or ``folder``), the ``path`` it was added from, its ``md5`` (a zip's md5;
  a folder's: :func:`folder_md5` of its patches), ``key`` (what tells the same source again
  without reading it: a zip's size, mtime and inode; a folder's :func:`listing_key`),
  ``dir`` (the sensor folder it filled), ``files``, ``bytes``, ``dtypes`` (of its patches),
  ``skipped`` (members that are not patches, at most a bounded list) and ``skipped_total``,
  ``added`` (UTC time);
* ``files``: per file it wrote (root-relative): its ``md5`` and ``key`` (size, mtime, inode).

:func:`check_files` is the check ``verify`` (and ``check_root``, which the ecosystem adapters
run) makes: every recorded file exists and still has its md5.  A file whose size, mtime and
inode are unchanged since it was recorded is not read again; ``rehash=True`` (``verify
--deep``) reads them all.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..console import Progress
from ..fsutil import atomic_write_bytes, meta_dir
from .hashing import md5_file
from .records import file_key, records_locked

RECORD_NAME = "dfc2020.json"
_VERSION = 1


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def load(root: str | os.PathLike[str]) -> dict:
    """The record of ``root`` (``{"sources": {}, "files": {}}`` when there is none or it is unreadable)."""
    try:
        data = json.loads((meta_dir(root) / RECORD_NAME).read_bytes())
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict) or data.get("version") != _VERSION:
        return {"sources": {}, "files": {}}
    return {"sources": dict(data.get("sources") or {}), "files": dict(data.get("files") or {})}


def _save(folder: Path, record: Mapping) -> None:
    body = {"version": _VERSION, "sources": record["sources"], "files": record["files"]}
    atomic_write_bytes(folder / RECORD_NAME, json.dumps(body, indent=1, sort_keys=True).encode())


def record_sources(root: str | os.PathLike[str], sources: Mapping[str, dict], files: Mapping[str, dict]) -> None:
    """Record sources that were just added, and the files now in their folders: every earlier
    file entry in those folders is replaced."""
    with records_locked(root) as folder:
        record = load(root)
        dirs = {entry["dir"] + "/" for entry in sources.values()}
        record["files"] = {rel: e for rel, e in record["files"].items() if not any(rel.startswith(d) for d in dirs)}
        record["files"].update(files)
        record["sources"].update(sources)
        _save(folder, record)


def update_source_keys(root: str | os.PathLike[str], keys: Mapping[str, object]) -> None:
    """Remember new ``key``s for sources found unchanged by their md5 (a zip copied, a folder touched)."""
    _update_keys(root, "sources", keys)


def _update_keys(root: str | os.PathLike[str], table: str, keys: Mapping[str, object]) -> None:
    """Write new ``key``s into the entries of the record's ``table`` (``sources`` or ``files``)
    that are still there, under the records lock (the record is read again inside it)."""
    with records_locked(root) as folder:
        record = load(root)
        for name, key in keys.items():
            if name in record[table]:
                record[table][name]["key"] = key
        _save(folder, record)


def listing_key(entries: Iterable[tuple[str, os.stat_result]]) -> str:
    """What identifies an extracted folder without reading its files: a digest of every entry's
    name, size and modification time."""
    digest = hashlib.sha256()
    for name, st in sorted(entries, key=lambda item: item[0]):
        digest.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def folder_md5(file_md5s: Mapping[str, str]) -> str:
    """The md5 recorded for a folder source: of its patches' names and md5s, one per line
    (``<md5>  <file name>``, sorted by name: what ``md5sum *`` prints)."""
    lines = "".join(f"{md5}  {name}\n" for name, md5 in sorted(file_md5s.items()))
    return hashlib.md5(lines.encode(), usedforsecurity=False).hexdigest()


@dataclass
class FileCheck:
    """What :func:`check_files` found."""

    checked: int = 0
    hashed: int = 0
    problems: list[str] = field(default_factory=list)


def check_files(root: str | os.PathLike[str], *, rehash: bool = False, quiet: bool = True) -> FileCheck:
    """Check every file ``add-dfc2020`` recorded in ``root`` (module docstring)."""
    root = Path(root)
    record = load(root)
    result = FileCheck()
    missing: list[str] = []
    to_hash: list[tuple[str, dict, os.stat_result]] = []
    for rel, entry in sorted(record["files"].items()):
        try:
            st = os.stat(root / rel)
        except FileNotFoundError:
            missing.append(rel)
            continue
        result.checked += 1
        if rehash or entry.get("key") != file_key(st):
            to_hash.append((rel, entry, st))
    if missing:
        shown = ", ".join(missing[:3]) + (", …" if len(missing) > 3 else "")
        result.problems.append(f"{root}: {len(missing):,} DFC2020 files added by add-dfc2020 are missing ({shown}); "
                               "run 'sen12ms add-dfc2020' again")
    changed: list[str] = []
    refreshed: dict[str, list[int]] = {}
    with Progress(sum(st.st_size for _, _, st in to_hash), "DFC2020 md5", unit="B", quiet=quiet or not to_hash) as bar:
        for rel, entry, st in to_hash:
            md5 = md5_file(root / rel, bar.update).hexdigest()
            result.hashed += 1
            if md5 != entry.get("md5"):
                changed.append(f"{rel} (md5 {md5}, added with {entry.get('md5')})")
            elif entry.get("key") != file_key(st):
                refreshed[rel] = file_key(st)
    if changed:
        result.problems.append(f"{root}: {len(changed):,} DFC2020 files changed since add-dfc2020 added them: "
                               + "; ".join(changed[:3]) + ("; …" if len(changed) > 3 else ""))
    if refreshed:  # the same bytes under a new mtime or inode: not read again next time
        _update_keys(root, "files", refreshed)
    return result
