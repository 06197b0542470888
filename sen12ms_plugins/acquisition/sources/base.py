"""The two interfaces every mirror implements: a :class:`Source` of archives, and one open :class:`Transfer`.

A source answers :meth:`Source.open` with a transfer that starts at the requested
offset when the server can resume (HTTP ``Range``, FTP ``REST``) and at 0 when it
cannot; the caller compares :attr:`Transfer.start` with what it asked for.  Failures
are :class:`~sen12ms_plugins.errors.TransferError`; its ``retryable`` says whether
trying again later can help.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from urllib.parse import quote, urlsplit, urlunsplit

from ...errors import TransferError

#: Seconds without a byte before a connection counts as stalled.
DEFAULT_TIMEOUT = 60.0


class Transfer(ABC):
    """One open download.  Read with :meth:`readinto` until it returns 0, then :meth:`finish`."""

    #: Offset of the first byte this transfer delivers (0 when the server ignored the offset).
    start: int = 0
    #: Size of the whole file when the server told it, else None.
    total: int | None = None
    #: What is being read, for messages (credentials removed).
    url: str = ""
    #: The media type the server gave (HTTP ``Content-Type``), when it gave one.
    content_type: str | None = None

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


def hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def file_url(base: str, name: str) -> str:
    """``base`` with ``{name}`` filled in, or ``name`` appended as a path component
    (an empty ``name`` means ``base`` itself)."""
    if not name:
        return base
    if "{name}" in base:
        return base.replace("{name}", quote(name))
    return base.rstrip("/") + "/" + quote(name)
