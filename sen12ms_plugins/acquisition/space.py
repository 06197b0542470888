"""Free space for the transfers of one run, counted together.

Before a transfer whose size is known starts writing, :meth:`SpaceBook.reserve` checks
that the bytes it still needs fit beside what every other transfer of the run still
needs (each one's reservation shrinks as its bytes land); four parallel 60 GB
transfers on a disk with 100 GB free are refused before they start, not after hours.

A streamed archive (``download --stream``) never sits on disk; what lands there is its
extracted content, which is larger.  :func:`extracted_estimate` estimates it from the
archive's size with a factor per sensor (:data:`EXTRACTED_FACTOR`).
"""

from __future__ import annotations

import math
import shutil
import threading
from pathlib import Path

from ..dataset import facts
from ..errors import DiskFullError

#: Bytes extracted per archive byte, an upper estimate per sensor.  s1 and s2: measured on
#: the real SEN12MS-CR patches of /work/shared/reference/real (same processing chain as
#: SEN12MS), which gzip (level 6) shrinks 1.16x (s1) and 1.44x (s2); rounded up with a
#: margin.  lc: no real file is available; MODIS 500 m cells on the 10 m grid are blocks of
#: about 50 x 50 equal pixels, and such a model of 4-band uint16 patches shrinks about 110x,
#: so 120.  A streamed archive whose content turns out larger still ends cleanly: "disk
#: full while extracting …", its temporary folder deleted.
EXTRACTED_FACTOR = {"s1": 1.5, "s2": 2.0, "lc": 120.0}


def extracted_estimate(name: str, archive_bytes: int) -> int:
    """Bytes the extracted content of archive ``name`` (``archive_bytes`` long) may take."""
    _, sensor = facts.parse_archive_name(name)
    return math.ceil(archive_bytes * EXTRACTED_FACTOR[sensor])


class SpaceBook:
    """The bytes each transfer of a run still needs in ``folder`` (see the module docstring)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._left: dict[str, int] = {}
        self._lock = threading.Lock()

    def reserve(self, name: str, nbytes: int, what: str = "") -> None:
        """Check that ``nbytes`` more for ``name`` fit beside the other reservations, then hold them
        (replacing an earlier reservation of ``name``).  Raises DiskFullError when they do not fit."""
        with self._lock:
            others = {n: b for n, b in self._left.items() if n != name and b > 0}
            free = shutil.disk_usage(self.folder).free
            if nbytes + sum(others.values()) > free:
                detail = f" ({what})" if what else ""
                besides = (f" besides {sum(others.values()):,} for {len(others)} other transfer(s) under way"
                           if others else "")
                raise DiskFullError(f"{self.folder}: not enough free space for {name}: {nbytes:,} more bytes "
                                    f"needed{detail}{besides}, {free:,} free")
            self._left[name] = nbytes

    def consumed(self, name: str, nbytes: int) -> None:
        """``nbytes`` of ``name``'s reservation landed on disk."""
        with self._lock:
            if name in self._left:
                self._left[name] = max(0, self._left[name] - nbytes)

    def release(self, name: str) -> None:
        """``name`` needs no more room (done, failed or restarting)."""
        with self._lock:
            self._left.pop(name, None)
