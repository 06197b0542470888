"""One archive from a list of sources into a folder, checked against its md5: :func:`fetch_archive`.

>>> from sen12ms_plugins import fetch_archive
>>> path = fetch_archive(                                        # doctest: +SKIP
...     "ROIs1158_spring_lc.tar.gz",
...     ["https://mirror.example.org/sen12ms/", "ftp://m1474000:m1474000@dataserv.ub.tum.de/"],
...     "/data/sen12ms",
...     md5="6e2e8fa8b8cba77ddab49fd20ff5c37b",
... )

The sources are tried in order.  Bytes go to ``<name>.part`` and are hashed as they
arrive; the part is renamed to ``<name>`` only when its md5 matches (after an fsync).
What each transfer checks on its way (the first bytes, announced and remembered
sizes, ends without a size, resume with HTTP ``Range`` / FTP ``REST``, retries with
exponential backoff) is in :mod:`.transfer`; a failure that retrying cannot fix moves
on to the next source.  When the md5 of a resumed part does not match, the archive is
fetched once more from zero, since the earlier part may be the culprit; data that
still fails is moved aside to ``<name>.rejected`` (``.rejected.1``, … : an older one
is never replaced).  This is the building block of
:func:`~sen12ms_plugins.acquisition.download.download`, which adds the 12 archives in
parallel, remembered verifications and sizes, extraction and streaming.

Work files kept next to the archives:

* ``<archive>.part``: an unfinished download, resumed by the next run;
* ``<archive>.rejected``, ``<archive>.rejected.1``, ``.rejected.2`` …: data that failed its
  md5 check, kept for inspection (safe to delete); a new one never replaces an older one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from ..console import write_message
from ..errors import ChecksumMismatchError, DiskFullError, DownloadError, TransferError
from ..fsutil import DISK_FULL_ERRNOS
from .checksums import md5_file
from .sources import DEFAULT_TIMEOUT, Source, make_source
from .transfer import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRIES,
    MemorySizes,
    PartSink,
    RetryPolicy,
    SizeMemory,
    SourceReader,
    SpaceBook,
    TransferEvents,
)

PART_SUFFIX = ".part"
REJECTED_SUFFIX = ".rejected"


def part_path(root: Path, name: str) -> Path:
    """Where an unfinished download of archive ``name`` is kept."""
    return root / f"{name}{PART_SUFFIX}"


def _rejected_candidate(root: Path, name: str, number: int) -> Path:
    return root / (f"{name}{REJECTED_SUFFIX}" if number == 0 else f"{name}{REJECTED_SUFFIX}.{number}")


def rejected_paths(root: Path, name: str) -> list[Path]:
    """Every rejected copy of archive ``name`` in ``root``, oldest (lowest number) first."""
    pattern = re.compile(re.escape(f"{name}{REJECTED_SUFFIX}") + r"(?:\.(\d+))?")
    found = []
    for path in root.glob(f"{name}{REJECTED_SUFFIX}*"):
        m = pattern.fullmatch(path.name)
        if m is not None and path.is_file():
            found.append((int(m.group(1) or 0), path))
    return [path for _, path in sorted(found)]


def rejected_path(root: Path, name: str) -> Path:
    """The first free name for data of archive ``name`` that failed its md5 check."""
    number = 0
    while os.path.lexists(_rejected_candidate(root, name, number)):
        number += 1
    return _rejected_candidate(root, name, number)


def move_aside(path: Path, root: Path, name: str) -> Path:
    """Move ``path`` (bad data of archive ``name``) to the first free ``.rejected`` name, never
    replacing one that exists (also when another process takes a name at the same moment);
    returns where it went."""
    while True:
        target = rejected_path(root, name)
        try:
            os.link(path, target)  # fails with EEXIST instead of replacing, unlike rename
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            os.replace(path, target)  # no hard links here: the name was free a moment ago
            return target
        os.unlink(path)
        return target



class ConsoleEvents:
    """:class:`~.transfer.TransferEvents` for a transfer on its own: messages on stderr, room checked in ``folder``."""

    def __init__(self, folder: Path, *, quiet: bool = False):
        self.folder, self.quiet = folder, quiet
        self.cancel = threading.Event()
        self.space = SpaceBook(folder)
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

    def note(self, name: str, message: str) -> None:
        self.say(message)

    def will_transfer(self, name: str, nbytes: int) -> None:
        self.space.reserve(name, nbytes)

    def transferred(self, name: str, nbytes: int) -> None:
        self.space.consumed(name, nbytes)


@contextlib.contextmanager
def _full_disk_named(folder: Path, name: str, part: Path, sink: PartSink) -> Iterator[None]:
    """A full disk while writing ``part`` is a DiskFullError that says the part is kept to resume."""
    try:
        yield
    except OSError as exc:
        if exc.errno in DISK_FULL_ERRNOS:
            raise DiskFullError(f"{folder}: disk full while downloading {name} ({exc.strerror}); {part.name} "
                                f"({sink.size:,} bytes) is kept: free space and run again to resume") from exc
        raise


def fetch_to_folder(name: str, md5: str, sources: Sequence[Source], folder: Path, events: TransferEvents,
                    policy: RetryPolicy, on_bytes: Callable[[int], object] | None = None, *,
                    sizes: SizeMemory | None = None) -> Source:
    """Fetch ``name`` into ``folder`` from the first source that delivers it with this md5
    (the module docstring says how); returns that source.  ``sizes`` remembers archive
    sizes (default: for this call only).  Raises
    :class:`~sen12ms_plugins.errors.DownloadError` listing each source's failure,
    :class:`~sen12ms_plugins.errors.DiskFullError` when the disk fills up (the part is kept)."""
    part, final = part_path(folder, name), folder / name
    sizes = sizes if sizes is not None else MemorySizes()
    failures: list[str] = []
    sink = PartSink(part, fresh=False, quiet=events.quiet)  # one sink across sources: the part is hashed once
    try:
        for i, source in enumerate(sources):
            refetched = False
            while True:
                try:
                    with _full_disk_named(folder, name, part, sink):
                        resumed_from = SourceReader(source, name, sink, events, policy, md5=md5, sizes=sizes,
                                                    on_bytes=on_bytes).run()
                except TransferError as exc:
                    failures.append(str(exc))
                    if i + 1 < len(sources):
                        events.say(f"{name}: {exc}; trying the next mirror")
                    break
                actual = sink.hexdigest()
                if actual == md5:
                    with _full_disk_named(folder, name, part, sink):
                        sink.finish()  # durable before the rename
                    os.replace(part, final)
                    sizes.verified(name, sink.size, source.url_of(name))
                    for old in rejected_paths(folder, name):
                        old.unlink(missing_ok=True)  # a good copy arrived: the bad ones are not needed
                    return source
                if resumed_from and not refetched:
                    events.say(f"{name}: md5 mismatch after resuming at byte {resumed_from:,}; the earlier part "
                               "may be bad: fetching it again from zero")
                    sink.reset()
                    refetched = True
                    continue
                sink.close()
                rejected = move_aside(part, folder, name)
                sizes.forget(name)
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
        move_aside(final, folder, name)
    fetch_to_folder(name, md5, made, folder, ConsoleEvents(folder, quiet=quiet), policy)
    return final
