"""One archive from one source into a sink: the first bytes, sizes, room, resume, retries.

:class:`SourceReader` fills a :class:`Sink` (a ``.part`` file, :class:`PartSink`, or an
extraction running beside the download, :class:`~.extract.StreamSink`) from one
:class:`~.sources.Source`:

* **First bytes.** Before anything is written, the response is checked
  (:func:`content_problem`): servers answer errors, logins and maintenance notices with a
  page and status 200, and a share link that changed leads to an HTML login form.  A gzip
  stream starts with ``1f 8b`` (RFC 1952), so at byte 0 the bytes decide whatever the
  ``Content-Type`` says; a resumed transfer has no magic bytes to look at, so there a
  textual ``Content-Type`` (``text/*``, HTML, XML, JSON) decides.  A refused response is
  named with its URL and what came back, and nothing of it is kept.
* **Sizes.** The size a server announces is remembered next to the expected md5
  (:class:`SizeMemory`; for a root, in its bookkeeping).  A part that was being fetched
  against another announced size is restarted, not appended to, and the change is
  reported.  Once a copy with the right md5 was seen, its size is *verified*: a server
  announcing another size serves another file and is refused before any byte is
  transferred (the next mirror is tried).
* **Room.** Before a transfer of known size writes, the bytes it still needs are checked
  against the free space together with what every other transfer of the run still needs
  (:class:`SpaceBook`): four parallel 60 GB transfers on a disk with 100 GB free are refused
  before they start, not after hours.
* **Ends.** A transfer that ends before the announced size is resumed.  Without an
  announced size the remembered one is the reference.  Without any size, an end that
  looks clean (HTTP without ``Content-Length``) is accepted only if the md5 of what
  arrived matches; otherwise the reader asks the same source for more from the current
  length (a dropped connection looks exactly like that end), again while that brings
  bytes, and the md5 check of the caller rejects the data once nothing more comes.
* **Retries.** Retryable failures are retried with backoff (:class:`RetryPolicy`); a
  failure after progress resets the count.

A part always holds exactly the bytes that were hashed (a write that fails part way, on
a full disk, counts the bytes that landed), and closing joins the hashing thread even
when closing fails.  Buffers come from the sink and go back to it, so a sink that hashes
in the background can lend out a buffer, hash it later and only then reuse it.
"""

from __future__ import annotations

import enum
import os
import queue
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..console import Progress
from ..errors import DiskFullError, DownloadCancelled, TransferError
from .bookkeeping import KnownSize
from .checksums import md5_file, new_md5
from .sources import DEFAULT_TIMEOUT, Source, Transfer

DEFAULT_RETRIES = 5
#: Seconds before the first retry; doubled at each further retry, at most MAX_BACKOFF.
DEFAULT_BACKOFF = 2.0
MAX_BACKOFF = 60.0
#: Bytes read first, to judge the response (and check the room) before the transfer goes on;
#: small, since some readers (http.client's) return only once the whole buffer is filled.
PEEK_BYTES = 4096


# --- is it an archive at all ----------------------------------------------------------------------

#: The first two bytes of every gzip stream (RFC 1952, ID1 ID2).
GZIP_MAGIC = b"\x1f\x8b"
#: Characters of a response shown in the message that rejects it.
_SHOWN = 60
_HTML_RE = re.compile(rb"\s*(<!doctype\s+html|<html|<head|<body|<\?xml[^>]*>\s*<html)", re.IGNORECASE)


def expected_magic(name: str) -> bytes | None:
    """The bytes archive ``name`` must start with, judged by its name (None: no check)."""
    return GZIP_MAGIC if name.lower().endswith((".gz", ".tgz")) else None


