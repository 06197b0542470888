"""Every exception the package raises on purpose, in one hierarchy under :class:`SEN12MSError`.

Each message names the file (and line), folder, URL or archive it is about.  The
tree, by layer::

    SEN12MSError
    ├── UsageError                      command-line arguments that make no sense together
    ├── MalformedLineError (ValueError) a line of a scene, patch or md5 list
    ├── MalformedNameError (ValueError) a file name that is not a SEN12MS patch name
    ├── RootError                       the dataset root
    │   ├── NoRootGivenError            no root passed and $SEN12MS_ROOT unset
    │   └── RootBusyError               another run is changing the root
    ├── RecordError                     a record of the bookkeeping this release cannot read
    ├── EmptySplitError                 a split without members in this root
    │   └── DFC2020NotAddedError        a DFC2020 split of a root that does not hold it
    ├── PatchFileError                  a patch file missing, unreadable or misshapen
    ├── UnsupportedLayoutError          a GeoTIFF layout the fast reader leaves to rasterio
    │   └── DamagedHeaderError          a TIFF header that contradicts itself or the file
    ├── TransferError                   one transfer from one mirror
    ├── UnknownChecksumError            an archive without a known md5
    ├── ChecksumMismatchError           an archive whose md5 is not the expected one
    ├── DownloadError                   archives no mirror delivered intact
    ├── DownloadCancelled               a download stopped on purpose (Ctrl-C)
    ├── StreamAborted                   the download feeding a streamed extraction stopped
    ├── ExtractError                    an archive that cannot be extracted
    │   ├── BadArchiveError             an archive whose bytes are not a valid SEN12MS tar.gz (or DFC2020 zip)
    │   │   └── UnsafeArchiveError      a dangerous member (outside its place, link, too large)
    │   └── DFC2020SourceError          DFC2020 zips or folders that cannot be added as given
    ├── DiskFullError                   the file system filled up
    ├── ExportError                     a Hugging Face export that cannot be written
    └── MissingExtraError (ImportError) an optional dependency that is not installed

The torchgeo adapter adds two, which subclass what torchgeo raises and so live beside it:
``UnknownSplitError`` (also an ``AssertionError``, which is what torchgeo's own class raises
for an unknown split) and ``SEN12MSNotFoundError`` (torchgeo's ``DatasetNotFoundError`` and a
:class:`RootError`, carrying the core's reason).

Two warnings (``UserWarning``), outside the tree: :class:`EmptySplitWarning`, given when a
writer of several splits leaves out the empty ones and carries on, and :class:`SmallSplitWarning`,
given when a datamodule's training split is smaller than one batch.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import MappingProxyType
from typing import Any, Final, Mapping


class SEN12MSError(Exception):
    """Base class of every error this package raises on purpose."""


class UsageError(SEN12MSError):
    """Raised by the command line for arguments that parse but make no sense together (exit code 2)."""


# --- Names and lists --------------------------------------------------------------------


class MalformedLineError(SEN12MSError, ValueError):
    """Raised when a line of a scene list, patch list or md5 manifest does not have the expected form."""

    def __init__(self, path: str | os.PathLike[str] | None, lineno: int | None, line: str, expected: str):
        self.path = None if path is None else os.fspath(path)
        self.lineno = lineno
        self.line = line
        where = self.path or "<input>"
        if lineno is not None:
            where = f"{where}:{lineno}"
        super().__init__(f"{where}: malformed line {line!r}; expected {expected}")


class MalformedNameError(SEN12MSError, ValueError):
    """Raised when a file name or patch id is not a SEN12MS one (``ids.parse_filename``, ``parse_patch_id``)."""


# --- The root and its splits ---------------------------------------------------------------


class RootError(SEN12MSError):
    """Raised when the dataset root (or another folder to write into) is missing, not a folder or not writable."""


class NoRootGivenError(RootError):
    """Raised when no root was passed and ``SEN12MS_ROOT`` is not set (a usage error on the command line)."""


class RootBusyError(RootError):
    """Raised when another process (or thread) holds the root's lock while downloading or extracting."""


class RecordError(SEN12MSError):
    """Raised when a record the package keeps (a root's ``.sen12ms/`` files, the source record of
    data a TFDS or Hugging Face builder prepared) is of another version or not a record at all; the message
    names the file.  It is never silently started afresh: what it remembers (verified md5s,
    extracted archives, a download's selection) would otherwise be lost or misread."""

    def __init__(self, path: str | os.PathLike[str], problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}; it was written by another release of sen12ms-plugins or changed "
                         "by hand: move it away to start that record afresh")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.path, self.problem)


