"""Where archives come from: mirrors, given as strings, and the sources that read them.

A mirror is given as a string:

* ``http://…`` or ``https://…``: a folder URL (the archive name is appended) or a
  template holding ``{name}`` (the official HTTPS share is one,
  :data:`~sen12ms_plugins.dataset.facts.HTTPS_FILE_URL`);
* ``ftp://[user[:password]@]host[:port]/folder/``: anonymous login without a user;
* ``file:///folder/`` or a plain local folder path.

:func:`make_source` turns one into a :class:`~.base.Source` (:mod:`.http`, :mod:`.ftp`,
:mod:`.local`); a :class:`~.base.Source` instance of your own is accepted as it is,
which is how other protocols plug in.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote, urlsplit

from ...dataset import facts
from ...errors import TransferError
from .base import DEFAULT_TIMEOUT, Source, Transfer, file_url, hide_password
from .ftp import FtpSource
from .http import HttpSource
from .local import LocalSource

#: The official sources, tried in this order when no mirror is given.
OFFICIAL_MIRRORS: tuple[str, ...] = (facts.FTP_URL, facts.HTTPS_FILE_URL)


def make_source(mirror: str | os.PathLike[str] | Source) -> Source:
    """A :class:`Source` for a mirror string (see the module docstring); ValueError if malformed."""
    if isinstance(mirror, Source):
        return mirror
    text = os.fspath(mirror)
    if not text:
        raise ValueError("empty mirror")
    scheme = urlsplit(text).scheme.lower() if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text) else ""
    if scheme in ("http", "https"):
        return HttpSource(text)
    if scheme == "ftp":
        return FtpSource(text)
    if scheme == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"{text}: file:// URLs must name a local path (file:///folder/)")
        return LocalSource(unquote(parts.path))
    if scheme:
        raise ValueError(f"{text}: unsupported mirror scheme {scheme!r}; use http(s)://, ftp://, file:// or a folder")
    return LocalSource(text)


def read_location(location: str | os.PathLike[str], *, limit: int = 1 << 20, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """A small file from a URL (http(s)://, ftp://, file://) or a local path."""
    text = os.fspath(location)
    source = make_source(text)
    if isinstance(source, LocalSource):
        try:
            with open(source.folder, "rb") as f:
                data = f.read(limit + 1)
        except OSError as exc:
            raise TransferError(text, f"cannot read: {exc.strerror or exc}", retryable=False) from None
        if len(data) > limit:
            raise TransferError(text, f"larger than {limit:,} bytes; not a checksum file", retryable=False)
        return data
    if urlsplit(text).scheme.lower() == "ftp":  # ftp:// has no query: the name is the last path part
        folder, _, name = text.rstrip("/").rpartition("/")
        return make_source(folder + "/").read_all(unquote(name), limit=limit, timeout=timeout)
    return source.read_all("", limit=limit, timeout=timeout)


__all__ = [
    "DEFAULT_TIMEOUT", "OFFICIAL_MIRRORS", "FtpSource", "HttpSource", "LocalSource", "Source", "Transfer",
    "file_url", "hide_password", "make_source", "read_location",
]