def is_textual(content_type: str | None) -> bool:
    """True for a ``Content-Type`` that no archive is served as (``text/*``, HTML, XML, JSON)."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media.endswith(("/html", "+xml", "/xml", "/json", "+json"))


def _excerpt(data: bytes) -> str:
    text = " ".join(data[: _SHOWN * 4].decode("utf-8", "replace").split())
    return text[:_SHOWN] + ("…" if len(text) > _SHOWN else "")


def _what(content_type: str | None, data: bytes) -> str:
    if _HTML_RE.match(data) or (content_type and "html" in content_type.lower()):
        return "an HTML page"
    if is_textual(content_type) or (data and all(b in b"\t\n\r" or 32 <= b < 127 for b in data[:256])):
        return "a text response"
    return "data that is not gzip"


def content_problem(magic: bytes | None, start: int, content_type: str | None, first: bytes,
                    length: int | None) -> str | None:
    """Why the response is not the archive (None when it may be).

    ``start`` is the offset the response begins at, ``first`` its first bytes (at least
    ``len(magic)`` unless the response is shorter), ``length`` its size when announced.
    """
    if magic is None:
        return None
    if start == 0:
        if first[: len(magic)] == magic:
            return None
        if not first:
            return "got an empty response instead of a gzip archive"
    elif not is_textual(content_type):
        return None
    size = f"{length:,} bytes" if length is not None else f"{len(first):,}+ bytes"
    kind = _what(content_type, first)
    details = ", ".join(filter(None, [content_type.split(";", 1)[0].strip() if content_type else None, size]))
    shown = f": '{_excerpt(first)}'" if kind != "data that is not gzip" else f", starting {first[:4].hex(' ')}"
    target = "a gzip archive" if start == 0 else f"the rest of a gzip archive (from byte {start:,})"
    return f"got {kind} ({details}{shown}) instead of {target}"


# --- room for the transfers of a run --------------------------------------------------------------


class SpaceBook:
    """The bytes each transfer of a run still needs in ``folder`` (see the module docstring)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._left: dict[str, int] = {}
        self._lock = threading.Lock()

    def reserve(self, name: str, nbytes: int, what: str = "") -> None:
        """Check that ``nbytes`` more for ``name`` fit beside the other reservations, then hold them
        (replacing an earlier reservation of ``name``).  Raises DiskFullError when they do not fit."""
        with self._lock:
            others = {n: b for n, b in self._left.items() if n != name and b > 0}
            free = shutil.disk_usage(self.folder).free
            if nbytes + sum(others.values()) > free:
                detail = f" ({what})" if what else ""
                besides = (f" besides {sum(others.values()):,} for {len(others)} other transfer(s) under way"
                           if others else "")
                raise DiskFullError(f"{self.folder}: not enough free space for {name}: {nbytes:,} more bytes "
                                    f"needed{detail}{besides}, {free:,} free")
            self._left[name] = nbytes

    def consumed(self, name: str, nbytes: int) -> None:
        """``nbytes`` of ``name``'s reservation landed on disk."""
        with self._lock:
            if name in self._left:
                self._left[name] = max(0, self._left[name] - nbytes)

    def release(self, name: str) -> None:
        """``name`` needs no more room (done, failed or restarting)."""
        with self._lock:
            self._left.pop(name, None)


# --- sinks ----------------------------------------------------------------------------------------

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


# --- one archive from one source ------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one source: failures in a row without progress tolerated (progress
    resets the count), seconds without data before a connection counts as stalled, and
    seconds before the first retry (doubling up to :data:`MAX_BACKOFF`)."""

    retries: int = DEFAULT_RETRIES
    timeout: float = DEFAULT_TIMEOUT
    backoff: float = DEFAULT_BACKOFF

    def __post_init__(self) -> None:
        if self.retries < 0 or self.timeout <= 0 or self.backoff < 0:
            raise ValueError("retries and backoff must be >= 0 and timeout > 0")

    def delay(self, failures: int) -> float:
        return min(self.backoff * 2 ** (failures - 1), MAX_BACKOFF)


class TransferEvents(Protocol):
    """What a transfer tells the run it belongs to, and how the run can stop it."""

    #: Set to stop every transfer at its next chunk.
    cancel: threading.Event
    quiet: bool

    def say(self, message: str, *, once_key: str | None = None) -> None:
        """Tell the user (at most once per ``once_key``)."""

    def note(self, name: str, message: str) -> None:
        """Tell the user, and keep the message in ``name``'s report."""

    def will_transfer(self, name: str, nbytes: int) -> None:
        """``nbytes`` more of ``name`` are about to come: check the room for them, grow the totals."""

    def transferred(self, name: str, nbytes: int) -> None:
        """``nbytes`` of ``name`` arrived."""


