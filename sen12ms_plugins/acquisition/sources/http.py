"""HTTP(S) transfers with resume (``Range: bytes=N-``), built on :mod:`urllib.request`.

urllib follows redirects (keeping the ``Range`` header), honours the usual proxy
variables and checks certificates.  Only GET is used: some servers (the TUM share
among them) refuse HEAD.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import urllib.error
import urllib.request
from urllib.parse import unquote, urlsplit, urlunsplit

from ...errors import TransferError
from .base import DEFAULT_TIMEOUT, Source, Transfer, file_url, hide_password

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
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError(f"{url}: no host in URL")
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