class PreparedDataMismatchError(SEN12MSError):
    """Raised by the TFDS builder, before it serves or builds anything, when the data prepared in
    its ``data_dir`` is not what was asked for: prepared from another root, from the root's files
    before they changed, or by another version of the builder (or it says nothing of its root).
    The message names both sides and the call that prepares again; nothing is rebuilt unasked."""


class EmptySplitError(SEN12MSError):
    """Raised when a split asked for by name has no member in this root; the message says why."""


class DFC2020NotAddedError(EmptySplitError):
    """Raised when a DFC2020 split (``dfc2020_validation``, ``dfc2020_test``) is asked for in a
    root that holds none of its patches; the message says where the data is and that
    ``sen12ms add-dfc2020`` adds it."""


class EmptySplitWarning(UserWarning):
    """Given once when a writer of several splits (TFDS, Hugging Face, stats, a datamodule's fit)
    leaves out those without members in this root; the message names them, says why, and what
    is written instead."""


class SmallSplitWarning(UserWarning):
    """Given once per fit by torchgeo's ``SEN12MSDataModule`` (the plugin registered) when its
    training split holds fewer triplets than one batch (per process, in a distributed run):
    torchgeo drops the last incomplete training batch, so such a fit trains on nothing while
    Lightning reports it finished.  The message names the split, its size, the batch size and
    the largest batch size that trains."""


# --- Files -------------------------------------------------------------------------------


class PatchFileError(SEN12MSError):
    """Raised by the readers when a patch file is missing, unreadable or not shaped like a SEN12MS
    patch: ``<path>: <problem>``, the problem in the words ``verify --deep`` uses for the file.

    Made from one message alone, it is the error of a DataLoader worker that torch re-raises in
    the main process (``type(error)(message)``, the message being the worker's traceback, whose
    last line is the original error): the type is kept, and so are ``path`` and ``problem``,
    read back from that line."""

    def __init__(self, path: str | os.PathLike[str], problem: str | None = None):
        if problem is None:
            message = os.fspath(path)
            last = message.rstrip().rsplit("\n", 1)[-1]
            self.path, _, self.problem = last.split(": ", 1)[-1].partition(": ")
            super().__init__(message)
            return
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from (path, problem), so the error survives a trip between processes.
        return type(self), (self.path, self.problem)


class UnsupportedLayoutError(SEN12MSError):
    """Raised by the fast reader (:mod:`sen12ms_plugins.reading.fastread`) for a file whose layout
    it leaves to rasterio (compressed, tiled, big-endian …); the message is the reason, e.g.
    ``compressed (LZW)``.  The reader catches it, logs the reason once per process (warning) and
    reads the file with rasterio."""


class DamagedHeaderError(UnsupportedLayoutError):
    """Raised by the fast reader for a TIFF header that contradicts itself or the file: tags cut
    off or of an impossible type, strip tables of different lengths or not matching the image,
    strips beyond the end of the file.  The reader still lets rasterio try (GDAL repairs some
    such headers, and words the error for those it cannot read); ``verify --deep`` reports the
    file as damaged."""


# --- Acquisition ------------------------------------------------------------------------------


class TransferError(SEN12MSError):
    """Raised by a source when one transfer fails.  ``retryable`` is True when trying again may
    succeed (dropped connections, timeouts, 5xx), False when not (4xx, refused logins, missing files)."""

    def __init__(self, url: str, problem: str, *, retryable: bool):
        self.url = url
        self.problem = problem
        self.retryable = retryable
        super().__init__(f"{url}: {problem}")


class UnknownChecksumError(SEN12MSError):
    """Raised before any transfer when an archive has no known md5, so it could not be accepted."""


class ChecksumMismatchError(SEN12MSError):
    """Raised when an archive's md5 differs from the expected one (after download, or before extraction)."""

    def __init__(self, name: str, expected: str, actual: str, *, where: str = "", moved_to: str | None = None):
        self.name, self.expected, self.actual, self.moved_to = name, expected, actual, moved_to
        message = f"{name}{f' ({where})' if where else ''}: md5 mismatch: expected {expected}, got {actual}"
        if moved_to:
            message += f"; the bad file was moved aside to {moved_to}"
        super().__init__(message)


