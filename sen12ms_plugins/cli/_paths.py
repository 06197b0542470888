"""Output-path checks shared by the commands that write files (``stats``, ``map``)."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from ..fsutil import is_writable_dir


def check_writable(folder: Path, option: str) -> None:
    """Fail early (exit 2) when files cannot be created in ``folder`` or in the folders it would be made in."""
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{option}: {existing} is not a folder")
    if not is_writable_dir(existing):
        raise UsageError(f"{option}: cannot write into {existing}")
