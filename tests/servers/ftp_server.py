"""A real FTP server (pyftpdlib) on 127.0.0.1 serving a folder read-only, with login,
REST, and injectable faults.

Faults: ``server.drop_after(name, nbytes, times=1)`` aborts the data connection of a
RETR of ``name`` after ``nbytes`` (the server answers 426, as on a dropped line);
``no_rest=True`` makes the server refuse REST (502), as servers without resume do;
``strict_rest=True`` makes PASV, EPSV, PORT and EPRT clear a pending restart marker, as
strict servers do (RFC 959 wants REST immediately before the RETR it applies to);
``ignore_rest=True`` makes the server acknowledge REST (350) and send from byte 0 anyway;
``no_size=True`` makes the server refuse SIZE (502), so clients do not learn the size.

``server.retrieved`` lists ``(name, restart offset)`` per RETR, ``server.commands``
``(session, command)`` for every command received, in order.
"""

from __future__ import annotations

import os
import threading
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


class FtpTestServer:
    """Serve ``folder`` at ``self.url`` (``ftp://user:password@127.0.0.1:<port>/``) until :meth:`stop`."""

    def __init__(self, folder: str | os.PathLike[str], *, user: str = "sen12ms", password: str = "s3cret",
                 no_rest: bool = False, strict_rest: bool = False, no_size: bool = False,
                 ignore_rest: bool = False):
        self.folder = Path(folder)
        self.user, self.password = user, password
        self.drops: dict[str, list[int]] = {}  # name -> [nbytes, times]
        self.retrieved: list[tuple[str, int]] = []  # (name, REST offset) per RETR
        self.commands: list[tuple[int, str]] = []  # (session, command) in the order received
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
            def pre_process_command(self, line, cmd, arg):
                with owner._lock:
                    owner.commands.append((id(self), cmd))
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
                if no_rest:
                    self.respond("502 Command not implemented.")
                    return None
                if ignore_rest:
                    self.respond(f"350 Restarting at position {line}.")
                    return None
                return super().ftp_REST(line)

            def ftp_RETR(self, file):
                with owner._lock:
                    owner.retrieved.append((os.path.basename(file), self._restart_position))
                return super().ftp_RETR(file)

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
