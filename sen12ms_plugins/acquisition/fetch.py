"""One archive from a list of sources into a folder, checked against its md5: :func:`fetch_archive`.

>>> from sen12ms_plugins import fetch_archive
>>> path = fetch_archive(                                        # doctest: +SKIP
...     "ROIs1158_spring_lc.tar.gz",
...     ["https://mirror.example.org/sen12ms/", "ftp://m1474000:m1474000@dataserv.ub.tum.de/"],
...     "/data/sen12ms",
...     md5="6e2e8fa8b8cba77ddab49fd20ff5c37b",
... )

The sources are tried in order.  Bytes go to ``<name>.part`` and are hashed as they
arrive; the part is renamed to ``<name>`` only when its md5 matches.  An interrupted
transfer is resumed (HTTP ``Range``, FTP ``REST``) from what the part holds, on any
source; retryable failures (dropped connections, timeouts, 5xx) are retried with
exponential backoff, the others move on to the next source.  When the md5 of a
resumed part does not match, the archive is fetched once more from zero, since the
earlier part may be the culprit; data that still fails is moved aside to
``<name>.rejected``.  This is the building block of
:func:`~sen12ms_plugins.acquisition.download.download`, which adds the 12 archives in
parallel, remembered verifications, extraction and streaming.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..console import Progress, write_message
from ..errors import ChecksumMismatchError, DiskFullError, DownloadCancelled, DownloadError, TransferError
from ..fsutil import DISK_FULL_ERRNOS
from .hashing import md5_file
from .sinks import PartSink, Sink
from .sources import DEFAULT_TIMEOUT, Source, Transfer, make_source
from .workfiles import part_path, rejected_path

DEFAULT_RETRIES = 5
#: Seconds before the first retry; doubled at each further retry, at most MAX_BACKOFF.
DEFAULT_BACKOFF = 2.0
MAX_BACKOFF = 60.0


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

    def will_transfer(self, name: str, nbytes: int) -> None:
        """``nbytes`` more of ``name`` are about to come: check the room for them, grow the totals."""

    def transferred(self, nbytes: int) -> None:
        """``nbytes`` arrived."""


class ConsoleEvents:
    """:class:`TransferEvents` for a transfer on its own: messages on stderr, room checked in ``folder``."""

    def __init__(self, folder: Path, *, quiet: bool = False):
        self.folder, self.quiet = folder, quiet
        self.cancel = threading.Event()
        self._told: set[str] = set()
        self._lock = threading.Lock()

    def say(self, message: str, *, once_key: str | None = None) -> None:
        if self.quiet:
            return
        with self._lock:
            if once_key is not None:
                if once_key in self._told:
                    return
                self._told.add(once_key)
            write_message(message, sys.stderr)

    def will_transfer(self, name: str, nbytes: int) -> None:
        check_space(self.folder, name, nbytes)

    def transferred(self, nbytes: int) -> None:
        pass


def check_space(folder: Path, name: str, needed: int) -> None:
    """Refuse to start writing ``needed`` bytes of ``name`` into ``folder`` when they cannot fit."""
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise DiskFullError(f"{folder}: not enough free space for {name}: {needed:,} more bytes needed, {free:,} free")


class SourceReader:
    """Fills a sink with one archive from one source, resuming from what the sink holds and
    retrying what can be retried (see :class:`RetryPolicy`)."""

    def __init__(self, source: Source, name: str, sink: Sink, events: TransferEvents, policy: RetryPolicy,
                 on_bytes: Callable[[int], object] | None = None):
        self.source, self.name, self.sink, self.events, self.policy = source, name, sink, events, policy
        self.on_bytes = on_bytes
        self.have = self.resumed_from = sink.size
        self.total: int | None = None
        self._got = 0  # bytes received by the current attempt
        self._bar: Progress | None = None

    def run(self) -> int:
        """Fill the sink; returns the offset its kept data was resumed from (0 when every byte came now)."""
        failures = 0
        try:
            while True:
                self._got = 0
                try:
                    if self._attempt():
                        return self.resumed_from
                    continue  # the size changed: start over against the new one, at once
                except TransferError as exc:
                    if not exc.retryable:
                        raise
                    failures = 1 if self._got else failures + 1
                    self._wait_before_retry(exc, failures)
        finally:
            if self._bar is not None:
                self._bar.close()

    def _attempt(self) -> bool:
        """One connection; True when the sink holds the whole archive, False to start over at once."""
        with self.source.open(self.name, self.have, timeout=self.policy.timeout) as transfer:
            if transfer.start != self.have:
                self.events.say(f"{self.source.display} cannot resume downloads (it ignores Range/REST): "
                                "interrupted archives restart from zero", once_key=f"norange:{self.source.display}")
                self._restart()
            if not self._accept_total(transfer):
                return False
            if self._bar is None:
                self._bar = Progress(self.total, self.name, unit="B", quiet=self.events.quiet)
                self._bar.update(self.have)
            self._pump(transfer)
            transfer.finish()
        if self.total is not None and self.have != self.total:
            raise TransferError(self.source.url_of(self.name), f"ended at byte {self.have:,} of {self.total:,}",
                                retryable=True)
        return True

    def _restart(self) -> None:
        self.sink.reset()
        self.have = self.resumed_from = 0

    def _accept_total(self, transfer: Transfer) -> bool:
        """Take note of the size the server announced; False when it differs from the one seen before."""
        if transfer.total is None:
            return True
        if self.total is not None and transfer.total != self.total:
            self.events.say(f"{self.name}: size changed on {self.source.display} "
                            f"({self.total:,} -> {transfer.total:,} bytes): starting over")
            self.total = transfer.total
            self._restart()
            return False
        if self.total is None:
            self.events.will_transfer(self.name, transfer.total - self.have)
        self.total = transfer.total
        return True

    def _pump(self, transfer: Transfer) -> None:
        sink, bar = self.sink, self._bar
        assert bar is not None
        while True:
            buffer = sink.buffer()
            try:
                n = transfer.readinto(memoryview(buffer))
                if n and self.events.cancel.is_set():
                    raise DownloadCancelled(f"{self.name}: interrupted")
            except BaseException:
                sink.release(buffer)
                raise
            if not n:
                sink.release(buffer)
                return
            sink.write(buffer, n)
            self.have += n
            self._got += n
            bar.update(n)
            self.events.transferred(n)
            if self.on_bytes is not None:
                self.on_bytes(n)

    def _wait_before_retry(self, exc: TransferError, failures: int) -> None:
        retries = self.policy.retries
        if failures > retries:
            raise TransferError(exc.url, f"{exc.problem} (gave up after {retries} retries)", retryable=False) from None
        delay = self.policy.delay(failures)
        self.events.say(f"{self.name}: {exc.problem}; retry {failures}/{retries} in {delay:.1f} s"
                        + (f", resuming at byte {self.have:,}" if self.have else ""))
        if self.events.cancel.wait(delay):
            raise DownloadCancelled(f"{self.name}: interrupted") from None


def fetch_to_folder(name: str, md5: str, sources: Sequence[Source], folder: Path, events: TransferEvents,
                    policy: RetryPolicy, on_bytes: Callable[[int], object] | None = None) -> Source:
    """Fetch ``name`` into ``folder`` from the first source that delivers it with this md5
    (the module docstring says how); returns that source.  Raises
    :class:`~sen12ms_plugins.errors.DownloadError` listing each source's failure."""
    part, final, rejected = part_path(folder, name), folder / name, rejected_path(folder, name)
    failures: list[str] = []
    sink = PartSink(part, fresh=False, quiet=events.quiet)  # one sink across sources: the part is hashed once
    try:
        for i, source in enumerate(sources):
            refetched = False
            while True:
                try:
                    resumed_from = SourceReader(source, name, sink, events, policy, on_bytes).run()
                except TransferError as exc:
                    failures.append(str(exc))
                    if i + 1 < len(sources):
                        events.say(f"{name}: {exc}; trying the next mirror")
                    break
                except OSError as exc:
                    if exc.errno in DISK_FULL_ERRNOS:
                        raise DiskFullError(f"{folder}: disk full while downloading {name}; {part.name} "
                                            f"({sink.size:,} bytes) is kept: free space and run again to resume") from exc
                    raise
                actual = sink.hexdigest()
                if actual == md5:
                    sink.close()  # flushed before the rename
                    os.replace(part, final)
                    rejected.unlink(missing_ok=True)
                    return source
                if resumed_from and not refetched:
                    events.say(f"{name}: md5 mismatch after resuming at byte {resumed_from:,}; the earlier part "
                               "may be bad: fetching it again from zero")
                    sink.reset()
                    refetched = True
                    continue
                sink.close()
                os.replace(part, rejected)
                error = ChecksumMismatchError(name, md5, actual, where=f"from {source.url_of(name)}",
                                              moved_to=str(rejected))
                failures.append(str(error))
                events.say(str(error))
                sink = PartSink(part, fresh=True, quiet=events.quiet)
                break
    finally:
        sink.close()
        if part.is_file() and part.stat().st_size == 0:
            part.unlink()  # nothing to resume from: leave no empty part behind
    raise DownloadError(f"{name}: no mirror delivered it intact:\n  " + "\n  ".join(failures))


