"""Download the SEN12MS archives: resumable, checksummed, parallel, from mirrors in order; and what a root was asked for.

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
Dry run (``dry_run=True``)
    Changes nothing, in the root or elsewhere: says what is there and what would be
    fetched, with sizes asked from the first mirror.
What was asked for (:class:`Selection`)
    A download that is not a dry run records its request (``selection.json`` in the root's
    bookkeeping) before it transfers anything: the archive names, and the seasons and
    sensors as given (None for "all").  The ecosystem adapters read it
    (:func:`require_ready`) so that a partial download made on purpose is used as it is,
    while an interrupted one is recognised as unfinished:

    * the root is *unfinished* when an archive of the recorded request is not extracted
      (its extraction marker is missing or stale);
    * archives extracted by earlier requests stay part of the root (``--seasons spring``,
      then ``--seasons fall`` gives both seasons);
    * a root with extraction markers but no record (downloaded before the record existed)
      counts as a request for all 12 archives;
    * a root without any of the downloader's bookkeeping (extracted by hand, torchgeo's
      folder, the project's sample) has no request: it is used as it is.
Ready for an adapter
    The adapters (TFDS, Hugging Face) never download unless asked (``download=True``).
    Without it, :func:`require_ready` fails at once, before anything is created, when the
    root does not exist or is not a folder, holds no complete triplet (nor DFC2020 patch),
    or holds an unfinished download; each error is one line naming the root, what is
    wrong and the command that fixes it.  With ``download=True`` the adapter calls
    :func:`fetch_missing`, which completes the recorded request (all 12 archives when
    there is none), saying how much that is first, and touches no network when nothing
    is missing.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..console import Progress, write_message
from ..dataset import facts
from ..dataset.index import Index, build_index
from ..dataset.root import resolve_root
from ..errors import (
    BadArchiveError,
    ChecksumMismatchError,
    DownloadCancelled,
    DownloadError,
    RootError,
    SEN12MSError,
    StreamAborted,
    TransferError,
)
from ..fsutil import make_writable_dir
from . import checksums as checksums_mod
from .bookkeeping import Bookkeeping, RecordFile, utc_now
from .checksums import ChecksumSpec, md5_file
from .extract import StreamSink, commit_archive, extract_archive, extracted_estimate, recover_stale_temps
from .fetch import ConsoleEvents, fetch_to_folder, move_aside, part_path
from .reports import ArchiveResult, ArchiveStatus, DownloadReport
from .sources import DEFAULT_TIMEOUT, OFFICIAL_MIRRORS, Source, make_source
from .transfer import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRIES,
    RetryPolicy,
    SourceReader,
    content_problem,
    expected_magic,
)

DEFAULT_JOBS = 4

#: A mirror string or path, or several in the order they are tried.
Mirrors = str | os.PathLike[str] | Sequence[str | os.PathLike[str] | Source]


# --- what is asked for ------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Selection:
    """A recorded request: ``archives`` in the order the download takes them; ``seasons`` and
    ``sensors`` as the user chose them (short season names, sensor names), None meaning all."""

    archives: tuple[str, ...]
    seasons: tuple[str, ...] | None = None
    sensors: tuple[str, ...] | None = None

    @classmethod
    def of(cls, names: Sequence[str], seasons: str | Iterable[str] | None,
           sensors: str | Iterable[str] | None) -> Selection:
        """The request of a download of ``names``, chosen by ``seasons`` x ``sensors`` (as given to it)."""
        season_list, sensor_list = _split(seasons), _split(sensors)
        chosen = None if season_list is None else {facts.season_from_short(s) for s in season_list}
        return cls(tuple(names),
                   None if chosen is None else tuple(facts.SEASON_SHORT[s] for s in facts.SEASONS if s in chosen),
                   None if sensor_list is None else tuple(s for s in facts.SENSORS if s in set(sensor_list)))

    @property
    def is_everything(self) -> bool:
        return set(self.archives) == set(facts.ARCHIVE_MD5)

    def command(self, root: str | os.PathLike[str]) -> str:
        """The command line that downloads and extracts exactly this request into ``root``."""
        words = ["sen12ms", "download", "--root", os.fspath(root)]
        if self.seasons is not None:
            words += ["--seasons", ",".join(self.seasons)]
        if self.sensors is not None:
            words += ["--sensors", ",".join(self.sensors)]
        return shlex.join([*words, "--extract"])

    def describe(self) -> str:
        """How much this is, e.g. ``all 12 archives, about 510 GB``; archive sizes are not
        published, so a part is given by its archives and the approximate total."""
        total = f"about {facts.TOTAL_GB_APPROX} GB"
        if self.is_everything:
            return f"all {len(facts.ARCHIVE_MD5)} archives, {total}"
        return (f"{len(self.archives)} of the {len(facts.ARCHIVE_MD5)} archives ({', '.join(self.archives)}); "
                f"archive sizes are not published: all {len(facts.ARCHIVE_MD5)} are {total}")

    def record(self, books: Bookkeeping) -> None:
        books.record(RecordFile.SELECTION).write({
            "archives": list(self.archives), "seasons": None if self.seasons is None else list(self.seasons),
            "sensors": None if self.sensors is None else list(self.sensors), "recorded": utc_now()})

    @classmethod
    def recorded(cls, books: Bookkeeping) -> Selection | None:
        """The recorded request; :data:`EVERYTHING` for a root with extraction markers but no
        record; None for a root without the downloader's bookkeeping."""
        fields = books.record(RecordFile.SELECTION).read()
        if fields is not None:
            archives = tuple(dict.fromkeys(n for n in fields.get("archives") or () if n in facts.ARCHIVE_MD5))
            seasons, sensors = fields.get("seasons"), fields.get("sensors")
            if archives:
                return cls(archives, None if seasons is None else tuple(seasons),
                           None if sensors is None else tuple(sensors))
        if any(name in facts.ARCHIVE_MD5 for name in books.markers()):
            return EVERYTHING
        return None

    def not_extracted(self, books: Bookkeeping) -> list[str]:
        """The archives of this request without an extraction marker, or whose marker names a folder that is gone."""
        return [name for name in self.archives if not books.is_extracted(name, (books.marker(name) or {}).get("md5"))]