class SizeMemory(Protocol):
    """Where the sizes of archives are remembered (see the module docstring)."""

    def known(self, name: str) -> KnownSize | None: ...

    def announced(self, name: str, size: int, source: str) -> None: ...

    def verified(self, name: str, size: int, source: str) -> None: ...

    def forget(self, name: str) -> None:
        """Drop an announced (not verified) size: the data that came with it was bad."""


class MemorySizes:
    """A :class:`SizeMemory` that lasts as long as the object (``fetch_archive`` keeps no records)."""

    def __init__(self) -> None:
        self._sizes: dict[str, KnownSize] = {}
        self._lock = threading.Lock()

    def known(self, name: str) -> KnownSize | None:
        with self._lock:
            return self._sizes.get(name)

    def announced(self, name: str, size: int, source: str) -> None:
        with self._lock:
            old = self._sizes.get(name)
            if old is None or not old.verified:
                self._sizes[name] = KnownSize(size, False, source)

    def verified(self, name: str, size: int, source: str) -> None:
        with self._lock:
            self._sizes[name] = KnownSize(size, True, source)

    def forget(self, name: str) -> None:
        with self._lock:
            old = self._sizes.get(name)
            if old is not None and not old.verified:
                del self._sizes[name]


class _End(enum.Enum):
    """How one attempt ended (internal)."""

    COMPLETE = enum.auto()  # the sink holds the announced (or remembered) size
    RESTART = enum.auto()  # the size changed: start over against the new one, at once
    UNCONFIRMED = enum.auto()  # the data stopped and no size says whether that was the end


