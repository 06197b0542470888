"""Where archives come from: mirrors, and one open transfer from a mirror.

A mirror is given as a string:

* ``http://…`` or ``https://…``: a folder URL (the archive name is appended) or a
  template holding ``{name}`` (the official HTTPS share is one:
  ``…/download?path=%2F&files={name}``);
* ``ftp://[user[:password]@]host[:port]/folder/``: anonymous login without a user;
* ``file:///folder/`` or a plain local folder path.

Every source answers :meth:`Source.open` with a :class:`Transfer` that starts at the
requested offset when the server can resume (HTTP ``Range``, FTP ``REST``) and at 0
when it cannot; the caller compares :attr:`Transfer.start` with what it asked for.
Failures are :class:`TransferError`; ``retryable`` says whether trying again later
can help (dropped connections, timeouts, 5xx) or not (4xx, refused logins, missing
files).
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from . import facts
from .errors import SEN12MSError

#: Seconds without a byte before a connection counts as stalled.
DEFAULT_TIMEOUT = 60.0

#: The official sources, tried in this order when no mirror is given.  The HTTPS
#: share is a Nextcloud public link; ``download?path=%2F&files=<name>`` is the pattern
#: its other shares are fetched with (see docs/download.md for what is assumed).
OFFICIAL_MIRRORS: tuple[str, ...] = (
    facts.FTP_URL,
    facts.HTTPS_SHARE_URL.rstrip("/") + "/download?path=%2F&files={name}",
)


class TransferError(SEN12MSError):
    """A transfer failed.  ``retryable`` is True when trying again may succeed."""

    def __init__(self, url: str, problem: str, *, retryable: bool):
        self.url = url
        self.problem = problem
        self.retryable = retryable
        super().__init__(f"{url}: {problem}")


class Transfer(ABC):
    """One open download.  Read with :meth:`readinto` until it returns 0, then :meth:`finish`."""

    #: Offset of the first byte this transfer delivers (0 when the server ignored the offset).
    start: int = 0
    #: Size of the whole file when the server told it, else None.
    total: int | None = None
    #: What is being read, for messages (credentials removed).
    url: str = ""

    @abstractmethod
    def readinto(self, buffer: memoryview) -> int:
        """Read up to ``len(buffer)`` bytes; 0 at the end."""

    def finish(self) -> None:
        """Confirm a clean end (e.g. the FTP 226 reply); raises :class:`TransferError` if not."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Transfer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Source(ABC):
    """A place that holds the archives."""

    #: The mirror as shown to users (no password).
    display: str

    @abstractmethod
    def open(self, name: str, offset: int = 0, *, timeout: float = DEFAULT_TIMEOUT) -> Transfer:
        """Start reading ``name`` at ``offset`` (or at 0 when the server cannot resume)."""

    def url_of(self, name: str) -> str:
        """Where ``name`` is read from, for messages."""
        return f"{self.display.rstrip('/')}/{name}"

    def read_all(self, name: str, *, limit: int = 1 << 20, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """A small file in one piece (checksum manifests); larger than ``limit`` is an error."""
        chunks = bytearray()
        buffer = bytearray(64 * 1024)
        with self.open(name, 0, timeout=timeout) as transfer:
            while n := transfer.readinto(memoryview(buffer)):
                chunks += buffer[:n]
                if len(chunks) > limit:
                    raise TransferError(transfer.url, f"larger than {limit:,} bytes; not a checksum file", retryable=False)
            transfer.finish()
        return bytes(chunks)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.display!r})"


# --- Local folders ----------------------------------------------------------------------


class _FileTransfer(Transfer):
    def __init__(self, path: Path, offset: int):
        self.url = str(path)
        try:
            self._f = open(path, "rb")
        except FileNotFoundError:
            raise TransferError(str(path), "no such file", retryable=False) from None
        except IsADirectoryError:
            raise TransferError(str(path), "is a folder, not a file", retryable=False) from None
        except OSError as exc:
            raise TransferError(str(path), f"cannot open: {exc.strerror or exc}", retryable=False) from None
        self.total = os.fstat(self._f.fileno()).st_size
        self.start = offset if offset <= self.total else 0
        self._f.seek(self.start)

    def readinto(self, buffer: memoryview) -> int:
        try:
            return self._f.readinto(buffer)
        except OSError as exc:
            raise TransferError(self.url, f"read failed: {exc.strerror or exc}", retryable=False) from None

    def close(self) -> None:
        self._f.close()


class LocalSource(Source):
    """A folder on this machine (``file://`` URL or plain path)."""

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)
        self.display = str(self.folder)

    def open(self, name: str, offset: int = 0, *, timeout: float = DEFAULT_TIMEOUT) -> Transfer:
        return _FileTransfer(self.folder / name, offset)

    def url_of(self, name: str) -> str:
        return str(self.folder / name)


# --- Parsing mirror strings ----------------------------------------------------------------


def hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def make_source(mirror: str | os.PathLike[str] | Source) -> Source:
    """A :class:`Source` for a mirror string (see the module docstring); ValueError if malformed."""
    if isinstance(mirror, Source):
        return mirror
    text = os.fspath(mirror)
    if not text:
        raise ValueError("empty mirror")
    scheme = urlsplit(text).scheme.lower() if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text) else ""
    if scheme in ("http", "https"):
        from .transfer_http import HttpSource

        return HttpSource(text)
    if scheme == "ftp":
        from .transfer_ftp import FtpSource

        return FtpSource(text)
    if scheme == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"{text}: file:// URLs must name a local path (file:///folder/)")
        return LocalSource(unquote(parts.path))
    if scheme:
        raise ValueError(f"{text}: unsupported mirror scheme {scheme!r}; use http(s)://, ftp://, file:// or a folder")
    return LocalSource(text)


def file_url(base: str, name: str) -> str:
    """``base`` with ``{name}`` filled in, or ``name`` appended as a path component
    (an empty ``name`` means ``base`` itself)."""
    if not name:
        return base
    if "{name}" in base:
        return base.replace("{name}", quote(name))
    return base.rstrip("/") + "/" + quote(name)



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
