"""A bounded pipe of byte chunks from a download thread to the extraction reading it.

Both sides block on one condition variable, so neither polls: the writer waits while
the pipe is full, the reader while it is empty, and either side giving up
(:meth:`BytePipe.abort`) wakes the other at once, which then raises
:class:`~sen12ms_plugins.errors.StreamAborted`.  Why a side gave up is that side's
business: the download learns the extraction's error when it joins its thread.
"""

from __future__ import annotations

import threading
from collections import deque

from ..errors import StreamAborted

#: Chunks buffered between a stream download and its extraction (1 MiB each).
DEFAULT_DEPTH = 16


class BytePipe:
    """Chunks in, a file-like reader out (``read``/``readinto``, as ``tarfile`` and gzip readers want)."""

    def __init__(self, depth: int = DEFAULT_DEPTH):
        self._chunks: deque[bytes] = deque()
        self._depth = depth
        self._cond = threading.Condition()
        self._eof = False
        self._aborted = False
        self._chunk = b""
        self._pos = 0

    # --- writer side

    def put(self, data: bytes) -> None:
        """Append a chunk; blocks while the pipe is full."""
        with self._cond:
            self._cond.wait_for(lambda: self._aborted or len(self._chunks) < self._depth)
            if self._aborted:
                raise StreamAborted("the extraction reading this download stopped")
            self._chunks.append(data)
            self._cond.notify_all()

    def close(self) -> None:
        """No more chunks: the reader sees the end once it has read what is buffered."""
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    # --- either side gives up

    def abort(self) -> None:
        """Stop the stream: buffered data is dropped, and both sides' next call raises StreamAborted."""
        with self._cond:
            self._aborted = True
            self._chunks.clear()
            self._cond.notify_all()

    # --- reader side

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (a whole chunk when ``size`` is -1); ``b""`` at the end."""
        if self._pos >= len(self._chunk):
            with self._cond:
                self._cond.wait_for(lambda: self._aborted or self._chunks or self._eof)
                if self._aborted:
                    raise StreamAborted("the download feeding this extraction stopped")
                if not self._chunks:
                    return b""
                self._chunk, self._pos = self._chunks.popleft(), 0
                self._cond.notify_all()
        if self._pos == 0 and (size < 0 or size >= len(self._chunk)):
            self._pos = len(self._chunk)
            return self._chunk
        end = len(self._chunk) if size < 0 else min(len(self._chunk), self._pos + size)
        data = self._chunk[self._pos:end]
        self._pos = end
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True
