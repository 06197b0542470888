"""Where downloaded bytes go: a ``.part`` file, or an extraction running beside the download.

Both kinds answer the :class:`Sink` protocol the transfer loop
(:class:`~sen12ms_plugins.acquisition.transfer.SourceReader`) writes to.  Buffers come
from the sink and go back to it, so a sink that hashes in the background can lend
out a buffer, hash it later and only then reuse it.

A part always holds exactly the bytes that were hashed (a write that fails part way,
on a full disk, counts the bytes that landed), and closing joins the hashing thread
even when closing fails.  When a streamed archive's extraction refuses it
(:class:`~sen12ms_plugins.errors.BadArchiveError`), the stream sink keeps hashing the
rest of the download without extracting it, so that the md5 can tell a bad archive
from a damaged transfer.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..console import Progress
from ..errors import BadArchiveError, StreamAborted
from .hashing import md5_file, new_md5
from .pipe import BytePipe
from .staging import Staged, stage

#: Bytes read from the network into one buffer.
CHUNK = 1 << 20


class Sink(Protocol):
    """What the transfer loop writes an archive's bytes into."""

    #: Bytes the sink holds (a resumed part counts from its existing size).
    size: int

    def buffer(self) -> bytearray:
        """A buffer to read the next bytes into (hand it back with :meth:`write` or :meth:`release`)."""

    def release(self, buffer: bytearray) -> None:
        """Give back a buffer that was not written."""

    def write(self, buffer: bytearray, n: int) -> None:
        """Take the first ``n`` bytes of ``buffer`` (and the buffer back)."""

    def hexdigest(self) -> str:
        """The md5 of everything the sink holds."""

    def reset(self) -> None:
        """Drop everything held: the next byte written is byte 0 of the archive."""

    def close(self) -> None:
        """Flush and release resources; the held bytes stay where they are."""


class BackgroundMd5:
    """md5 in a thread of its own, so hashing overlaps with receiving and writing (md5 is
    the slowest of the three; hashlib releases the GIL while it hashes).  Buffers go
    round a small pool: one is filled from the network while others wait to be hashed."""

    def __init__(self, buffers: int = 8):
        self.md5 = new_md5()
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        for _ in range(buffers):
            self._free.put(bytearray(CHUNK))
        self._work: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sen12ms-md5", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._work.get()) is not None:
            buffer, n = item
            self.md5.update(memoryview(buffer)[:n])
            self._free.put(buffer)
            self._work.task_done()
        self._work.task_done()

    def buffer(self) -> bytearray:
        return self._free.get()

    def release(self, buffer: bytearray) -> None:
        self._free.put(buffer)

    def feed(self, buffer: bytearray, n: int) -> None:
        self._work.put((buffer, n))

    def hexdigest(self) -> str:
        self._work.join()
        return self.md5.hexdigest()

    def reset(self) -> None:
        self._work.join()
        self.md5 = new_md5()

    def close(self) -> None:
        if self._thread.is_alive():
            self._work.put(None)
            self._thread.join()


class PartSink:
    """``<archive>.part`` plus the md5 of everything in it.  An existing part is hashed first."""

    def __init__(self, path: Path, *, fresh: bool, quiet: bool):
        self.path = path
        if fresh:
            path.unlink(missing_ok=True)
        self.hasher = BackgroundMd5()
        self.size = 0
        try:
            if path.is_file():
                size = path.stat().st_size
                with Progress(size, f"md5 {path.name} (resuming)", unit="B", quiet=quiet) as bar:
                    md5_file(path, bar.update, self.hasher.md5)
                self.size = size
            # Unbuffered: what a write call returns is on its way to the disk, so a full disk
            # shows at the write that hit it (not at a later flush) and the part can be cut back.
            self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0),
                                           0o644)
        except BaseException:
            self.hasher.close()
            raise

    def buffer(self) -> bytearray:
        return self.hasher.buffer()

    def release(self, buffer: bytearray) -> None:
        self.hasher.release(buffer)

    def write(self, buffer: bytearray, n: int) -> None:
        assert self._fd is not None
        view = memoryview(buffer)[:n]
        done = 0
        try:
            while done < n:  # a raw write may be short (and the next one then fails)
                done += os.write(self._fd, view[done:])
        except BaseException:
            if done:  # the bytes that did land are good: hash them, so the part is what was hashed
                self.hasher.feed(buffer, done)
                self.size += done
            else:
                self.hasher.release(buffer)
            raise
        self.hasher.feed(buffer, n)
        self.size += n

    def hexdigest(self) -> str:
        return self.hasher.hexdigest()

    def reset(self) -> None:
        assert self._fd is not None
        os.ftruncate(self._fd, 0)
        self.hasher.reset()
        self.size = 0

    def finish(self) -> None:
        """Make the part durable (fsync), then close: call before renaming it to its final name.
        A failure (a disk that fills up only now) is raised, after the hashing thread was joined."""
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except BaseException:
                self.close()
                raise
        self.close()

    def close(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.close(fd)
        finally:
            self.hasher.close()


class StreamSink:
    """Feeds the download into an extraction running in another thread; nothing is kept on disk.

    When the extraction refuses the archive (:class:`BadArchiveError`), the sink keeps
    hashing what arrives without extracting it (``refused`` is set, ``on_refused`` called
    once), so that the download can read the stream to its end and let the md5 decide."""

    def __init__(self, root: Path, name: str, on_refused: Callable[[BaseException], object] | None = None):
        self.root, self.name, self.on_refused = root, name, on_refused
        self._buffer = bytearray(CHUNK)
        self._start()

    def _start(self) -> None:
        self.hasher = new_md5()
        self.size = 0
        self.pipe = BytePipe()
        self.staged: Staged | None = None
        self.error: BaseException | None = None
        self.refused = False
        self.thread = threading.Thread(target=self._consume, name=f"sen12ms-extract-{self.name}", daemon=True)
        self.thread.start()

    def _consume(self) -> None:
        try:
            self.staged = stage(self.pipe, self.root, self.name)
        except BaseException as exc:  # raised in the download thread by finish()
            self.error = exc
            self.pipe.abort()

    def buffer(self) -> bytearray:
        return self._buffer

    def release(self, buffer: bytearray) -> None:
        pass  # one buffer, refilled at once: the pipe keeps copies

    def write(self, buffer: bytearray, n: int) -> None:
        data = bytes(memoryview(buffer)[:n])
        self.hasher.update(data)
        self.size += n
        if self.refused:
            return
        try:
            self.pipe.put(data)
        except StreamAborted:
            self.thread.join()  # the extraction stopped: why?
            if not isinstance(self.error, BadArchiveError):
                raise
            self.refused = True  # the archive's bytes are at fault, or their transfer: read on
            if self.on_refused is not None:
                self.on_refused(self.error)

    def hexdigest(self) -> str:
        return self.hasher.hexdigest()

    def reset(self) -> None:
        self.discard()
        self._start()

    def finish(self) -> Staged:
        """Signal the end, wait for the extraction; its error, if any, is raised here."""
        self.pipe.close()
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.staged is not None
        return self.staged

    def discard(self) -> None:
        self.pipe.abort()
        self.thread.join()
        if self.staged is not None:
            self.staged.discard()
            self.staged = None

    def close(self) -> None:
        pass  # nothing on disk to flush
