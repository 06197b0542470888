"""Download the SEN12MS archives: resumable, checksummed, parallel, from mirrors in order.

Sources
    By default the official FTP endpoint, then the official HTTPS share
    (:data:`~sen12ms_plugins.acquisition.sources.OFFICIAL_MIRRORS`); ``mirrors=`` replaces them
    (http(s)://, ftp:// with credentials, file:// or a folder; see
    :mod:`sen12ms_plugins.acquisition.sources`).  Each archive is tried on each mirror in turn.
Integrity, resume and retries
    Every archive is accepted only against a known md5 (:mod:`.checksums`), and fetched
    by :func:`~.fetch.fetch_to_folder`: hashed as it arrives, kept at ``<archive>.part``
    until its md5 matched, resumed where it stopped, retried with backoff, moved aside
    to ``<archive>.rejected`` (numbered, never replaced) when bad; an HTML page or a size
    that cannot be the archive's is refused before anything is kept (:mod:`.transfer`).
    The size each server announces is remembered next to the md5 (:mod:`.records`).  A
    re-run transfers nothing that is already complete and verified: archives present
    are checked against the md5 remembered for them.
Room
    Before a transfer of known size starts, its remaining bytes are checked against the
    free space together with those every other transfer of the run still needs
    (:mod:`.space`); in stream mode the estimated extracted size counts instead.
Streaming (``stream=True``)
    Each archive is extracted while it downloads (:func:`.staging.stage`),
    so the archives never sit on disk.  The md5 is still computed over the stream and
    the extracted folders are moved into place only after it matched.  When the
    extraction refuses the archive (a dangerous member, not a tar.gz), the rest of the
    stream is still read and hashed: if the md5 matches, the archive itself is bad and
    the run fails with the refusal without fetching it again elsewhere; if not, its
    bytes were damaged on the way and the next mirror is tried.  A dropped connection
    is resumed within the run (the decoder keeps its state); if the run itself dies,
    its temporary folder is deleted by the next run, which streams that archive again
    from the start.  Nothing that looks complete is ever left behind.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..console import Progress
from ..dataset import facts
from ..dataset.index import Index, build_index
from ..dataset.root import resolve_root
from ..errors import (
    BadArchiveError,
    ChecksumMismatchError,
    DownloadCancelled,
    DownloadError,
    SEN12MSError,
    StreamAborted,
    TransferError,
)
from ..fsutil import make_writable_dir
from . import checksums as checksums_mod
from . import records
from .checksums import ChecksumSpec
from .extract import extract_archive
from .fetch import ConsoleEvents, fetch_to_folder
from .hashing import md5_file
from .plan import plan_download
from .reports import ArchiveResult, ArchiveStatus, DownloadReport
from .selection import record_selection
from .sinks import StreamSink
from .sources import DEFAULT_TIMEOUT, OFFICIAL_MIRRORS, Source, make_source
from .space import extracted_estimate
from .staging import recover_stale_temps
from .transfer import DEFAULT_BACKOFF, DEFAULT_RETRIES, RetryPolicy, RootSizes, SourceReader
from .workfiles import move_aside, part_path

DEFAULT_JOBS = 4

#: A mirror string or path, or several in the order they are tried.
Mirrors = str | os.PathLike[str] | Sequence[str | os.PathLike[str] | Source]


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


class _Run(ConsoleEvents):
    """State shared by the worker threads of one :func:`download` call (it is their
    :class:`~.transfer.TransferEvents`: messages, the total progress bar, free space counted
    across them, Ctrl-C); messages are said as :class:`~.fetch.ConsoleEvents` says them."""

    def __init__(self, root: Path, sources: list[Source], sums: checksums_mod.Checksums, policy: RetryPolicy, *,
                 extract: bool, delete_archives: bool, stream: bool, quiet: bool, total_bar: Progress):
        super().__init__(root, quiet=quiet)
        self.root, self.sources, self.sums, self.policy = root, sources, sums, policy
        self.extract, self.delete_archives, self.stream = extract, delete_archives, stream
        self.total_bar = total_bar
        self.sizes = RootSizes(root, sums.md5)
        self._results: dict[str, ArchiveResult] = {}
        self._expected: dict[str, int] = {}  # bytes of each archive this run expects to transfer
        self._arrived: dict[str, int] = {}

    # --- TransferEvents

    def note(self, name: str, message: str) -> None:
        self._results[name].notes.append(message)
        self.say(message)

    def will_transfer(self, name: str, nbytes: int) -> None:
        if self.stream:  # what lands on disk is the extracted content, not the archive
            self.space.reserve(name, extracted_estimate(name, nbytes),
                               f"its estimated extracted size, for {nbytes:,} bytes of archive still to come")
        else:
            self.space.reserve(name, nbytes)
        with self._lock:
            self._expected[name] = self._arrived.get(name, 0) + nbytes
            self.total_bar.set_total(sum(self._expected.values()))

    def transferred(self, name: str, nbytes: int) -> None:
        self.space.consumed(name, extracted_estimate(name, nbytes) if self.stream else nbytes)
        with self._lock:
            self._arrived[name] = self._arrived.get(name, 0) + nbytes
            self.total_bar.update(nbytes)

    # --- per archive

    def process(self, name: str) -> ArchiveResult:
        started = time.monotonic()
        result = self._results[name] = ArchiveResult(name)
        try:
            self._process(name, result)
        except DownloadCancelled:
            result.status, result.error = ArchiveStatus.FAILED, f"{name}: interrupted"
        except (SEN12MSError, OSError) as exc:  # OSError: e.g. the root is not writable
            result.status, result.error = ArchiveStatus.FAILED, str(exc) if isinstance(exc, SEN12MSError) else f"{name}: {exc}"
            self.say(f"{name}: FAILED: {exc}")
        finally:
            self.space.release(name)
        result.seconds = time.monotonic() - started
        return result

    def _process(self, name: str, result: ArchiveResult) -> None:
        md5 = self.sums.md5[name]
        final = self.root / name
        recover_stale_temps(self.root, name)  # left by a killed run (we hold the root lock)
        if records.is_extracted(self.root, name, md5):
            result.status, result.extracted, result.md5 = ArchiveStatus.ALREADY_EXTRACTED, True, md5
            if self.delete_archives and final.is_file():
                final.unlink()
                records.forget_md5(self.root, name)
            return
        have_file = final.is_file()
        if have_file:
            result.have = result.size = final.stat().st_size
            if self._verify_present(name, md5):
                result.status, result.md5 = ArchiveStatus.PRESENT, md5
            else:
                have_file = False
        if not have_file:
            part = part_path(self.root, name)
            if part.is_file():
                result.have = part.stat().st_size
            if self.stream and not part.is_file():
                self._stream(name, md5, result)
                return
            self._fetch_file(name, md5, result)
        if self.extract:
            outcome = extract_archive(self.root, name, md5, delete_archive=self.delete_archives, quiet=self.quiet)
            result.extracted, result.skipped, result.skipped_total = True, outcome.skipped, outcome.skipped_total

    @staticmethod
    def _fetched_counter(result: ArchiveResult) -> Callable[[int], None]:
        def on_bytes(n: int) -> None:
            result.fetched += n

        return on_bytes

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
            self.sizes.verified(name, st.st_size, str(path))
            return True
        rejected = move_aside(path, self.root, name)
        records.forget_md5(self.root, name)
        self.say(f"{name}: md5 mismatch: expected {md5}, got {actual}; moved aside to {rejected}, fetching it again")
        return False

    def _fetch_file(self, name: str, md5: str, result: ArchiveResult) -> None:
        source = fetch_to_folder(name, md5, self.sources, self.root, self, self.policy, self._fetched_counter(result),
                                 sizes=self.sizes)
        final = self.root / name
        records.remember_md5(self.root, name, md5)
        result.status, result.md5, result.size = ArchiveStatus.DOWNLOADED, md5, final.stat().st_size
        result.source = source.url_of(name)

    def _stream(self, name: str, md5: str, result: ArchiveResult) -> None:
        failures: list[str] = []
        for source in self.sources:
            url = source.url_of(name)
            sink = StreamSink(self.root, name, on_refused=lambda exc, url=url: self.say(
                f"{exc}; reading the rest from {url} anyway: its md5 tells whether the archive or its transfer is bad"))
            try:
                try:
                    SourceReader(source, name, sink, self, self.policy, md5=md5, sizes=self.sizes,
                                 on_bytes=self._fetched_counter(result)).run()
                except StreamAborted:
                    pass  # the extraction stopped: finish() raises its reason
                staged = sink.finish()
            except TransferError as exc:  # unreachable, or gave up: the next mirror may do
                sink.discard()
                failures.append(str(exc) + (f" (after the extraction refused it: {sink.error})" if sink.refused else ""))
                continue
            except BadArchiveError as exc:
                sink.discard()
                actual = sink.hexdigest()
                if actual == md5:  # the bytes are the archive's: another mirror would send the same
                    self.sizes.verified(name, sink.size, url)
                    raise DownloadError("\n  ".join([f"{exc} (streamed from {url}; its md5 matches {md5}: the archive "
                                                     "itself is bad, so no other mirror was tried)", *failures])) from None
                self.sizes.forget(name)
                failures.append(f"{url}: {exc}; its md5 {actual} is not {md5}: the bytes were damaged on the way")
                self.say(failures[-1])
                continue
            except BaseException:
                sink.discard()
                raise
            actual = sink.hexdigest()
            if actual != md5:
                staged.discard()
                self.sizes.forget(name)
                error = ChecksumMismatchError(name, md5, actual, where=f"streamed from {url}; nothing was extracted")
                failures.append(str(error))
                self.say(str(error))
                continue
            staged.commit(md5)
            self.sizes.verified(name, sink.size, url)
            result.status, result.md5, result.extracted, result.size = ArchiveStatus.STREAMED, actual, True, sink.size
            result.source, result.skipped, result.skipped_total = url, staged.skipped, staged.skipped_total
            self.say(f"{name}: streamed and extracted {staged.files:,} files"
                     + (f", skipped {staged.skipped_total:,} members that are not patches" if staged.skipped_total else ""))
            return
        raise DownloadError(f"{name}: no mirror delivered it intact:\n  " + "\n  ".join(failures))


def _sources(mirrors: Mirrors | None) -> list[Source]:
    if mirrors is None:
        mirrors = OFFICIAL_MIRRORS
    elif isinstance(mirrors, (str, os.PathLike)):
        mirrors = [mirrors]
    sources = [make_source(m) for m in mirrors]
    if not sources:
        raise ValueError("mirrors is empty: give at least one, or None for the official sources")
    return sources


def download(
    root: str | os.PathLike[str] | None,
    *,
    seasons: str | Iterable[str] | None = None,
    sensors: str | Iterable[str] | None = None,
    mirrors: Mirrors | None = None,
    checksums: ChecksumSpec = None,
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
        Where from, tried in order (see :mod:`sen12ms_plugins.acquisition.sources`); default the
        official FTP endpoint, then the official HTTPS share.
    checksums
        A manifest path or URL in md5sum format, or a ``{name: md5}`` mapping, replacing
        the official md5s (e.g. for a mirror of the built-in sample).  An archive without
        a known md5 is refused before anything is transferred.
    jobs
        Archives transferred at once.
    extract, delete_archives
        Extract each archive once verified (:func:`sen12ms_plugins.acquisition.extract.extract_archive`);
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
    policy = RetryPolicy(retries, timeout, backoff)
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
        results = plan_download(root, names, sums, sources, timeout=min(timeout, 10.0), jobs=jobs)
        return DownloadReport(root, results, dry_run=True, seconds=time.monotonic() - started,
                              mirrors=[s.display for s in sources])
    with records.root_lock(root, "sen12ms download"):
        checksums_mod.record(root, sums, names)
        record_selection(root, names, _split(seasons), _split(sensors))  # what the adapters build from
        with Progress(None, "total", unit="B", quiet=quiet) as total_bar:
            run = _Run(root, sources, sums, policy, extract=extract, delete_archives=delete_archives, stream=stream,
                       quiet=quiet, total_bar=total_bar)
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
    mirrors: Mirrors | None = None,
    checksums: ChecksumSpec = None,
    seasons: str | Iterable[str] | None = None,
    sensors: str | Iterable[str] | None = None,
    quiet: bool = False,
    stream: bool = False,
    delete_archives: bool = False,
    jobs: int = DEFAULT_JOBS,
) -> Index:
    """Make sure ``root`` holds the extracted tree, then return its :class:`~sen12ms_plugins.dataset.index.Index`.

    Archives already extracted are skipped without any network access; archives present
    are verified (instantly when remembered) and extracted; missing ones are downloaded
    first (see :func:`download`).  This is what the ecosystem adapters call when a user
    asks them to download.
    """
    report = download(root, seasons=seasons, sensors=sensors, mirrors=mirrors, checksums=checksums, jobs=jobs,
                      extract=True, stream=stream, delete_archives=delete_archives, quiet=quiet)
    return build_index(report.root)