def fetch_archive(
    name: str,
    sources: Sequence[str | os.PathLike[str] | Source],
    dest: str | os.PathLike[str],
    md5: str,
    *,
    retries: int = DEFAULT_RETRIES,
    timeout: float = DEFAULT_TIMEOUT,
    backoff: float = DEFAULT_BACKOFF,
    quiet: bool = False,
) -> Path:
    """Fetch archive ``name`` into folder ``dest`` from the first of ``sources`` that delivers
    it with md5 ``md5``, and return its path (see the module docstring).

    ``sources`` are mirror strings (http(s)://, ftp://, file:// or a folder; see
    :mod:`~sen12ms_plugins.acquisition.sources`) or :class:`~.sources.Source` objects.
    A file already at ``dest/name`` whose md5 matches is returned as it is; one that does
    not match is moved aside to ``<name>.rejected`` first.  Raises
    :class:`~sen12ms_plugins.errors.DownloadError` when no source delivered it intact,
    :class:`~sen12ms_plugins.errors.DiskFullError` when it cannot fit.
    """
    md5 = md5.strip().lower()
    if len(md5) != 32 or any(c not in "0123456789abcdef" for c in md5):
        raise ValueError(f"md5 must be 32 hex digits, got {md5!r}")
    if not name or "/" in name or os.sep in name or name in (".", ".."):
        raise ValueError(f"{name!r} is not a file name")
    made = [make_source(s) for s in sources]
    if not made:
        raise ValueError("sources is empty: give at least one")
    policy = RetryPolicy(retries, timeout, backoff)
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name
    if final.is_file():
        if md5_file(final).hexdigest() == md5:
            return final
        os.replace(final, rejected_path(folder, name))
    fetch_to_folder(name, md5, made, folder, ConsoleEvents(folder, quiet=quiet), policy)
    return final
