"""Which md5 each archive must have, and where that md5 comes from.

By default the official md5s (:data:`facts.ARCHIVE_MD5`).  ``checksums=`` (``--checksums``)
replaces them with a manifest in ``md5sum`` format (``<md5>  <archive name>`` per line)
read from a file or URL, or with a mapping; an archive the manifest does not list has
no known md5 and is refused.

When a root was downloaded with replaced md5s, they are recorded in
``fsutil.meta_dir(root)/checksums.json``; later calls without ``checksums=`` (verify,
extract, :func:`~sen12ms_plugins.acquisition.verify.check_root`) use the recorded md5 for those
archives and the official one for the others, and their reports say so.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Union

from ..dataset import facts
from ..errors import SEN12MSError, UnknownChecksumError
from ..fsutil import atomic_write_bytes, meta_dir
from .manifest import parse_manifest
from .sources import DEFAULT_TIMEOUT, read_location

OFFICIAL = "official"
RECORD_NAME = "checksums.json"
_MD5_RE = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Checksums:
    """md5 per archive name, and per name where it comes from (``official``, a path or URL)."""

    md5: Mapping[str, str]
    origin: Mapping[str, str]

    def get(self, name: str) -> str | None:
        return self.md5.get(name)

    def require(self, names: Iterable[str]) -> None:
        """Refuse (before any transfer) archives without a known md5."""
        unknown = [n for n in names if n not in self.md5]
        if unknown:
            where = sorted(set(self.origin.values())) or [OFFICIAL]
            raise UnknownChecksumError(
                f"no known md5 for {', '.join(unknown)} (md5s from {', '.join(where)}); "
                "an archive is only accepted against a known md5: pass --checksums FILE|URL listing it"
            )

    def is_official(self, name: str) -> bool:
        return self.origin.get(name) == OFFICIAL and self.md5.get(name) == facts.ARCHIVE_MD5.get(name)

    def describe(self) -> str:
        origins = sorted(set(self.origin.values()))
        return ", ".join(origins) if origins else "none"


#: Where md5s come from: None (the official ones), a ``{name: md5}`` mapping, a
#: :class:`Checksums`, or the path or URL of a manifest in md5sum format.
ChecksumSpec = Union[None, Mapping[str, str], Checksums, str, os.PathLike[str]]


def official() -> Checksums:
    return Checksums(dict(facts.ARCHIVE_MD5), dict.fromkeys(facts.ARCHIVE_MD5, OFFICIAL))


def load_checksums(spec: ChecksumSpec, *, timeout: float | None = None) -> Checksums:
    """Checksums from ``spec``: None (official), a mapping, or a manifest path or URL."""
    if spec is None:
        return official()
    if isinstance(spec, Checksums):
        return spec
    if isinstance(spec, Mapping):
        md5s = {}
        for name, md5 in spec.items():
            md5 = str(md5).strip().lower()
            if not _MD5_RE.fullmatch(md5):
                raise ValueError(f"checksum for {name!r} is not a 32 hex digit md5: {md5!r}")
            md5s[str(name)] = md5
        return Checksums(md5s, dict.fromkeys(md5s, "given in Python"))
    location = os.fspath(spec)
    data = read_location(location, timeout=timeout or DEFAULT_TIMEOUT)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SEN12MSError(f"{location}: not a text md5 manifest (not UTF-8)") from None
    md5s = parse_manifest(text, location)
    if not md5s:
        raise SEN12MSError(f"{location}: the md5 manifest lists no file")
    return Checksums(md5s, dict.fromkeys(md5s, location))


def _record_path(root: str | os.PathLike[str]):
    return meta_dir(root) / RECORD_NAME


def recorded(root: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """``{archive: {"md5", "origin"}}`` recorded for a root (empty when none or unreadable)."""
    try:
        data = json.loads(_record_path(root).read_bytes())
        entries = data["archives"]
        return {n: {"md5": e["md5"], "origin": e["origin"]} for n, e in entries.items() if _MD5_RE.fullmatch(e["md5"])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def record(root: str | os.PathLike[str], checksums: Checksums, names: Iterable[str]) -> None:
    """Remember the md5s that archives of ``root`` were accepted against, when not the official ones."""
    entries = recorded(root)
    changed = False
    for name in names:
        md5 = checksums.get(name)
        if md5 is None:
            continue
        if checksums.is_official(name):
            changed |= entries.pop(name, None) is not None
        elif entries.get(name) != {"md5": md5, "origin": checksums.origin[name]}:
            entries[name] = {"md5": md5, "origin": checksums.origin[name]}
            changed = True
    if changed:
        atomic_write_bytes(_record_path(root), json.dumps({"version": 1, "archives": entries}, indent=1).encode())


def for_root(root: str | os.PathLike[str], spec: ChecksumSpec = None, *, timeout: float | None = None) -> Checksums:
    """The md5s to check ``root``'s archives against: ``spec`` when given, else the
    official ones overridden by what was recorded at download time."""
    if spec is not None:
        return load_checksums(spec, timeout=timeout)
    md5, origin = dict(facts.ARCHIVE_MD5), dict.fromkeys(facts.ARCHIVE_MD5, OFFICIAL)
    for name, entry in recorded(root).items():
        md5[name] = entry["md5"]
        origin[name] = f"recorded at download from {entry['origin']}"
    return Checksums(md5, origin)
