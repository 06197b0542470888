"""Where archives come from: mirrors, given as strings, and the sources that read them.

A mirror is given as a string:

* ``http://…`` or ``https://…``: a folder URL (the archive name is appended) or a
  template holding ``{name}`` (the official HTTPS share is one,
  :data:`~sen12ms_plugins.dataset.facts.HTTPS_FILE_URL`);
* ``ftp://[user[:password]@]host[:port]/folder/``: anonymous login without a user;
* ``file:///folder/`` or a plain local folder path.

:func:`make_source` turns one into a :class:`Source` (:class:`HttpSource`, :class:`FtpSource`,
:class:`LocalSource`); a :class:`Source` instance of your own is accepted as it is, which is
how other protocols plug in.

A source answers :meth:`Source.open` with a :class:`Transfer` that starts at the requested
offset when the server can resume (HTTP ``Range``, FTP ``REST``) and at 0 when it cannot;
the caller compares :attr:`Transfer.start` with what it asked for.  Failures are
:class:`~sen12ms_plugins.errors.TransferError`; its ``retryable`` says whether trying again
later can help.

HTTP(S)
    Built on :mod:`urllib.request`: redirects are followed (keeping the ``Range`` header),
    the usual proxy variables honoured, certificates checked.  Only GET is used: some
    servers (the TUM share among them) refuse HEAD.
FTP
    Built on :mod:`ftplib` (binary mode, passive).  The official endpoint is
    ``ftp://m1474000:m1474000@dataserv.ub.tum.de/``; a path in the URL is relative to the
    login folder, as RFC 1738 reads it.
"""

from __future__ import annotations

import ftplib
import http.client
import os
import re
import socket
import ssl
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import SplitResult, quote, unquote, urlsplit, urlunsplit

from ..dataset import facts
from ..errors import TransferError

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


