"""A real HTTP server on 127.0.0.1 serving a folder, with Range support and injectable faults.

Faults (``server.add_fault(name, kind, ...)``), each used up by ``times`` requests
(``times=None``: every request):

``status``        answer ``status`` (503, 404, 401 …) instead of the file
``drop``          send ``after`` bytes of the body, then close the connection cleanly
``reset``         send ``after`` bytes, wait until the client's kernel has acknowledged
                  every one of them, then reset the connection (RST).  The wait makes the
                  fault deterministic: without it the RST would discard whatever was still
                  in the server's send queue, so how much the client got would depend on timing
``stall``         send ``after`` bytes, then send nothing for ``seconds``
``ignore_range``  answer 200 with the whole file even when a Range was asked for
``corrupt``       serve the file with the byte at ``offset`` flipped
``html``          answer 200 with an HTML page (``text/html``), as a share's error or login page
``text``          answer 200 with a plain-text notice (``text/plain``)
``no_length``     send no ``Content-Length`` (and, for a Range, ``Content-Range: bytes N-M/*``);
                  with ``after`` > 0 close the connection cleanly after that many bytes

``/download?path=%2F&files=<name>`` serves ``<name>`` too, as the official Nextcloud
share does.  Every request is logged in ``server.log`` (method, name, range, status, and
the body bytes the server wrote: ``sent``).
Bodies without faults go out with ``sendfile``, so the server is not the bottleneck
of a throughput measurement.
"""

from __future__ import annotations

import base64
import fcntl
import os
import socket
import struct
import termios
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Fault:
    kind: str
    times: int | None = 1
    status: int = 503
    after: int = 0
    seconds: float = 0.0
    offset: int = 0


@dataclass
class Request:
    method: str
    name: str
    range: str | None
    status: int
    #: Body bytes the server wrote to the socket (None while the body is still going out).
    sent: int | None = 0

    @property
    def offset(self) -> int:
        """The first byte asked for: the N of ``Range: bytes=N-`` (0 without a Range)."""
        if self.range is None:
            return 0
        return int(self.range.strip().removeprefix("bytes=").partition("-")[0])


class FaultyHTTPServer:
    """Serve ``folder`` at ``self.url`` (``http://127.0.0.1:<port>/``) until :meth:`stop`."""

    def __init__(self, folder: str | os.PathLike[str], *, auth: tuple[str, str] | None = None):
        self.folder = Path(folder)
        self.auth = auth
        self.faults: dict[str, list[Fault]] = {}
        self.log: list[Request] = []
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"owner": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> FaultyHTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultyHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_fault(self, name: str, kind: str, *, times: int | None = 1, **params) -> None:
        if kind not in ("status", "drop", "reset", "stall", "ignore_range", "corrupt", "html", "text", "no_length"):
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self.faults.setdefault(name, []).append(Fault(kind, times, **params))

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.log.clear()

    def requests(self, name: str | None = None, method: str = "GET", *, wait: float = 5.0) -> list[Request]:
        """The logged requests (of ``name``); waits up to ``wait`` s for bodies still going
        out, so that ``sent`` is final (a client can finish before the server's thread does)."""
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                found = [r for r in self.log if r.method == method and (name is None or r.name == name)]
                if all(r.sent is not None for r in found) or time.monotonic() > deadline:
                    return found
            time.sleep(0.01)

    def _take_fault(self, name: str) -> Fault | None:
        with self._lock:
            for fault in self.faults.get(name, []):
                if fault.times is None:
                    return fault
                if fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _record(self, request: Request) -> None:
        with self._lock:
            self.log.append(request)


