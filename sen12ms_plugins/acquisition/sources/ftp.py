"""FTP transfers with resume (``REST``), built on :mod:`ftplib` (binary mode, passive).

The official SEN12MS endpoint is ``ftp://m1474000:m1474000@dataserv.ub.tum.de/``.
A path in the URL is relative to the login folder, as RFC 1738 reads it.
"""

from __future__ import annotations

import ftplib
import socket
from urllib.parse import unquote, urlsplit

from ...errors import TransferError
from .base import DEFAULT_TIMEOUT, Source, Transfer, hide_password


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
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError(f"{url}: no host in URL")
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
