"""A real FTP server (pyftpdlib) on 127.0.0.1 serving a folder read-only, with login,
REST, and injectable faults.

Faults: ``server.drop_after(name, nbytes, times=1)`` aborts the data connection of a
RETR of ``name`` after ``nbytes`` (the server answers 426, as on a dropped line);
``no_rest=True`` makes the server refuse REST (502), as servers without resume do;
``strict_rest=True`` makes PASV, EPSV, PORT and EPRT clear a pending restart marker, as
strict servers do (RFC 959 wants REST immediately before the RETR it applies to);
``ignore_rest=True`` makes the server acknowledge REST (350) and send from byte 0 anyway;
``no_size=True`` makes the server refuse SIZE (502), so clients do not learn the size.

Logs: ``server.commands`` holds every REST and RETR command as received
(``("REST", "40000")``, ``("RETR", name)``), refused ones included;
``server.session_commands`` every command of every session, ``(session, command)``, in order;
``server.retrieved`` ``(name, REST offset)`` per RETR; ``server.transfers()`` one
:class:`Retrieval` per RETR: the file, the REST offset in effect, and the bytes the data
connection transmitted.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


class _DroppingFile:
    """A file that fails with an I/O error once ``limit`` bytes were read (no fileno: no sendfile)."""

    def __init__(self, f, limit: int):
        self._f, self._limit = f, limit
        self.name = f.name
        self.closed = False

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def read(self, size: int = -1) -> bytes:
        if self._limit <= 0:
            raise OSError(5, "injected connection drop")
        data = self._f.read(min(size, self._limit) if size >= 0 else self._limit)
        self._limit -= len(data)
        return data

    def close(self) -> None:
        self.closed = True
        self._f.close()


@dataclass
class Retrieval:
    """One RETR: the file, the REST offset it started at, what the data connection sent."""

    name: str
    offset: int
    #: Bytes the data connection transmitted (None until it closed).
    sent: int | None = None
    #: Whether the whole rest of the file went out (226) or not (426); None until closed.
    completed: bool | None = None


class FtpTestServer:
    """Serve ``folder`` at ``self.url`` (``ftp://user:password@127.0.0.1:<port>/``) until :meth:`stop`."""

    def __init__(self, folder: str | os.PathLike[str], *, user: str = "sen12ms", password: str = "s3cret",
                 no_rest: bool = False, strict_rest: bool = False, no_size: bool = False,
                 ignore_rest: bool = False):
        self.folder = Path(folder)
        self.user, self.password = user, password
        self.drops: dict[str, list[int]] = {}  # name -> [nbytes, times]
        self.retrievals: list[Retrieval] = []
        self.commands: list[tuple[str, str]] = []  # REST and RETR commands, as received
        self.session_commands: list[tuple[int, str]] = []  # (session, command) in the order received
        self._lock = threading.Lock()
        authorizer = DummyAuthorizer()
        authorizer.add_user(user, password, str(self.folder), perm="elr")
        owner = self

        class FS(AbstractedFS):
            def open(self, filename, mode):
                f = super().open(filename, mode)
                name = os.path.basename(filename)
                with owner._lock:
                    drop = owner.drops.get(name)
                    if drop and drop[1] > 0:
                        drop[1] -= 1
                        return _DroppingFile(f, drop[0])
                return f

        class Handler(FTPHandler):
            _retrieval: Retrieval | None = None

            def pre_process_command(self, line, cmd, arg):
                with owner._lock:
                    owner.session_commands.append((id(self), cmd))
                return super().pre_process_command(line, cmd, arg)

            def _forget_restart(self) -> None:
                if strict_rest:
                    self._restart_position = 0

            def ftp_PASV(self, line):
                self._forget_restart()
                return super().ftp_PASV(line)

            def ftp_EPSV(self, line):
                self._forget_restart()
                return super().ftp_EPSV(line)

            def ftp_PORT(self, line):
                self._forget_restart()
                return super().ftp_PORT(line)

            def ftp_EPRT(self, line):
                self._forget_restart()
                return super().ftp_EPRT(line)

            def ftp_SIZE(self, path):
                if no_size:
                    self.respond("502 Command not implemented.")
                    return None
                return super().ftp_SIZE(path)

            def ftp_REST(self, line):
                with owner._lock:
                    owner.commands.append(("REST", line))
                if no_rest:
                    self.respond("502 Command not implemented.")
                    return None
                if ignore_rest:
                    self.respond(f"350 Restarting at position {line}.")
                    return None
                return super().ftp_REST(line)

            def ftp_RETR(self, file):
                name = os.path.basename(file)
                with owner._lock:
                    owner.commands.append(("RETR", name))
                    self._retrieval = Retrieval(name, self._restart_position)
                    owner.retrievals.append(self._retrieval)
                return super().ftp_RETR(file)

            def log_transfer(self, cmd, filename, receive, completed, elapsed, bytes):
                # called once the data connection of the transfer is closed
                if cmd == "RETR" and self._retrieval is not None:
                    with owner._lock:
                        self._retrieval.sent, self._retrieval.completed = bytes, bool(completed)
                    self._retrieval = None
                return super().log_transfer(cmd, filename, receive, completed, elapsed, bytes)

        Handler.authorizer = authorizer
        Handler.abstracted_fs = FS
        Handler.banner = "sen12ms test FTP server"
        Handler.auth_failed_timeout = 0.1  # pyftpdlib waits 3 s before refusing a login
        Handler.log_prefix = ""
        self._server = FTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.address[1]
        self.url = f"ftp://{user}:{password}@127.0.0.1:{self.port}/"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._server.serve_forever(timeout=0.05, blocking=False, handle_exit=False)
        self._server.close_all()

    @property
    def retrieved(self) -> list[tuple[str, int]]:
        """(name, REST offset) per RETR."""
        with self._lock:
            return [(r.name, r.offset) for r in self.retrievals]

    def transfers(self, name: str | None = None, *, wait: float = 5.0) -> list[Retrieval]:
        """The RETRs (of ``name``); waits up to ``wait`` s for data connections still open, so
        that ``sent`` is final (the server logs a transfer after its reply reached the client)."""
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                found = [r for r in self.retrievals if name is None or r.name == name]
                if all(r.sent is not None for r in found) or time.monotonic() > deadline:
                    return list(found)
            time.sleep(0.01)

    def drop_after(self, name: str, nbytes: int, times: int = 1) -> None:
        with self._lock:
            self.drops[name] = [nbytes, times]

    def start(self) -> FtpTestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> FtpTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
