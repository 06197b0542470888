"""Work files that acquisition keeps next to the archives of a root, and their names.

* ``<archive>.part``: an unfinished download, resumed by the next run;
* ``<archive>.rejected``, ``<archive>.rejected.1``, ``.rejected.2`` …: data that failed its
  md5 check, kept for inspection (safe to delete); a new one never replaces an older one;
* ``.sen12ms-extracting-<archive>-*``: the temporary folder an extraction writes into
  before its scene folders are moved into place.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

PART_SUFFIX = ".part"
REJECTED_SUFFIX = ".rejected"
TEMP_PREFIX = ".sen12ms-extracting-"


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


def temp_prefix(name: str) -> str:
    """The name prefix of the temporary extraction folders of archive ``name``."""
    return f"{TEMP_PREFIX}{name}-"