class DownloadError(SEN12MSError):
    """Raised by ``download`` when some archives could not be obtained from any mirror, after the
    others were tried; ``report`` says what happened to each."""

    def __init__(self, message: str, report: Any = None):
        #: The run's ``DownloadReport`` (:mod:`sen12ms_plugins.acquisition.reports`), when there was a run.
        self.report = report
        super().__init__(message)


class DownloadCancelled(SEN12MSError):
    """Raised inside the download workers when the run is interrupted (Ctrl-C); parts are kept."""


class StreamAborted(SEN12MSError):
    """Raised on the extraction side of a streamed download when the download feeding it stopped."""


class ExtractError(SEN12MSError):
    """Raised when an archive cannot be extracted (not a tar.gz, truncated, unwritable target);
    nothing was moved into place.  When several archives fail, ``errors`` holds each one's error."""

    errors: list[SEN12MSError]

    def __init__(self, message: str, errors: list[SEN12MSError] | None = None):
        self.errors = list(errors or [])
        super().__init__(message)


class BadArchiveError(ExtractError):
    """Raised when an archive's bytes are not a SEN12MS tar.gz that can be extracted (not gzip,
    truncated, corrupt, no patch in it); nothing was moved into place.  Whether the file or
    its transfer is at fault is for the md5 to tell: a download reads a streamed archive to
    its end to find out."""


class DFC2020SourceError(ExtractError):
    """Raised by ``add-dfc2020`` before anything is written when the folder given holds no
    DFC2020 zip or extracted folder, holds only some of a set's four (s1, s2, lc, dfc), or a
    source holds no patch; the message names what is missing and where it was looked for."""


class UnsafeArchiveError(BadArchiveError):
    """Raised when an archive holds a dangerous member: one that could write outside its place
    (absolute path, ``..``, link, device, another season's or sensor's folder) or that is larger
    than a patch can be; nothing of the archive is written."""

    def __init__(self, archive: str, member: str, problem: str, root: str | os.PathLike[str]):
        self.archive, self.member, self.problem = archive, member, problem
        super().__init__(f"{archive}: refusing to extract: member {member!r} {problem}; nothing was written to {root}")


class DiskFullError(SEN12MSError):
    """Raised when the file system fills up while downloading or extracting; nothing half-written is left."""


# --- Export ----------------------------------------------------------------------------------


class ExportError(SEN12MSError):
    """Raised by the Hugging Face export when its output directory is unusable or busy with another export."""


# --- Optional dependencies ----------------------------------------------------------------

#: The extra of ``pyproject.toml`` that installs each optional top-level module.
EXTRA_OF_MODULE: Final[Mapping[str, str]] = MappingProxyType({
    "torch": "torchgeo", "torchvision": "torchgeo", "torchgeo": "torchgeo", "lightning": "torchgeo",
    "tensorflow_datasets": "tfds", "tensorflow": "tfds", "dill": "tfds", "array_record": "tfds-data-source",
    "importlib_resources": "tfds-data-source", "apache_beam": "beam", "mlcroissant": "beam",
    "datasets": "hf", "pyarrow": "hf", "yaml": "hf",
    "matplotlib": "plot", "PIL": "plot",
})


class MissingExtraError(SEN12MSError, ImportError):
    """Raised when a feature needs an optional dependency that is not installed; the message
    names the pip extra that brings it (the command line prints it as one line, exit code 1)."""

    def __init__(self, module: str, needed_for: str):
        self.module = module
        self.extra = EXTRA_OF_MODULE.get(module.split(".")[0])
        install = f"pip install 'sen12ms-plugins[{self.extra}]'" if self.extra else f"pip install {module}"
        super().__init__(f"{needed_for} needs {module}, which is not installed: {install}", name=module)

    @classmethod
    def from_import_error(cls, exc: ImportError, needed_for: str) -> MissingExtraError | None:
        """The error for ``exc`` when it is an optional module of ours missing, else None
        (a broken installation is not a missing extra)."""
        name = (exc.name or "").split(".")[0]
        return cls(name, needed_for) if name in EXTRA_OF_MODULE else None

    @classmethod
    def require(cls, modules: tuple[str, ...], needed_for: str) -> None:
        """Raise for the first of ``modules`` that cannot be imported, without importing any
        (so a long job checks its extras before it starts)."""
        for module in modules:
            if module in sys.modules:
                if sys.modules[module] is None:  # import blocked, as ``python -X`` tools and tests do
                    raise cls(module, needed_for)
                continue
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                raise cls(module, needed_for)