def _with_host(url: str) -> SplitResult:
    """``url`` split into its parts; ValueError when it names no host."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{url}: no host in URL")
    return parts


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


# --- folders on this machine ----------------------------------------------------------------------


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


# --- HTTP(S) --------------------------------------------------------------------------------------


USER_AGENT = "sen12ms-plugins (+https://mediatum.ub.tum.de/1474000)"
_CONTENT_RANGE_RE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE_RE = re.compile(r"bytes\s+\*/(\d+)")
#: Statuses worth retrying: request timeout, too many requests, server errors.
_RETRY_STATUSES = {408, 425, 429}


def _status_error(url: str, code: int, reason: str) -> TransferError:
    if code in (401, 403):
        what = "authentication failed" if code == 401 else "access denied"
        return TransferError(url, f"{what} (HTTP {code} {reason})", retryable=False)
    if code == 404:
        return TransferError(url, f"not found (HTTP 404 {reason})", retryable=False)
    retryable = code >= 500 or code in _RETRY_STATUSES
    return TransferError(url, f"HTTP {code} {reason}", retryable=retryable)


def _connection_error(url: str, exc: BaseException) -> TransferError:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, ssl.SSLCertVerificationError):
        return TransferError(url, f"TLS certificate rejected: {reason.verify_message or reason}", retryable=False)
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return TransferError(url, "timed out (no data)", retryable=True)
    if isinstance(reason, socket.gaierror):
        return TransferError(url, f"host not found ({reason.strerror or reason})", retryable=True)
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return TransferError(url, f"connection failed: {text}", retryable=True)


class _HttpTransfer(Transfer):
    def __init__(self, opener: urllib.request.OpenerDirector, url: str, offset: int, timeout: float):
        self.url = hide_password(url)
        self._opener, self._full_url, self._timeout = opener, url, timeout
        self._resp = None
        self._remaining: int | None = None
        self._open(offset)

    def _open(self, offset: int) -> None:
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if offset > 0:
            headers["Range"] = f"bytes={offset}-"
        request = urllib.request.Request(self._full_url, headers=headers)
        try:
            self._resp = self._opener.open(request, timeout=self._timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 416 and offset > 0:
                self._after_unsatisfiable_range(exc, offset)
                return
            raise _status_error(self.url, exc.code, exc.reason) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise _connection_error(self.url, exc) from None
        try:
            self._parse_headers(offset)
        except BaseException:
            self._resp.close()
            raise

    def _after_unsatisfiable_range(self, exc: urllib.error.HTTPError, offset: int) -> None:
        """416: the offset is at the end (nothing left to read) or past it (read from 0)."""
        m = _UNSATISFIED_RANGE_RE.fullmatch((exc.headers.get("Content-Range") or "").strip())
        if m is not None and int(m.group(1)) == offset:
            self._resp = None
            self.start = self.total = offset
            self._remaining = 0
        else:
            self._open(0)

    def _parse_headers(self, offset: int) -> None:
        resp = self._resp
        encoding = (resp.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding not in ("identity", ""):
            raise TransferError(self.url, f"server sent Content-Encoding {encoding!r}, not the file's bytes", retryable=False)
        self.content_type = resp.headers.get("Content-Type")
        length = resp.headers.get("Content-Length")
        length_value = int(length) if length and length.strip().isdigit() else None
        if resp.status == 206:
            m = _CONTENT_RANGE_RE.fullmatch((resp.headers.get("Content-Range") or "").strip())
            if m is None:
                raise TransferError(self.url, "HTTP 206 without a usable Content-Range header", retryable=False)
            first, last = int(m.group(1)), int(m.group(2))
            if first != offset:
                raise TransferError(self.url, f"asked for bytes from {offset:,}, got bytes from {first:,}", retryable=False)
            self.start = first
            self.total = None if m.group(3) == "*" else int(m.group(3))
            self._remaining = last - first + 1
        elif resp.status == 200:
            self.start = 0  # a server that ignores Range sends the whole file
            self.total = length_value
            self._remaining = length_value
        else:
            raise _status_error(self.url, resp.status, resp.reason)

    def readinto(self, buffer: memoryview) -> int:
        if self._resp is None:
            return 0
        if self._remaining is not None and len(buffer) > self._remaining:
            buffer = buffer[: self._remaining]
        if not len(buffer):
            return 0
        try:
            n = self._resp.readinto(buffer)
        except (http.client.HTTPException, OSError) as exc:
            raise _connection_error(self.url, exc) from None
        if n == 0 and self._remaining:
            raise TransferError(self.url, f"connection closed with {self._remaining:,} bytes still to come", retryable=True)
        if self._remaining is not None:
            self._remaining -= n
        return n

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()


class HttpSource(Source):
    """An http:// or https:// folder URL, or a URL template with ``{name}``."""

    def __init__(self, url: str):
        parts = _with_host(url)
        self.display = hide_password(url)
        handlers = []
        if parts.username is not None:
            # Credentials go to this host only (never to a redirect target), sent up front.
            netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
            url = urlunsplit(parts._replace(netloc=netloc))
            passwords = urllib.request.HTTPPasswordMgrWithPriorAuth()
            passwords.add_password(None, url.split("{name}")[0], unquote(parts.username),
                                   unquote(parts.password or ""), is_authenticated=True)
            handlers.append(urllib.request.HTTPBasicAuthHandler(passwords))
        self.base = url
        self._opener = urllib.request.build_opener(*handlers)

    def url_of(self, name: str) -> str:
        return hide_password(file_url(self.base, name))

    def open(self, name: str, offset: int = 0, *, timeout: float = DEFAULT_TIMEOUT) -> Transfer:
        return _HttpTransfer(self._opener, file_url(self.base, name), offset, timeout)


# --- FTP ------------------------------------------------------------------------------------------


def _reply_code(exc: BaseException) -> str:
    return str(exc)[:3]


def _ftp_error(url: str, exc: BaseException, doing: str) -> TransferError:
    if isinstance(exc, ftplib.error_perm):
        code = _reply_code(exc)
        if code in ("530", "332"):
            return TransferError(url, f"login refused ({exc})", retryable=False)
        if code == "550":
            return TransferError(url, f"not found or not readable ({exc})", retryable=False)
        return TransferError(url, f"{doing} refused ({exc})", retryable=False)
    if isinstance(exc, ftplib.error_temp):  # 4xx: the server says try again later
        return TransferError(url, f"{doing}: temporary failure ({exc})", retryable=True)
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return TransferError(url, f"{doing}: timed out (no data)", retryable=True)
    if isinstance(exc, EOFError):
        return TransferError(url, f"{doing}: server closed the connection", retryable=True)
    if isinstance(exc, socket.gaierror):
        return TransferError(url, f"host not found ({exc.strerror or exc})", retryable=True)
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return TransferError(url, f"{doing}: {text}", retryable=True)


