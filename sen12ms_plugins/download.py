"""Download the SEN12MS archives: resumable, checksummed, parallel, from mirrors in order.

Sources
    By default the official FTP endpoint, then the official HTTPS share
    (:data:`~sen12ms_plugins.transfer.OFFICIAL_MIRRORS`); ``mirrors=`` replaces them
    (http(s)://, ftp:// with credentials, file:// or a folder; see
    :mod:`sen12ms_plugins.transfer`).  Each archive is tried on each mirror in turn.
Integrity
    Every archive is accepted only against a known md5 (:mod:`sen12ms_plugins.checksums`).
    The md5 is computed while the bytes stream in, so a download in one go is never
    read twice; before resuming, the existing part is hashed first.  Data lives at
    ``<archive>.part`` until its md5 matched, then is renamed to the final name.  A
    mismatch moves the data aside to ``<archive>.rejected`` (never the final name); when
    the data had been resumed, it is fetched once more from zero first, since the
    earlier part may be the culprit.
Resume and retries
    An interrupted transfer continues where it stopped (HTTP ``Range``, FTP ``REST``); a
    re-run transfers nothing that is already complete and verified.  Dropped
    connections, timeouts and 5xx answers are retried with exponential backoff
    (``retries`` failures in a row without progress; progress resets the count).  4xx
    answers, refused logins and missing files fail at once (then the next mirror is
    tried).  A server that ignores the resume request sends the whole file: the part
    is discarded and the transfer restarts from zero, said once per mirror.
Streaming (``stream=True``)
    Each archive is extracted while it downloads (:func:`sen12ms_plugins.extract.stage`),
    so the archives never sit on disk.  The md5 is still computed over the stream and
    the extracted folders are moved into place only after it matched.  A dropped
    connection is resumed within the run (the decoder keeps its state); if the run
    itself dies, its temporary folder is deleted by the next run, which streams that
    archive again from the start.  Nothing that looks complete is ever left behind.
"""

from __future__ import annotations

import os
import queue
import shutil
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import checksums as checksums_mod
from . import facts, records
from .errors import SEN12MSError
from .extract import DISK_FULL_ERRNOS, DiskFullError, ExtractError, Staged, extract_archive, remove_stale_temps, stage
from .fsutil import make_writable_dir
from .hashing import ChecksumMismatchError, md5_file, new_md5
from .progress import Progress
from .root import resolve_root
from .transfer import DEFAULT_TIMEOUT, OFFICIAL_MIRRORS, Source, TransferError, make_source

DEFAULT_JOBS = 4
DEFAULT_RETRIES = 5
#: Seconds before the first retry; doubled at each further retry, at most MAX_BACKOFF.
DEFAULT_BACKOFF = 2.0
MAX_BACKOFF = 60.0
PART_SUFFIX = ".part"
REJECTED_SUFFIX = ".rejected"
_CHUNK = 1 << 20
_PIPE_DEPTH = 16  # chunks buffered between a stream download and its extraction


class DownloadError(SEN12MSError):
    """Some archives could not be downloaded; ``report`` says what happened to each."""

    def __init__(self, message: str, report: DownloadReport | None = None):
        self.report = report
        super().__init__(message)


class _Cancelled(Exception):
    """The run was interrupted (Ctrl-C); workers stop at the next chunk."""


def _split(values: str | Iterable[str] | None) -> list[str] | None:
    if values is None:
        return None
    items = values.split(",") if isinstance(values, str) else list(values)
    return [v.strip() for v in items if v.strip()]


