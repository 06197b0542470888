"""md5s: which one each archive must have and where it comes from, manifests, and hashing files.

Expected md5s
    By default the official ones (:data:`facts.ARCHIVE_MD5`).  ``checksums=``
    (``--checksums``) replaces them with a manifest in ``md5sum`` format (``<md5>  <archive
    name>`` per line) read from a file or URL, or with a mapping; an archive the manifest
    does not list has no known md5 and is refused.  When a root was fetched against md5s
    other than the official ones, they are recorded in its bookkeeping
    (``checksums.json``); later calls without ``checksums=`` (verify, extract,
    :func:`~sen12ms_plugins.acquisition.verify.check_root`) use the recorded md5 for those
    archives and the official one for the others, and their reports say so.
Hashing
    hashlib releases the GIL while it hashes a large buffer, so files hash in parallel in
    threads (``verify_archives``) and hashing overlaps with receiving (``download``).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Union

from ..dataset import facts
from ..errors import MalformedLineError, SEN12MSError, UnknownChecksumError
from ..fsutil import atomic_write_bytes
from .bookkeeping import Bookkeeping, RecordFile
from .sources import DEFAULT_TIMEOUT, read_location

OFFICIAL = "official"
_MD5_RE = re.compile(r"[0-9a-f]{32}")
#: Read size for hashing files: large enough that per-call overhead vanishes.
HASH_CHUNK = 4 << 20

# --- hashing ------------------------------------------------------------------------------------


def new_md5():
    # usedforsecurity=False keeps md5 available on FIPS-restricted OpenSSL builds.
    return hashlib.md5(usedforsecurity=False)


def md5_file(path: str | os.PathLike[str], progress: Callable[[int], object] | None = None, hasher=None):
    """Hash a file (or continue ``hasher`` with it); returns the hasher.  ``progress(n)`` gets byte counts."""
    hasher = hasher if hasher is not None else new_md5()
    buffer = bytearray(HASH_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            hasher.update(view[:n])
            if progress is not None:
                progress(n)
    return hasher


# --- manifests (md5sum format) -------------------------------------------------------------------

_LINE_RE = re.compile(r"([0-9a-fA-F]{32}) [ *](.+)")
LINE_FORM = "'<32 hex digit md5>  <file name>' (md5sum format)"


def parse_manifest(text: str, source: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """``{file name: md5}`` from manifest text; ``source`` names it in errors."""
    md5s: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE_RE.fullmatch(line)
        if m is None:
            raise MalformedLineError(source, lineno, raw, LINE_FORM)
        name = m.group(2).strip()
        if name in md5s and md5s[name] != m.group(1).lower():
            raise MalformedLineError(source, lineno, raw, f"one md5 per file ({name} is listed twice)")
        md5s[name] = m.group(1).lower()
    return md5s


def format_manifest(md5s: Mapping[str, str]) -> str:
    """Manifest text, one ``<md5>  <name>`` line per file sorted by name (what ``md5sum *`` prints)."""
    return "".join(f"{md5}  {name}\n" for name, md5 in sorted(md5s.items()))


def write_manifest(path: str | os.PathLike[str], md5s: Mapping[str, str]) -> None:
    atomic_write_bytes(path, format_manifest(md5s).encode())


# --- expected md5s ------------------------------------------------------------------------------


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


def recorded(books: Bookkeeping) -> dict[str, dict[str, str]]:
    """``{archive: {"md5", "origin"}}`` recorded for a root: the md5s it was fetched against that are not the official ones."""
    entries = books.read(RecordFile.CHECKSUMS).get("archives", {})
    return {name: {"md5": e["md5"], "origin": e["origin"]} for name, e in entries.items()
            if isinstance(e, dict) and _MD5_RE.fullmatch(str(e.get("md5"))) and "origin" in e}


def record(books: Bookkeeping, checksums: Checksums, names: Iterable[str]) -> None:
    """Remember the md5s that archives of the root were accepted against, when not the official ones."""
    with books.record(RecordFile.CHECKSUMS).update() as fields:
        entries = dict(fields.get("archives", {}))
        for name in names:
            md5 = checksums.get(name)
            if md5 is None:
                continue
            if checksums.is_official(name):
                entries.pop(name, None)
            else:
                entries[name] = {"md5": md5, "origin": checksums.origin[name]}
        if entries != fields.get("archives", {}):
            fields["archives"] = entries


def for_root(books: Bookkeeping, spec: ChecksumSpec = None, *, timeout: float | None = None) -> Checksums:
    """The md5s to check the root's archives against: ``spec`` when given, else the official
    ones overridden by what was recorded when it was fetched."""
    if spec is not None:
        return load_checksums(spec, timeout=timeout)
    md5, origin = dict(facts.ARCHIVE_MD5), dict.fromkeys(facts.ARCHIVE_MD5, OFFICIAL)
    for name, entry in recorded(books).items():
        md5[name] = entry["md5"]
        origin[name] = f"recorded at download from {entry['origin']}"
    return Checksums(md5, origin)
