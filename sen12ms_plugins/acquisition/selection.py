"""Which archives the user asked for in a root: ``selection.json`` in ``fsutil.meta_dir(root)``.

``sen12ms download --seasons ... --sensors ...`` (any :func:`~.download.download` that is
not a dry run) records its request before it transfers anything: the archive names, and
the seasons and sensors as given (None for "all").  The ecosystem adapters read it so
that a partial download made on purpose is used as it is, while an interrupted one is
recognised as unfinished:

* the root is *unfinished* when an archive of the recorded request is not extracted
  (its extraction marker, :func:`.records.is_extracted`, is missing or stale);
* archives extracted by earlier requests stay part of the root (``--seasons spring``,
  then ``--seasons fall`` gives both seasons);
* a root with extraction markers but no record (downloaded before the record existed)
  counts as a request for all 12 archives;
* a root without any of the downloader's bookkeeping (extracted by hand, torchgeo's
  folder, the project's sample) has no request: it is used as it is.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from ..dataset import facts
from ..fsutil import atomic_write_bytes, existing_meta_dir, meta_dir
from . import records

SELECTION_NAME = "selection.json"
_VERSION = 1


@dataclass(frozen=True)
class Selection:
    """A recorded request: ``archives`` in the order the download takes them; ``seasons`` and
    ``sensors`` as the user chose them (short season names, sensor names), None meaning all."""

    archives: tuple[str, ...]
    seasons: tuple[str, ...] | None = None
    sensors: tuple[str, ...] | None = None

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


#: What a root without a record but with the downloader's extraction markers was asked for.
EVERYTHING = Selection(tuple(facts.ARCHIVE_MD5))


def _short_seasons(seasons: list[str] | None) -> list[str] | None:
    if seasons is None:
        return None
    chosen = {facts.season_from_short(s) for s in seasons}
    return [facts.SEASON_SHORT[s] for s in facts.SEASONS if s in chosen]


def record_selection(root: str | os.PathLike[str], names: list[str], seasons: list[str] | None,
                     sensors: list[str] | None) -> None:
    """Remember that a download of ``names`` (chosen by ``seasons`` x ``sensors``) was started in ``root``."""
    record = {"version": _VERSION, "archives": list(names), "seasons": _short_seasons(seasons),
              "sensors": None if sensors is None else [s for s in facts.SENSORS if s in set(sensors)],
              "recorded": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
    atomic_write_bytes(meta_dir(root) / SELECTION_NAME, json.dumps(record, indent=1).encode())


def read_selection(root: str | os.PathLike[str]) -> Selection | None:
    """The recorded request; :data:`EVERYTHING` for a root with extraction markers but no
    record; None for a root without the downloader's bookkeeping (or that does not exist)."""
    root = Path(root)
    meta = existing_meta_dir(root) if root.is_dir() else None
    if meta is None:
        return None
    try:
        data = json.loads((meta / SELECTION_NAME).read_bytes())
        archives = tuple(dict.fromkeys(n for n in data["archives"] if n in facts.ARCHIVE_MD5))
        seasons, sensors = data["seasons"], data["sensors"]
        if data.get("version") == _VERSION and archives:
            return Selection(archives, None if seasons is None else tuple(seasons),
                             None if sensors is None else tuple(sensors))
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no record, or not one of ours
    markers = meta / records.EXTRACTED_DIRNAME
    if markers.is_dir() and any(records.read_marker(root, name) is not None for name in facts.ARCHIVE_MD5):
        return EVERYTHING
    return None


def not_extracted(root: str | os.PathLike[str], selection: Selection) -> list[str]:
    """The archives of ``selection`` without an extraction marker in ``root``, or whose
    marker names a folder that is gone."""
    missing = []
    for name in selection.archives:
        marker = records.read_marker(root, name)
        if marker is None or not records.is_extracted(root, name, marker.get("md5")):
            missing.append(name)
    return missing