def select_archives(seasons: str | Iterable[str] | None = None, sensors: str | Iterable[str] | None = None) -> list[str]:
    """Archive names for the chosen seasons (``spring`` or ``ROIs1158_spring``) and sensors
    (``s1``, ``s2``, ``lc``); None means all.  ValueError for unknown or empty choices."""
    season_list = _split(seasons)
    sensor_list = _split(sensors)
    chosen_seasons = list(facts.SEASONS) if season_list is None else [facts.season_from_short(s) for s in season_list]
    if sensor_list is None:
        chosen_sensors = list(facts.SENSORS)
    else:
        unknown = [s for s in sensor_list if s not in facts.SENSORS]
        if unknown:
            raise ValueError(f"unknown sensor(s) {', '.join(map(repr, unknown))}; expected among {', '.join(facts.SENSORS)}")
        chosen_sensors = sensor_list
    if not chosen_seasons or not chosen_sensors:
        raise ValueError("no archive selected: give at least one season and one sensor")
    return [facts.archive_name(season, sensor) for season in facts.SEASONS if season in chosen_seasons
            for sensor in facts.SENSORS if sensor in chosen_sensors]


@dataclass
class ArchiveResult:
    """What happened to one archive."""

    name: str
    #: downloaded, streamed, present (already there and verified), already extracted, failed;
    #: in a dry run: would fetch, would resume, present, present (not verified yet), already extracted.
    status: str = "pending"
    size: int | None = None  # bytes of the archive, when known
    have: int = 0  # bytes on disk before this run (archive or part)
    fetched: int = 0  # bytes transferred in this run
    source: str | None = None
    md5: str | None = None
    extracted: bool = False
    seconds: float = 0.0
    error: str | None = None


@dataclass
class DownloadReport:
    root: Path
    archives: list[ArchiveResult]
    dry_run: bool = False
    seconds: float = 0.0
    mirrors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(a.status != "failed" for a in self.archives)

    @property
    def problems(self) -> list[str]:
        return [a.error or f"{a.name}: failed" for a in self.archives if a.status == "failed"]

    @property
    def fetched(self) -> int:
        return sum(a.fetched for a in self.archives)

    def to_dict(self) -> dict:
        return {"root": str(self.root), "ok": self.ok, "dry_run": self.dry_run, "mirrors": self.mirrors,
                "seconds": round(self.seconds, 3), "archives": [asdict(a) for a in self.archives]}


# --- Sinks: where downloaded bytes go ------------------------------------------------------------


class _BackgroundMd5:
    """md5 in a thread of its own, so hashing overlaps with receiving and writing (md5 is
    the slowest of the three; hashlib releases the GIL while it hashes).  Buffers go
    round a small pool: one is filled from the network while others wait to be hashed."""

    def __init__(self, buffers: int = 8):
        self.md5 = new_md5()
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(buffers):
            self._free.put(bytearray(_CHUNK))
        self._work: queue.Queue = queue.Queue()
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
        self._work.put(None)
        self._thread.join()


class _PartSink:
    """``<archive>.part`` plus the md5 of everything in it.  An existing part is hashed first."""

    def __init__(self, path: Path, *, fresh: bool, quiet: bool):
        self.path = path
        if fresh:
            path.unlink(missing_ok=True)
        self.hasher = _BackgroundMd5()
        self.size = 0
        if path.is_file():
            size = path.stat().st_size
            with Progress(size, f"md5 {path.name} (resuming)", unit="B", quiet=quiet) as bar:
                md5_file(path, bar.update, self.hasher.md5)
            self.size = size
        self._f = open(path, "ab")

    def buffer(self) -> bytearray:
        return self.hasher.buffer()

    def release(self, buffer: bytearray) -> None:
        self.hasher.release(buffer)

    def write(self, buffer: bytearray, n: int) -> None:
        try:
            self._f.write(memoryview(buffer)[:n])
        except BaseException:
            self.hasher.release(buffer)
            raise
        self.hasher.feed(buffer, n)
        self.size += n

    def hexdigest(self) -> str:
        return self.hasher.hexdigest()

    def reset(self) -> None:
        self._f.seek(0)
        self._f.truncate()
        self.hasher.reset()
        self.size = 0

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()
            self.hasher.close()


class _PipeAborted(Exception):
    """The download feeding an extraction stopped; the extraction gives up."""


