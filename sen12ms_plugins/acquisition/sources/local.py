"""Archives in a folder on this machine (a ``file://`` URL or a plain path)."""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import TransferError
from .base import DEFAULT_TIMEOUT, Source, Transfer


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
