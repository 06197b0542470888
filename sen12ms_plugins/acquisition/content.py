"""Is what a server sent an archive at all?  Checked on the first bytes, before any is kept.

Servers answer errors, logins and maintenance notices with a page and status 200; a
share link that changed leads to an HTML login form.  Such a response is recognised
at once (instead of by the md5 after the whole transfer) from its first bytes: a gzip
stream starts with ``1f 8b`` (RFC 1952), so at byte 0 the bytes decide whatever the
``Content-Type`` says.  A resumed transfer has no magic bytes to look at, so there a
textual ``Content-Type`` (``text/*``, HTML, XML, JSON) decides.
"""

from __future__ import annotations

import re

#: The first two bytes of every gzip stream (RFC 1952, ID1 ID2).
GZIP_MAGIC = b"\x1f\x8b"
#: Characters of a response shown in the message that rejects it.
_SHOWN = 60
_HTML_RE = re.compile(rb"\s*(<!doctype\s+html|<html|<head|<body|<\?xml[^>]*>\s*<html)", re.IGNORECASE)


def expected_magic(name: str) -> bytes | None:
    """The bytes archive ``name`` must start with, judged by its name (None: no check)."""
    return GZIP_MAGIC if name.lower().endswith((".gz", ".tgz")) else None


def is_textual(content_type: str | None) -> bool:
    """True for a ``Content-Type`` that no archive is served as (``text/*``, HTML, XML, JSON)."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media.endswith(("/html", "+xml", "/xml", "/json", "+json"))


def _excerpt(data: bytes) -> str:
    text = " ".join(data[: _SHOWN * 4].decode("utf-8", "replace").split())
    return text[:_SHOWN] + ("…" if len(text) > _SHOWN else "")


def _what(content_type: str | None, data: bytes) -> str:
    if _HTML_RE.match(data) or (content_type and "html" in content_type.lower()):
        return "an HTML page"
    if is_textual(content_type) or (data and all(b in b"\t\n\r" or 32 <= b < 127 for b in data[:256])):
        return "a text response"
    return "data that is not gzip"


def content_problem(magic: bytes | None, start: int, content_type: str | None, first: bytes,
                    length: int | None) -> str | None:
    """Why the response is not the archive (None when it may be).

    ``start`` is the offset the response begins at, ``first`` its first bytes (at least
    ``len(magic)`` unless the response is shorter), ``length`` its size when announced.
    """
    if magic is None:
        return None
    if start == 0:
        if first[: len(magic)] == magic:
            return None
        if not first:
            return "got an empty response instead of a gzip archive"
    elif not is_textual(content_type):
        return None
    size = f"{length:,} bytes" if length is not None else f"{len(first):,}+ bytes"
    kind = _what(content_type, first)
    details = ", ".join(filter(None, [content_type.split(";", 1)[0].strip() if content_type else None, size]))
    shown = f": '{_excerpt(first)}'" if kind != "data that is not gzip" else f", starting {first[:4].hex(' ')}"
    target = "a gzip archive" if start == 0 else f"the rest of a gzip archive (from byte {start:,})"
    return f"got {kind} ({details}{shown}) instead of {target}"
