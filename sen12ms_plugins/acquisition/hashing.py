"""md5 of archives, and the error for an archive whose md5 is not the expected one.

hashlib releases the GIL while it hashes a large buffer, so files hash in parallel in
threads (``verify_archives``) and hashing overlaps with receiving (``download``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

#: Read size for hashing files: large enough that per-call overhead vanishes.
CHUNK = 4 << 20


def new_md5():
    # usedforsecurity=False keeps md5 available on FIPS-restricted OpenSSL builds.
    return hashlib.md5(usedforsecurity=False)


def md5_file(path: str | os.PathLike[str], progress: Callable[[int], object] | None = None, hasher=None):
    """Hash a file (or continue ``hasher`` with it); returns the hasher.  ``progress(n)`` gets byte counts."""
    hasher = hasher if hasher is not None else new_md5()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            hasher.update(view[:n])
            if progress is not None:
                progress(n)
    return hasher
