"""md5 manifests in ``md5sum`` format: ``<md5>  <file name>`` per line."""

from __future__ import annotations

import os
import re

from ..errors import MalformedLineError
from ..fsutil import atomic_write_bytes

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


def read_manifest(path: str | os.PathLike[str]) -> dict[str, str]:
    with open(path, encoding="utf-8") as f:
        return parse_manifest(f.read(), path)


def format_manifest(md5s: dict[str, str]) -> str:
    return "".join(f"{md5}  {name}\n" for name, md5 in sorted(md5s.items()))


def write_manifest(path: str | os.PathLike[str], md5s: dict[str, str]) -> None:
    atomic_write_bytes(path, format_manifest(md5s).encode())