#: What a root without a record but with the downloader's extraction markers was asked for.
EVERYTHING = Selection(tuple(facts.ARCHIVE_MD5))


# --- a dry run --------------------------------------------------------------------------------------


def plan_download(books: Bookkeeping, names: list[str], sums: checksums_mod.Checksums, sources: list[Source], *,
                  timeout: float, jobs: int) -> list[ArchiveResult]:
    """One result per archive saying what a run would do; sizes are asked from the first mirror."""
    results = [_state(books, name, sums.md5[name]) for name in names]

    def probe(result: ArchiveResult) -> None:
        try:
            with sources[0].open(result.name, 0, timeout=timeout) as transfer:
                first = bytearray(512)
                n = transfer.readinto(memoryview(first))
                problem = content_problem(expected_magic(result.name), transfer.start, transfer.content_type,
                                          bytes(first[:n]), transfer.total)
                if problem is not None:  # a page's length is not the archive's size
                    raise TransferError(transfer.url, problem, retryable=False)
                result.size = transfer.total
            result.source = sources[0].url_of(result.name)
        except TransferError as exc:
            result.source = f"size unknown: {exc}"
        if result.size is None:
            known = books.remembered_size(result.name, sums.md5[result.name])
            if known is not None:
                result.size = known.size

    todo = [r for r in results if r.status in (ArchiveStatus.WOULD_FETCH, ArchiveStatus.WOULD_RESUME)]
    if todo:
        with ThreadPoolExecutor(min(jobs, len(todo))) as pool:
            list(pool.map(probe, todo))
    return results


