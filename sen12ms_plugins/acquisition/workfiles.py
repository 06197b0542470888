"""Work files that acquisition keeps next to the archives of a root, and their names.

* ``<archive>.part``: an unfinished download, resumed by the next run;
* ``<archive>.rejected``: data that failed its md5 check, kept for inspection (safe to delete);
* ``.sen12ms-extracting-<archive>-*``: the temporary folder an extraction writes into
  before its scene folders are moved into place.
"""

from __future__ import annotations

from pathlib import Path

PART_SUFFIX = ".part"
REJECTED_SUFFIX = ".rejected"
TEMP_PREFIX = ".sen12ms-extracting-"


def part_path(root: Path, name: str) -> Path:
    """Where an unfinished download of archive ``name`` is kept."""
    return root / f"{name}{PART_SUFFIX}"


def rejected_path(root: Path, name: str) -> Path:
    """Where data of archive ``name`` that failed its md5 check is moved aside."""
    return root / f"{name}{REJECTED_SUFFIX}"


def temp_prefix(name: str) -> str:
    """The name prefix of the temporary extraction folders of archive ``name``."""
    return f"{TEMP_PREFIX}{name}-"