class _Handler(BaseHTTPRequestHandler):
    owner: FaultyHTTPServer
    server_version = "FaultyHTTP/1.0"

    def log_message(self, format: str, *args) -> None:  # keep test output clean
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _name(self) -> str:
        parts = urlsplit(self.path)
        if parts.path == "/download":
            files = parse_qs(parts.query).get("files", [""])
            return files[0]
        return unquote(parts.path.lstrip("/"))

    def _reply(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _serve(self, body: bool) -> None:
        owner = self.owner
        name = self._name()
        asked = self.headers.get("Range")
        if owner.auth is not None:
            expected = "Basic " + base64.b64encode(f"{owner.auth[0]}:{owner.auth[1]}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                owner._record(Request(self.command, name, asked, 401))
                self._reply(401, {"WWW-Authenticate": 'Basic realm="test"'}, b"authentication required\n")
                return
        path = owner.folder / name
        if not name or "/" in name or not path.is_file():
            owner._record(Request(self.command, name, asked, 404))
            self._reply(404, body=b"not found\n")
            return
        fault = owner._take_fault(name)
        if fault is not None and fault.kind == "status":
            owner._record(Request(self.command, name, asked, fault.status))
            self._reply(fault.status, body=f"injected {fault.status}\n".encode())
            return
        if fault is not None and fault.kind in ("html", "text"):
            owner._record(Request(self.command, name, asked, 200, sent=len(_PAGES[fault.kind])))
            kind = "html" if fault.kind == "html" else "plain"
            self._reply(200, {"Content-Type": f"text/{kind}; charset=utf-8"}, _PAGES[fault.kind])
            return
        size = path.stat().st_size
        start, end = 0, size - 1
        status = 200
        if asked and not (fault is not None and fault.kind == "ignore_range"):
            spec = asked.strip().removeprefix("bytes=")
            first, _, last = spec.partition("-")
            start = int(first)
            if last:
                end = min(int(last), size - 1)
            if start >= size:
                owner._record(Request(self.command, name, asked, 416))
                self._reply(416, {"Content-Range": f"bytes */{size}"})
                return
            status = 206
        request = Request(self.command, name, asked, status, sent=None if body else 0)
        owner._record(request)
        no_length = fault is not None and fault.kind == "no_length"
        length = end - start + 1
        self.send_response(status)
        self.send_header("Content-Type", "application/gzip")
        if not no_length:
            self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{'*' if no_length else size}")
        if no_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not body:
            return
        sent = 0
        try:
            with open(path, "rb") as f:
                if fault is None or fault.kind == "ignore_range" or (no_length and not fault.after):
                    sent = self._sendfile(f, start, length)
                else:
                    sent = self._send_faulty(f, start, length, fault)
        finally:
            with owner._lock:
                request.sent = sent

    def _sendfile(self, f, offset: int, count: int) -> int:
        sock = self.connection
        total = 0
        try:
            while count > 0:
                sent = os.sendfile(sock.fileno(), f.fileno(), offset, min(count, 1 << 24))
                if sent == 0:
                    break
                offset += sent
                count -= sent
                total += sent
        except (BrokenPipeError, ConnectionResetError):
            pass
        return total

    def _send_faulty(self, f, start: int, length: int, fault: Fault) -> int:
        f.seek(start)
        data = f.read(length)
        if fault.kind == "corrupt":
            if start <= fault.offset < start + length:
                i = fault.offset - start
                data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
            return self._write(data)
        sent = self._write(data[: fault.after])
        if fault.kind == "stall":
            time.sleep(fault.seconds)
        self.close_connection = True
        if fault.kind == "reset":
            self._wait_until_acknowledged()
            # linger 0: close() sends RST instead of FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.connection.close()
        return sent

    def _wait_until_acknowledged(self, timeout: float = 10.0) -> None:
        """Until the send queue is empty (Linux SIOCOUTQ: bytes not yet acknowledged by the peer)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            unacked = struct.unpack("i", fcntl.ioctl(self.connection.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
            if unacked == 0:
                return
            time.sleep(0.001)
        raise TimeoutError(f"the client did not acknowledge the bytes sent before the reset within {timeout} s")

    def _write(self, data: bytes) -> int:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return 0  # how much went out before the error is not known; no test relies on it
        return len(data)


def serve(folder: str | os.PathLike[str]) -> None:
    """Serve ``folder`` without faults until the process is killed; print the URL first."""
    with FaultyHTTPServer(folder) as server:
        print(server.url, flush=True)
        threading.Event().wait()


_PAGES = {
    "html": (b"<!DOCTYPE html>\n<html><head><title>Service unavailable</title></head>\n<body><h1>The share is "
             b"under maintenance</h1><p>Please try again later.</p></body></html>\n"),
    "text": b"Service temporarily unavailable: the download quota of this share is exhausted.\n",
}