class _Pipe:
    """Bytes from a download thread to an extraction thread.  Bounded: the download waits
    when the extraction lags; each side learns promptly when the other gave up."""

    def __init__(self, depth: int = _PIPE_DEPTH):
        self._queue: queue.Queue = queue.Queue(depth)
        self._chunk = b""
        self._pos = 0
        self._eof = False
        self._aborted = False
        self._failed: BaseException | None = None

    def put(self, data: bytes | None) -> None:
        """Producer side; None marks the end."""
        while True:
            if self._failed is not None:
                raise self._failed
            try:
                self._queue.put(data, timeout=0.05)
                return
            except queue.Full:
                continue

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def abort(self) -> None:
        self._aborted = True
        self._drain()

    def consumer_failed(self, exc: BaseException) -> None:
        self._failed = exc
        self._drain()

    def read(self, size: int = -1) -> bytes:
        while self._pos >= len(self._chunk):
            if self._eof:
                return b""
            while True:
                if self._aborted:
                    raise _PipeAborted("the download stopped")
                try:
                    chunk = self._queue.get(timeout=0.05)
                    break
                except queue.Empty:
                    continue
            if chunk is None:
                self._eof = True
                return b""
            self._chunk, self._pos = chunk, 0
        if self._pos == 0 and (size < 0 or size >= len(self._chunk)):
            self._pos = len(self._chunk)
            return self._chunk
        end = len(self._chunk) if size < 0 else min(len(self._chunk), self._pos + size)
        data = self._chunk[self._pos:end]
        self._pos = end
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


class _StreamSink:
    """Feeds the download into an extraction running in another thread; nothing is kept on disk."""

    def __init__(self, root: Path, name: str):
        self.root, self.name = root, name
        self._buffer = bytearray(_CHUNK)
        self._start()

    def _start(self) -> None:
        self.hasher = new_md5()
        self.size = 0
        self.pipe = _Pipe()
        self.staged: Staged | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._consume, name=f"sen12ms-extract-{self.name}", daemon=True)
        self.thread.start()

    def _consume(self) -> None:
        try:
            self.staged = stage(self.pipe, self.root, self.name)
        except BaseException as exc:  # handed to the download thread
            self.error = exc
            self.pipe.consumer_failed(exc)

    def buffer(self) -> bytearray:
        return self._buffer

    def release(self, buffer: bytearray) -> None:
        pass

    def write(self, buffer: bytearray, n: int) -> None:
        data = bytes(memoryview(buffer)[:n])  # the pipe keeps it; the buffer is refilled
        self.hasher.update(data)
        self.pipe.put(data)
        self.size += n

    def hexdigest(self) -> str:
        return self.hasher.hexdigest()

    def reset(self) -> None:
        self.discard()
        self._start()

    def finish(self) -> Staged:
        """Signal the end, wait for the extraction; its error, if any, is raised here."""
        self.pipe.put(None)
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
        pass


# --- One run -----------------------------------------------------------------------------------