class SourceReader:
    """Fills a sink with one archive from one source (see the module docstring)."""

    def __init__(self, source: Source, name: str, sink: Sink, events: TransferEvents, policy: RetryPolicy, *,
                 md5: str | None = None, sizes: SizeMemory | None = None,
                 on_bytes: Callable[[int], object] | None = None):
        self.source, self.name, self.sink, self.events, self.policy = source, name, sink, events, policy
        self.md5, self.on_bytes = md5, on_bytes
        self.sizes: SizeMemory = sizes if sizes is not None else MemorySizes()
        self.magic = expected_magic(name)
        self.have = self.resumed_from = sink.size
        self.total: int | None = None  # the size this reader works against
        self._announced = False  # total was announced by the server (not remembered)
        self._confirming = False  # asking for more after an end that no size confirmed
        self._reserve_again = True  # room must be (re)checked once the size is known
        self._got = 0  # bytes received by the current attempt
        self._bar: Progress | None = None

    def run(self) -> int:
        """Fill the sink; returns the offset its kept data was resumed from (0 when every byte came now)."""
        failures = 0
        try:
            while True:
                self._got = 0
                try:
                    end = self._attempt()
                except TransferError as exc:
                    if not exc.retryable:
                        raise
                    failures = 1 if self._got else failures + 1
                    self._wait_before_retry(exc, failures)
                    continue
                if end is _End.COMPLETE:
                    return self.resumed_from
                if end is _End.RESTART:
                    continue
                if (self._confirming and not self._got) or self.md5 is None or self.sink.hexdigest() == self.md5:
                    return self.resumed_from  # confirmed by the md5, or nothing more to be had
                self.events.say(f"{self.name}: {self.source.url_of(self.name)} stopped sending at byte "
                                f"{self.have:,} without saying the size, and the md5 does not match yet: "
                                f"asking for more from byte {self.have:,}")
                self._confirming = True
        finally:
            if self._bar is not None:
                self._bar.close()

    def _attempt(self) -> _End:
        """One connection."""
        with self.source.open(self.name, self.have, timeout=self.policy.timeout) as transfer:
            buffer = self.sink.buffer()
            try:
                n = self._peek(transfer, buffer)
                problem = content_problem(self.magic, transfer.start, transfer.content_type, bytes(buffer[:n]),
                                          transfer.total)
                if problem is not None:
                    raise TransferError(transfer.url, problem, retryable=False)
                if transfer.start != self.have:
                    if self._confirming:
                        self.sink.release(buffer)
                        return _End.UNCONFIRMED  # it cannot resume: what it sent is all there is
                    self.events.say(f"{self.source.display} cannot resume downloads (it ignores Range/REST): "
                                    "interrupted archives restart from zero", once_key=f"norange:{self.source.display}")
                    self._restart()
                if not self._accept_total(transfer):
                    self.sink.release(buffer)
                    return _End.RESTART
            except BaseException:
                self.sink.release(buffer)
                raise
            if self._bar is None:
                self._bar = Progress(self.total, self.name, unit="B", quiet=self.events.quiet)
                self._bar.update(self.have)
            self._take(buffer, n)
            self._pump(transfer)
            transfer.finish()
        if self.total is None:
            return _End.UNCONFIRMED
        if self.have < self.total:
            whose = "" if self._announced else " (the size remembered for it)"
            raise TransferError(self.source.url_of(self.name), f"ended at byte {self.have:,} of {self.total:,}{whose}",
                                retryable=True)
        return _End.COMPLETE  # more than a remembered size: the md5 decides

    def _peek(self, transfer: Transfer, buffer: bytearray) -> int:
        """Read the first bytes of the response (enough to recognise a gzip stream)."""
        view = memoryview(buffer)[:PEEK_BYTES]
        n = transfer.readinto(view)
        while 0 < n < 2:
            more = transfer.readinto(view[n:])
            if not more:
                break
            n += more
        return n

    def _restart(self) -> None:
        self.sink.reset()
        self.have = self.resumed_from = 0
        self._reserve_again = True

    def _reserve(self) -> None:
        if self.total is not None and self._reserve_again:
            self.events.will_transfer(self.name, max(0, self.total - self.have))
            self._reserve_again = False

    def _accept_total(self, transfer: Transfer) -> bool:
        """Take note of the size the server announced (or the remembered one); False to start over."""
        announced, known = transfer.total, self.sizes.known(self.name)
        if announced is None:
            if self.total is None and known is not None:
                self.total, self._announced = known.size, False
            self._reserve()
            return True
        if known is not None and known.size != announced:
            if known.verified:
                raise TransferError(transfer.url, f"announces {announced:,} bytes, but {self.name} with the expected md5 "
                                    f"has {known.size:,} bytes (verified: {known.source}): this is another file",
                                    retryable=False)
            self.events.note(self.name, f"{self.name}: {self.source.display} announces {announced:,} bytes, "
                             f"{known.size:,} were announced before (by {known.source})"
                             + ("; the part is restarted, not appended to" if self.have else ""))
        self.sizes.announced(self.name, announced, transfer.url)
        if self.total is not None and self.total != announced:
            self._reserve_again = True
        self.total, self._announced = announced, True
        if self.have and ((known is not None and known.size != announced) or self.have > announced):
            self._restart()
            return False
        self._reserve()
        return True

    def _take(self, buffer: bytearray, n: int) -> None:
        if not n:
            self.sink.release(buffer)
            return
        self.sink.write(buffer, n)
        self.have += n
        self._got += n
        assert self._bar is not None
        self._bar.update(n)
        self.events.transferred(self.name, n)
        if self.on_bytes is not None:
            self.on_bytes(n)

    def _pump(self, transfer: Transfer) -> None:
        while True:
            buffer = self.sink.buffer()
            try:
                n = transfer.readinto(memoryview(buffer))
                if n and self.events.cancel.is_set():
                    raise DownloadCancelled(f"{self.name}: interrupted")
            except BaseException:
                self.sink.release(buffer)
                raise
            if not n:
                self.sink.release(buffer)
                return
            self._take(buffer, n)

    def _wait_before_retry(self, exc: TransferError, failures: int) -> None:
        retries = self.policy.retries
        if failures > retries:
            raise TransferError(exc.url, f"{exc.problem} (gave up after {retries} retries)", retryable=False) from None
        delay = self.policy.delay(failures)
        self.events.say(f"{self.name}: {exc.problem}; retry {failures}/{retries} in {delay:.1f} s"
                        + (f", resuming at byte {self.have:,}" if self.have else ""))
        if self.events.cancel.wait(delay):
            raise DownloadCancelled(f"{self.name}: interrupted") from None
