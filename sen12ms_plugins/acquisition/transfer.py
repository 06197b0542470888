"""One archive from one source into a sink: resume, retries, sizes, and a look at the first bytes.

:class:`SourceReader` fills a :class:`~.sinks.Sink` from one :class:`~.sources.Source`:

* **First bytes.** Before anything is written, the response is checked
  (:mod:`.content`): an HTML page or a text answer where a gzip archive is expected is
  refused at once, naming the URL and what came back, and nothing of it is kept.
* **Sizes.** The size a server announces is remembered next to the expected md5
  (:class:`SizeMemory`; for a root, ``records.remember_size``).  A part that was being
  fetched against another announced size is restarted, not appended to, and the change
  is reported.  Once a copy with the right md5 was seen, its size is *verified*: a
  server announcing another size serves another file and is refused before any byte
  is transferred (the next mirror is tried).
* **Ends.** A transfer that ends before the announced size is resumed.  Without an
  announced size the remembered one is the reference.  Without any size, an end that
  looks clean (HTTP without ``Content-Length``) is accepted only if the md5 of what
  arrived matches; otherwise the reader asks the same source for more from the current
  length (a dropped connection looks exactly like that end), again while that brings
  bytes, and the md5 check of the caller rejects the data once nothing more comes.
* **Retries.** Retryable failures are retried with backoff (:class:`RetryPolicy`); a
  failure after progress resets the count.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..console import Progress
from ..errors import DownloadCancelled, TransferError
from . import records
from .content import content_problem, expected_magic
from .records import KnownSize
from .sinks import Sink
from .sources import DEFAULT_TIMEOUT, Source, Transfer

DEFAULT_RETRIES = 5
#: Seconds before the first retry; doubled at each further retry, at most MAX_BACKOFF.
DEFAULT_BACKOFF = 2.0
MAX_BACKOFF = 60.0
#: Bytes read first, to judge the response (and check the room) before the transfer goes on;
#: small, since some readers (http.client's) return only once the whole buffer is filled.
PEEK_BYTES = 4096


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


class RootSizes:
    """A :class:`SizeMemory` kept in a root's bookkeeping, per archive and expected md5."""

    def __init__(self, root: Path, md5s: Mapping[str, str]):
        self.root, self.md5s = root, md5s

    def known(self, name: str) -> KnownSize | None:
        return records.remembered_size(self.root, name, self.md5s[name])

    def announced(self, name: str, size: int, source: str) -> None:
        records.remember_size(self.root, name, self.md5s[name], size, verified=False, source=source)

    def verified(self, name: str, size: int, source: str) -> None:
        records.remember_size(self.root, name, self.md5s[name], size, verified=True, source=source)

    def forget(self, name: str) -> None:
        records.forget_size(self.root, name, self.md5s[name])


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
