"""What a download, an extraction or a verification found: the statuses users see and the JSON reports carry."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class ArchiveStatus(StrEnum):
    """What happened to one archive in a download (or, in a dry run, what would)."""

    PENDING = "pending"
    DOWNLOADED = "downloaded"
    STREAMED = "streamed"  # extracted while it downloaded, never on disk
    PRESENT = "present"  # already there, md5 verified
    ALREADY_EXTRACTED = "already extracted"
    FAILED = "failed"
    # Dry run only.
    WOULD_FETCH = "would fetch"
    WOULD_RESUME = "would resume"
    PRESENT_UNVERIFIED = "present (not verified yet)"


@dataclass
class SkippedMember:
    """An archive member that was not extracted because it is not a patch (harmless: never written)."""

    member: str
    reason: str
    size: int = 0


#: Skipped members listed per archive in reports and extraction records; the count is always complete.
MAX_LISTED_SKIPS = 1000


@dataclass(kw_only=True)
class WithSkips:
    """What the report of one archive or source says of its members that are not patches."""

    #: Members not extracted (not patches), at most MAX_LISTED_SKIPS of skipped_total.
    skipped: list[SkippedMember] = field(default_factory=list)
    skipped_total: int = 0


@dataclass
class ArchiveResult(WithSkips):
    """What happened to one archive."""

    name: str
    status: ArchiveStatus = ArchiveStatus.PENDING
    size: int | None = None  # bytes of the archive, when known
    have: int = 0  # bytes on disk before this run (archive or part)
    fetched: int = 0  # bytes transferred in this run
    source: str | None = None
    md5: str | None = None
    extracted: bool = False
    seconds: float = 0.0
    error: str | None = None
    #: Things the user should know that did not fail the archive (a size that changed, a mirror that failed).
    notes: list[str] = field(default_factory=list)


@dataclass
class DownloadReport:
    """The outcome of :func:`~sen12ms_plugins.acquisition.download.download`, one result per archive."""

    root: Path
    archives: list[ArchiveResult]
    dry_run: bool = False
    seconds: float = 0.0
    mirrors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(a.status != ArchiveStatus.FAILED for a in self.archives)

    @property
    def problems(self) -> list[str]:
        return [a.error or f"{a.name}: failed" for a in self.archives if a.status == ArchiveStatus.FAILED]

    @property
    def fetched(self) -> int:
        return sum(a.fetched for a in self.archives)

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "ok": self.ok, "dry_run": self.dry_run, "mirrors": self.mirrors,
                "seconds": round(self.seconds, 3), "archives": [asdict(a) for a in self.archives]}


class ExtractStatus(StrEnum):
    """What happened to one archive in an extraction."""

    EXTRACTED = "extracted"
    ALREADY_EXTRACTED = "already extracted"
    ABSENT = "absent"  # not in the root (and not asked for by name)
    FAILED = "failed"


@dataclass
class ExtractOutcome(WithSkips):
    name: str
    status: ExtractStatus
    files: int = 0
    nbytes: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass
class ExtractReport:
    """The outcome of :func:`~sen12ms_plugins.acquisition.extract.extract_archives`."""

    root: Path
    outcomes: list[ExtractOutcome]

    @property
    def ok(self) -> bool:
        return all(o.status != ExtractStatus.FAILED for o in self.outcomes)

    @property
    def problems(self) -> list[str]:
        return [o.error or o.name for o in self.outcomes if o.status == ExtractStatus.FAILED]

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "ok": self.ok, "archives": [asdict(o) for o in self.outcomes]}


class CheckStatus(StrEnum):
    """What the check of one archive found."""

    OK = "ok"
    MISMATCH = "mismatch"
    MISSING = "missing"
    UNKNOWN_MD5 = "unknown md5"


@dataclass
class ArchiveCheck:
    name: str
    status: CheckStatus
    expected: str | None = None
    actual: str | None = None
    size: int | None = None
    remembered: bool = False  # md5 taken from the record of an earlier check, nothing read
    origin: str | None = None  # where the expected md5 comes from


@dataclass
class TreeCheck:
    triplets: int = 0
    per_season: dict[str, int] = field(default_factory=dict)
    splits: dict[str, dict[str, int]] = field(default_factory=dict)
    incomplete: int = 0
    missing: list[str] = field(default_factory=list)  # files a patch lacks (root-relative)
    orphans: list[str] = field(default_factory=list)  # files of incomplete patches
    strays: list[str] = field(default_factory=list)  # entries that are not SEN12MS patches
    compared: list[str] = field(default_factory=list)  # official figures that were compared
    deep: bool = False
    #: complete DFC2020 patches per set folder (empty when the root holds none)
    dfc2020: dict[str, int] = field(default_factory=dict)
    files_checked: int = 0
    bad_files: list[dict[str, str]] = field(default_factory=list)  # {"path", "problem"}


@dataclass
class VerificationReport:
    """What a verification found.  ``ok`` is True when ``problems`` is empty."""

    root: Path
    archives: list[ArchiveCheck] | None = None
    tree: TreeCheck | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def merge(self, other: VerificationReport) -> VerificationReport:
        if other.archives is not None:
            self.archives = (self.archives or []) + other.archives
        if other.tree is not None:
            self.tree = other.tree
        self.problems += other.problems
        self.notes += other.notes
        self.seconds += other.seconds
        return self

    def to_dict(self) -> dict:
        return {
            "root": str(self.root),
            "ok": self.ok,
            "problems": self.problems,
            "notes": self.notes,
            "archives": None if self.archives is None else [asdict(a) for a in self.archives],
            "tree": None if self.tree is None else asdict(self.tree),
            "seconds": round(self.seconds, 3),
        }


class AddStatus(StrEnum):
    """What ``add-dfc2020`` did with one source (a zip, or a folder extracted from one)."""

    ADDED = "added"
    ALREADY_ADDED = "already added"  # the same zip or folder (same key or md5) is in place


@dataclass
class SourceOutcome(WithSkips):
    """One DFC2020 source: the zip name it stands for, where it came from, what was done."""

    name: str  # the zip's official name, also for a folder extracted from it (s1_validation.zip)
    kind: str  # "zip" or "folder"
    path: str
    status: AddStatus
    files: int = 0
    nbytes: int = 0
    md5: str | None = None
    #: data types of its patches as found in their headers (e.g. ["float64"])
    dtypes: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class AddReport:
    """The outcome of :func:`~sen12ms_plugins.acquisition.dfc2020.add_dfc2020`."""

    root: Path
    source_dir: Path
    sources: list[SourceOutcome]
    #: complete patches per DFC2020 set folder after the add
    patches: dict[str, int] = field(default_factory=dict)
    #: things the user should know (a folder ignored for its zip, a count unlike the release's …)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "from": str(self.source_dir), "patches": self.patches, "notes": self.notes,
                "sources": [asdict(s) for s in self.sources]}