class _Run:
    """State shared by the worker threads of one :func:`download` call."""

    def __init__(self, root: Path, sources: list[Source], sums: checksums_mod.Checksums, *, extract: bool,
                 delete_archives: bool, stream: bool, quiet: bool, retries: int, timeout: float, backoff: float):
        self.root, self.sources, self.sums = root, sources, sums
        self.extract, self.delete_archives, self.stream = extract, delete_archives, stream
        self.quiet, self.retries, self.timeout, self.backoff = quiet, retries, timeout, backoff
        self.cancel = threading.Event()
        self._lock = threading.Lock()
        self._told: set[str] = set()
        self.total_bar: Progress | None = None
        self._expected_total = 0

    def say(self, message: str, *, once_key: str | None = None) -> None:
        if self.quiet:
            return
        with self._lock:
            if once_key is not None:
                if once_key in self._told:
                    return
                self._told.add(once_key)
            if sys.stderr.isatty():
                from tqdm import tqdm

                tqdm.write(message, file=sys.stderr)
            else:
                print(message, file=sys.stderr, flush=True)

    def _expect(self, nbytes: int) -> None:
        if self.total_bar is not None:
            with self._lock:
                self._expected_total += nbytes
                self.total_bar.set_total(self._expected_total)

    def _count(self, nbytes: int) -> None:
        if self.total_bar is not None:
            with self._lock:
                self.total_bar.update(nbytes)

    def _check_space(self, name: str, needed: int) -> None:
        free = shutil.disk_usage(self.root).free
        if needed > free:
            raise DiskFullError(f"{self.root}: not enough free space for {name}: {needed:,} more bytes needed, "
                                f"{free:,} free")

    # --- per archive

    def process(self, name: str) -> ArchiveResult:
        started = time.monotonic()
        result = ArchiveResult(name)
        try:
            self._process(name, result)
        except _Cancelled:
            result.status, result.error = "failed", f"{name}: interrupted"
        except SEN12MSError as exc:
            result.status, result.error = "failed", str(exc)
            self.say(f"{name}: FAILED: {exc}")
        except OSError as exc:  # e.g. the root is not writable
            result.status, result.error = "failed", f"{name}: {exc}"
            self.say(f"{name}: FAILED: {exc}")
        result.seconds = time.monotonic() - started
        return result

    def _process(self, name: str, result: ArchiveResult) -> None:
        md5 = self.sums.md5[name]
        final = self.root / name
        if records.is_extracted(self.root, name, md5):
            result.status, result.extracted, result.md5 = "already extracted", True, md5
            if self.delete_archives and final.is_file():
                final.unlink()
                records.forget_md5(self.root, name)
            return
        remove_stale_temps(self.root, name)  # left by a killed stream run (we hold the root lock)
        have_file = final.is_file()
        if have_file:
            result.have = result.size = final.stat().st_size
            if self._verify_present(name, md5):
                result.status, result.md5 = "present", md5
            else:
                have_file = False
        if not have_file:
            part = self.root / f"{name}{PART_SUFFIX}"
            if part.is_file():
                result.have = part.stat().st_size
            if self.stream and not part.is_file():
                self._stream(name, md5, result)
                return
            self._fetch_file(name, md5, result)
        if self.extract:
            extract_archive(self.root, name, md5, delete_archive=self.delete_archives, quiet=self.quiet)
            result.extracted = True

    def _verify_present(self, name: str, md5: str) -> bool:
        """Is the archive at its final name good?  A bad one is moved aside (then fetched again)."""
        path = self.root / name
        st = path.stat()
        actual = records.remembered_md5(self.root, name, st)
        if actual is None:
            with Progress(st.st_size, f"md5 {name}", unit="B", quiet=self.quiet) as bar:
                actual = md5_file(path, bar.update).hexdigest()
            records.remember_md5(self.root, name, actual, st)
        if actual == md5:
            return True
        rejected = self.root / f"{name}{REJECTED_SUFFIX}"
        os.replace(path, rejected)
        records.forget_md5(self.root, name)
        self.say(f"{name}: md5 mismatch: expected {md5}, got {actual}; moved aside to {rejected}, fetching it again")
        return False

    def _fetch_file(self, name: str, md5: str, result: ArchiveResult) -> None:
        part = self.root / f"{name}{PART_SUFFIX}"
        final = self.root / name
        rejected = self.root / f"{name}{REJECTED_SUFFIX}"
        failures: list[str] = []
        sink = _PartSink(part, fresh=False, quiet=self.quiet)  # one sink across mirrors: the part is hashed once
        try:
            for i, source in enumerate(self.sources):
                refetched = False
                while True:
                    try:
                        resumed_from = self._transfer(source, name, sink, result)
                    except TransferError as exc:
                        failures.append(str(exc))
                        if i + 1 < len(self.sources):
                            self.say(f"{name}: {exc}; trying the next mirror")
                        break
                    except OSError as exc:
                        if exc.errno in DISK_FULL_ERRNOS:
                            raise DiskFullError(f"{self.root}: disk full while downloading {name}; {part.name} "
                                                f"({sink.size:,} bytes) is kept: free space and run again to "
                                                "resume") from exc
                        raise
                    actual = sink.hexdigest()
                    if actual == md5:
                        sink.close()  # flushed before the rename
                        os.replace(part, final)
                        records.remember_md5(self.root, name, actual)
                        rejected.unlink(missing_ok=True)
                        result.status, result.md5, result.size = "downloaded", actual, final.stat().st_size
                        result.source = source.url_of(name)
                        return
                    if resumed_from and not refetched:
                        self.say(f"{name}: md5 mismatch after resuming at byte {resumed_from:,}; the earlier part "
                                 "may be bad: fetching it again from zero")
                        sink.reset()
                        refetched = True
                        continue
                    sink.close()
                    os.replace(part, rejected)
                    error = ChecksumMismatchError(name, md5, actual, where=f"from {source.url_of(name)}",
                                                  moved_to=str(rejected))
                    failures.append(str(error))
                    self.say(str(error))
                    sink = _PartSink(part, fresh=True, quiet=self.quiet)
                    break
        finally:
            sink.close()
            if part.is_file() and part.stat().st_size == 0:
                part.unlink()  # nothing to resume from: leave no empty part behind
        raise DownloadError(f"{name}: no mirror delivered it intact:\n  " + "\n  ".join(failures))

    def _stream(self, name: str, md5: str, result: ArchiveResult) -> None:
        failures: list[str] = []
        for source in self.sources:
            sink = _StreamSink(self.root, name)
            try:
                self._transfer(source, name, sink, result)
                staged = sink.finish()
            except (TransferError, ExtractError) as exc:  # unreachable, or bad data: the next mirror may do
                sink.discard()
                failures.append(str(exc) if isinstance(exc, TransferError) else f"{source.url_of(name)}: {exc}")
                continue
            except BaseException:
                sink.discard()
                raise
            actual = sink.hexdigest()
            if actual != md5:
                staged.discard()
                error = ChecksumMismatchError(name, md5, actual, where=f"streamed from {source.url_of(name)}; "
                                              "nothing was extracted")
                failures.append(str(error))
                self.say(str(error))
                continue
            staged.commit(md5)
            result.status, result.md5, result.extracted, result.size = "streamed", actual, True, sink.size
            result.source = source.url_of(name)
            self.say(f"{name}: streamed and extracted {staged.files:,} files")
            return
        raise DownloadError(f"{name}: no mirror delivered it intact:\n  " + "\n  ".join(failures))

    def _transfer(self, source: Source, name: str, sink, result: ArchiveResult) -> int:
        """Fill ``sink`` with ``name`` from ``source``, continuing from what it holds.  Returns the
        offset the kept data was resumed from (0 when every byte came in this call)."""
        have = resumed_from = sink.size
        failures = 0
        known_total: int | None = None
        bar: Progress | None = None
        try:
            while True:
                got = 0
                try:
                    with source.open(name, have, timeout=self.timeout) as transfer:
                        if transfer.start != have:
                            self.say(f"{source.display} cannot resume downloads (it ignores Range/REST): "
                                     "interrupted archives restart from zero", once_key=f"norange:{source.display}")
                            sink.reset()
                            have = resumed_from = 0
                        if transfer.total is not None:
                            if known_total is not None and transfer.total != known_total:
                                self.say(f"{name}: size changed on {source.display} "
                                         f"({known_total:,} -> {transfer.total:,} bytes): starting over")
                                sink.reset()
                                have = resumed_from = 0
                                known_total = transfer.total
                                continue
                            if known_total is None:
                                self._check_space(name, transfer.total - have)
                                self._expect(transfer.total - have)
                            known_total = transfer.total
                        if bar is None:
                            bar = Progress(known_total, name, unit="B", quiet=self.quiet)
                            bar.update(have)
                        while True:
                            buffer = sink.buffer()
                            try:
                                n = transfer.readinto(memoryview(buffer))
                            except BaseException:
                                sink.release(buffer)
                                raise
                            if not n:
                                sink.release(buffer)
                                break
                            if self.cancel.is_set():
                                sink.release(buffer)
                                raise _Cancelled
                            sink.write(buffer, n)
                            have += n
                            got += n
                            result.fetched += n
                            bar.update(n)
                            self._count(n)
                        transfer.finish()
                    if known_total is not None and have != known_total:
                        raise TransferError(source.url_of(name), f"ended at byte {have:,} of {known_total:,}",
                                            retryable=True)
                    return resumed_from
                except TransferError as exc:
                    if not exc.retryable:
                        raise
                    failures = 1 if got else failures + 1
                    if failures > self.retries:
                        raise TransferError(exc.url, f"{exc.problem} (gave up after {self.retries} retries)",
                                            retryable=False) from None
                    delay = min(self.backoff * 2 ** (failures - 1), MAX_BACKOFF)
                    self.say(f"{name}: {exc.problem}; retry {failures}/{self.retries} in {delay:.1f} s"
                             + (f", resuming at byte {have:,}" if have else ""))
                    if self.cancel.wait(delay):
                        raise _Cancelled from None
        finally:
            if bar is not None:
                bar.close()