def _state(books: Bookkeeping, name: str, md5: str) -> ArchiveResult:
    result = ArchiveResult(name, ArchiveStatus.WOULD_FETCH)
    final, part = books.root / name, part_path(books.root, name)
    if books.is_extracted(name, md5):
        result.status, result.extracted = ArchiveStatus.ALREADY_EXTRACTED, True
        if final.is_file():  # kept after extraction (no --delete-archives)
            result.have = result.size = final.stat().st_size
    elif final.is_file():
        result.have = result.size = final.stat().st_size
        known = books.remembered_md5(name)
        if known is None:
            result.status = ArchiveStatus.PRESENT_UNVERIFIED
        elif known == md5:
            result.status = ArchiveStatus.PRESENT
        else:
            result.error = f"{name}: present but its md5 {known} is not {md5}: it would be moved aside"
    elif part.is_file():
        result.have = part.stat().st_size
        result.status = ArchiveStatus.WOULD_RESUME
    return result


# --- a run ------------------------------------------------------------------------------------------

class _Run(ConsoleEvents):
    """State shared by the worker threads of one :func:`download` call (it is their
    :class:`~.transfer.TransferEvents`: messages, the total progress bar, free space counted
    across them, Ctrl-C); messages are said as :class:`~.fetch.ConsoleEvents` says them."""

    def __init__(self, books: Bookkeeping, sources: list[Source], sums: checksums_mod.Checksums, policy: RetryPolicy,
                 *, extract: bool, delete_archives: bool, stream: bool, quiet: bool, total_bar: Progress):
        super().__init__(books.root, quiet=quiet)
        self.books, self.root, self.sources, self.sums, self.policy = books, books.root, sources, sums, policy
        self.extract, self.delete_archives, self.stream = extract, delete_archives, stream
        self.total_bar = total_bar
        self.sizes = books.sizes(sums.md5)
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
        if self.books.is_extracted(name, md5):
            result.status, result.extracted, result.md5 = ArchiveStatus.ALREADY_EXTRACTED, True, md5
            if self.delete_archives and final.is_file():
                final.unlink()
                self.books.forget_md5(name)
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
            outcome = extract_archive(self.books, name, md5, delete_archive=self.delete_archives, quiet=self.quiet)
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
        actual = self.books.remembered_md5(name, st)
        if actual is None:
            with Progress(st.st_size, f"md5 {name}", unit="B", quiet=self.quiet) as bar:
                actual = md5_file(path, bar.update).hexdigest()
            self.books.remember_md5(name, actual, st)
        if actual == md5:
            self.sizes.verified(name, st.st_size, str(path))
            return True
        rejected = move_aside(path, self.root, name)
        self.books.forget_md5(name)
        self.say(f"{name}: md5 mismatch: expected {md5}, got {actual}; moved aside to {rejected}, fetching it again")
        return False

    def _fetch_file(self, name: str, md5: str, result: ArchiveResult) -> None:
        source = fetch_to_folder(name, md5, self.sources, self.root, self, self.policy, self._fetched_counter(result),
                                 sizes=self.sizes)
        final = self.root / name
        self.books.remember_md5(name, md5)
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
            commit_archive(self.books, staged, md5)
            self.sizes.verified(name, sink.size, url)
            result.status, result.md5, result.extracted, result.size = ArchiveStatus.STREAMED, actual, True, sink.size
            result.source, result.skipped, result.skipped_total = url, staged.skips.listed, staged.skips.total
            self.say(f"{name}: streamed and extracted {len(staged.files):,} files"
                     + (f", skipped {staged.skips.total:,} members that are not patches" if staged.skips.total else ""))
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
    books = Bookkeeping(root)
    sums = checksums_mod.for_root(books, checksums, timeout=timeout)
    sums.require(names)
    if dry_run:
        results = plan_download(books, names, sums, sources, timeout=min(timeout, 10.0), jobs=jobs)
        return DownloadReport(root, results, dry_run=True, seconds=time.monotonic() - started,
                              mirrors=[s.display for s in sources])
    with books.lock("sen12ms download"):
        checksums_mod.record(books, sums, names)
        Selection.of(names, seasons, sensors).record(books)  # what the adapters build from
        with Progress(None, "total", unit="B", quiet=quiet) as total_bar:
            run = _Run(books, sources, sums, policy, extract=extract, delete_archives=delete_archives, stream=stream,
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


# --- ready for an adapter -----------------------------------------------------------------------------


def require_ready(root: str | os.PathLike[str], *, opt_in: str) -> Index:
    """The index of ``root`` when an adapter can build from it; else :class:`RootError`
    (the module docstring says when).  ``opt_in`` completes the message with the adapter's
    way to download, e.g. ``or pass download=True``."""
    root = Path(root)
    how = f"`{EVERYTHING.command(root)}` ({EVERYTHING.describe()}), {opt_in}"
    if not root.exists():
        raise RootError(f"{root}: SEN12MS root does not exist; to download SEN12MS into it run {how}")
    if not root.is_dir():
        raise RootError(f"{root}: SEN12MS root is not a folder")
    books = Bookkeeping(root)
    selection = Selection.recorded(books)
    if selection is not None:
        missing = selection.not_extracted(books)
        if missing:
            raise RootError(
                f"{root}: unfinished download: {len(missing)} of the {len(selection.archives)} archives recorded in "
                f"{books.record(RecordFile.SELECTION).path} are not extracted ({', '.join(missing)}); complete it with "
                f"`{selection.command(root)}`, {opt_in}")
    index = present_index(root)
    if not index.triplets and not index.dfc2020:  # DFC2020 alone makes a root too (its two splits)
        if selection is not None:
            raise RootError(f"{root}: the download recorded there (`{selection.command(root)}`) holds no complete "
                            f"triplet: a patch needs its {', '.join(facts.SENSORS)} files")
        raise RootError(f"{root}: holds no SEN12MS triplet (the {', '.join(facts.SENSORS)} files of a patch in "
                        f"<season>/<sensor>_<scene>/ folders); to download SEN12MS into it run {how}")
    return index


def fetch_missing(
    root: str | os.PathLike[str],
    *,
    mirrors: Mirrors | None = None,
    checksums: ChecksumSpec = None,
    quiet: bool = False,
) -> Index:
    """Download and extract what ``root`` lacks of its recorded request (all 12 archives when
    nothing was recorded and the root holds no triplet), then return its index.

    A tree not made by the downloader that holds triplets is used as it is.  How much is
    to come is printed first; when nothing is missing no mirror is contacted.
    """
    root = Path(root)
    books = Bookkeeping(root)
    selection = Selection.recorded(books)
    if selection is None:
        index = present_index(root) if root.is_dir() else None
        if index is not None and index.triplets:
            return index  # extracted by hand, torchgeo's folder, the sample: used as it is
        selection = EVERYTHING
    missing = selection.not_extracted(books)
    if missing:
        if not quiet:
            todo = "" if len(missing) == len(selection.archives) else \
                f"; {len(missing)} of them still to download or extract"
            write_message(f"sen12ms: downloading SEN12MS into {root}: {selection.describe()}{todo}")
        ensure_dataset(root, seasons=selection.seasons, sensors=selection.sensors, mirrors=mirrors,
                       checksums=checksums, quiet=quiet)
    return require_ready(root, opt_in="then try again")


def present_index(root: Path) -> Index:
    """The index of what ``root`` holds now, whatever it lacks (a download completes it); a
    missing folder, or one without any season (or DFC2020) folder, is not indexed (it may not be
    meant as a root at all) and holds nothing."""
    if any((root / folder).is_dir() for folder in facts.TOP_FOLDERS):
        return build_index(root)
    return Index(root=root, triplets=())