class _FtpTransfer(Transfer):
    def __init__(self, source: FtpSource, name: str, offset: int, timeout: float):
        self.url = source.url_of(name)
        self._source = source
        self._ftp = ftplib.FTP(timeout=timeout)
        self._conn: socket.socket | None = None
        self._received = 0
        try:
            self._start(source, name, offset, timeout)
        except BaseException:
            self.close()
            raise

    def _start(self, source: FtpSource, name: str, offset: int, timeout: float) -> None:
        ftp = self._ftp
        path = f"{source.folder}/{name}" if source.folder else name
        try:
            ftp.connect(source.host, source.port)
        except ftplib.all_errors as exc:
            raise _ftp_error(self.url, exc, "connecting") from None
        try:
            ftp.login(source.user, source.password)
        except ftplib.all_errors as exc:
            raise _ftp_error(self.url, exc, "login") from None
        try:
            ftp.voidcmd("TYPE I")
            try:
                self.total = ftp.size(path)
            except ftplib.error_perm as exc:
                if _reply_code(exc) == "550":
                    raise
                self.total = None  # SIZE not supported; the end of the data ends the file
            if source.rest_ignored or (offset and self.total is not None and offset > self.total):
                offset = 0
            self.start = offset
            if self.total is not None and self.start == self.total:
                return  # nothing left; RETR after REST at the end is refused by some servers
            self._conn = self._retr(path, offset)
            self._conn.settimeout(timeout)
        except ftplib.all_errors as exc:
            raise _ftp_error(self.url, exc, "RETR") from None

    def _retr(self, path: str, offset: int) -> socket.socket:
        """Open the data connection of ``RETR path`` from ``offset``.  ftplib sends REST
        after PASV, immediately before RETR, as RFC 959 wants (a strict server forgets a
        restart marker sent before PASV).  A server that refuses REST sends from byte 0."""
        if not offset:
            return self._ftp.transfercmd(f"RETR {path}")
        try:
            return self._ftp.transfercmd(f"RETR {path}", rest=offset)
        except ftplib.error_perm as exc:
            if _reply_code(exc) in ("550", "530"):
                raise  # the file itself (or the login) is the problem, not the offset
        self.start = 0  # REST (or RETR from an offset) refused: the caller restarts
        return self._ftp.transfercmd(f"RETR {path}")

    def readinto(self, buffer: memoryview) -> int:
        if self._conn is None:
            return 0
        left = None if self.total is None else self.total - self.start - self._received
        if left is not None:
            # Read no more than the file has; at its end, one byte more tells a server that
            # acknowledged REST but sent from byte 0 (it would deliver too much).
            buffer = buffer[: max(left, 1)]
        try:
            n = self._conn.recv_into(buffer)
        except ftplib.all_errors as exc:
            raise _ftp_error(self.url, exc, "reading") from None
        if left is not None and left <= 0 and n:
            self._source.rest_ignored = True
            raise TransferError(self.url, f"sent more than the {self.total - self.start:,} bytes left after byte "
                                f"{self.start:,}: the server ignored the resume offset (REST); starting over "
                                "without it", retryable=True)
        self._received += n
        if n == 0 and left:
            raise TransferError(self.url, f"data connection closed with {left:,} bytes still to come", retryable=True)
        return n

    def finish(self) -> None:
        if self._conn is None:
            return
        self._conn.close()
        self._conn = None
        try:
            self._ftp.voidresp()  # 226 Transfer complete
        except ftplib.all_errors as exc:
            raise _ftp_error(self.url, exc, "finishing the transfer") from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._ftp.close()


class FtpSource(Source):
    """An ``ftp://[user[:password]@]host[:port]/folder/`` URL (anonymous without a user)."""

    def __init__(self, url: str):
        parts = _with_host(url)
        self.host = parts.hostname
        self.port = parts.port or 21
        self.user = unquote(parts.username) if parts.username else "anonymous"
        self.password = unquote(parts.password) if parts.password is not None else ("anonymous@" if not parts.username else "")
        self.folder = unquote(parts.path).strip("/")
        self.display = hide_password(url)
        #: Set once the server acknowledged REST but sent from byte 0: later transfers start at 0.
        self.rest_ignored = False

    def url_of(self, name: str) -> str:
        return self.display.rstrip("/") + "/" + name

    def open(self, name: str, offset: int = 0, *, timeout: float = DEFAULT_TIMEOUT) -> Transfer:
        return _FtpTransfer(self, name, offset, timeout)


# --- mirrors given as strings ---------------------------------------------------------------------


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