# --- Public API ----------------------------------------------------------------------------------


def _sources(mirrors: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None) -> list[Source]:
    if mirrors is None:
        mirrors = OFFICIAL_MIRRORS
    elif isinstance(mirrors, (str, os.PathLike)):
        mirrors = [mirrors]
    sources = [make_source(m) for m in mirrors]
    if not sources:
        raise ValueError("mirrors is empty: give at least one, or None for the official sources")
    return sources


def _plan(root: Path, names: list[str], sums: checksums_mod.Checksums, sources: list[Source],
          timeout: float, jobs: int) -> list[ArchiveResult]:
    """What a run would do, without changing anything.  Sizes are asked from the first mirror."""
    results = []
    for name in names:
        md5 = sums.md5[name]
        result = ArchiveResult(name)
        final, part = root / name, root / f"{name}{PART_SUFFIX}"
        if not root.is_dir():  # nothing there yet (and no bookkeeping folder to create)
            result.status = "would fetch"
        elif records.is_extracted(root, name, md5):
            result.status, result.extracted = "already extracted", True
            if final.is_file():  # kept after extraction (no --delete-archives)
                result.have = result.size = final.stat().st_size
        elif final.is_file():
            result.have = result.size = final.stat().st_size
            known = records.remembered_md5(root, name)
            if known is None:
                result.status = "present (not verified yet)"
            elif known == md5:
                result.status = "present"
            else:
                result.status = "would fetch"
                result.error = f"{name}: present but its md5 {known} is not {md5}: it would be moved aside"
        elif part.is_file():
            result.have = part.stat().st_size
            result.status = "would resume"
        else:
            result.status = "would fetch"
        results.append(result)

    def _probe(result: ArchiveResult) -> None:
        try:
            with sources[0].open(result.name, 0, timeout=timeout) as transfer:
                result.size = transfer.total
            result.source = sources[0].url_of(result.name)
        except TransferError as exc:
            result.source = f"size unknown: {exc}"

    todo = [r for r in results if r.status in ("would fetch", "would resume")]
    if todo:
        with ThreadPoolExecutor(min(jobs, len(todo))) as pool:
            list(pool.map(_probe, todo))
    return results


