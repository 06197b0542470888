"""Helpers for tests that need special file-system conditions."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path


@contextlib.contextmanager
def read_only(path: Path):
    """Make ``path`` read-only for this process, also when running as root.

    As root, permission bits do not stop writes, so a read-only bind mount is used;
    otherwise the write bits are removed.  Restored afterwards.
    """
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(mode)
        return
    subprocess.run(["mount", "--bind", "-o", "ro", str(path), str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)