def download(
    root: str | os.PathLike[str] | None,
    *,
    seasons: str | Iterable[str] | None = None,
    sensors: str | Iterable[str] | None = None,
    mirrors: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    checksums=None,
    jobs: int = DEFAULT_JOBS,
    extract: bool = False,
    delete_archives: bool = False,
    stream: bool = False,
    quiet: bool = False,
    dry_run: bool = False,
    retries: int = DEFAULT_RETRIES,
    timeout: float = DEFAULT_TIMEOUT,
    backoff: float = DEFAULT_BACKOFF,
) -> DownloadReport:
    """Fetch the SEN12MS archives into ``root`` (created if missing; default ``$SEN12MS_ROOT``).

    seasons, sensors
        Which archives (names such as ``"spring,fall"`` / ``["s2", "lc"]``); default all 12.
    mirrors
        Where from, tried in order (see :mod:`sen12ms_plugins.transfer`); default the
        official FTP endpoint, then the official HTTPS share.
    checksums
        A manifest path or URL in md5sum format, or a ``{name: md5}`` mapping, replacing
        the official md5s (e.g. for a mirror of the built-in sample).  An archive without
        a known md5 is refused before anything is transferred.
    jobs
        Archives transferred at once.
    extract, delete_archives
        Extract each archive once verified (:func:`sen12ms_plugins.extract.extract_archive`);
        then delete it.
    stream
        Extract while downloading; the archives are never written to disk (see the
        module docstring).
    dry_run
        Change nothing; report what is there and what would be fetched (sizes asked
        from the first mirror).
    retries, timeout, backoff
        Failures in a row tolerated per archive and mirror; seconds without data before a
        connection counts as stalled; seconds before the first retry (doubling).

    Returns a :class:`DownloadReport`; raises :class:`DownloadError` (with ``.report``)
    when an archive could not be obtained, after the others were tried.
    """
    names = select_archives(seasons, sensors)
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if retries < 0 or timeout <= 0 or backoff < 0:
        raise ValueError("retries and backoff must be >= 0 and timeout > 0")
    if delete_archives and not (extract or stream):
        raise ValueError("delete_archives needs extract=True (archives are deleted once extracted)")
    extract = extract or stream  # streaming means extracting, also for archives already on disk
    sources = _sources(mirrors)
    started = time.monotonic()
    root = resolve_root(root, must_exist=False)
    if not dry_run:
        make_writable_dir(root, "SEN12MS root")
    if root.is_dir():
        sums = checksums_mod.for_root(root, checksums, timeout=timeout)
    else:
        sums = checksums_mod.load_checksums(checksums, timeout=timeout)
    sums.require(names)
    if dry_run:
        results = _plan(root, names, sums, sources, min(timeout, 10.0), jobs)
        return DownloadReport(root, results, dry_run=True, seconds=time.monotonic() - started,
                              mirrors=[s.display for s in sources])
    run = _Run(root, sources, sums, extract=extract, delete_archives=delete_archives, stream=stream, quiet=quiet,
               retries=retries, timeout=timeout, backoff=backoff)
    with records.root_lock(root, "sen12ms download"):
        checksums_mod.record(root, sums, names)
        with Progress(None, "total", unit="B", quiet=quiet) as total_bar:
            run.total_bar = total_bar
            pool = ThreadPoolExecutor(min(jobs, len(names)), thread_name_prefix="sen12ms-download")
            try:
                results = list(pool.map(run.process, names))
            except BaseException:
                run.cancel.set()  # Ctrl-C: workers stop at their next chunk; parts are kept for resuming
                raise
            finally:
                pool.shutdown(wait=True)
    report = DownloadReport(root, results, seconds=time.monotonic() - started, mirrors=[s.display for s in sources])
    if not report.ok:
        raise DownloadError(f"{len(report.problems)} of {len(names)} archives failed:\n" + "\n".join(report.problems),
                            report)
    return report


def ensure_dataset(
    root: str | os.PathLike[str] | None,
    *,
    mirrors: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    checksums=None,
    seasons: str | Iterable[str] | None = None,
    sensors: str | Iterable[str] | None = None,
    quiet: bool = False,
    stream: bool = False,
    delete_archives: bool = False,
    jobs: int = DEFAULT_JOBS,
):
    """Make sure ``root`` holds the extracted tree, then return its :class:`~sen12ms_plugins.index.Index`.

    Archives already extracted are skipped without any network access; archives present
    are verified (instantly when remembered) and extracted; missing ones are downloaded
    first (see :func:`download`).  This is what the ecosystem adapters call when a user
    asks them to download.
    """
    from .index import build_index

    report = download(root, seasons=seasons, sensors=sensors, mirrors=mirrors, checksums=checksums, jobs=jobs,
                      extract=True, stream=stream, delete_archives=delete_archives, quiet=quiet)
    return build_index(report.root)
