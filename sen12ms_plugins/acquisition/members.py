"""Which members a SEN12MS archive may hold, decided one member at a time from its tar header.

``ROIs<season>_<sensor>.tar.gz`` may hold only ``<season>/``,
``<season>/<sensor>_<scene>/`` folders and regular files inside those folders.
Anything else (absolute names, ``..``, links, devices, fifos, deeper paths, other
seasons or sensors) refuses the whole archive.  Stricter than tarfile's ``data``
filter (which :mod:`.staging` applies on top): nothing can land outside the
archive's own scene folders.
"""

from __future__ import annotations

import re
import tarfile

from ..dataset.ids import SCENE_DIR_RE


def member_parts(member: tarfile.TarInfo, season: str, sensor: str) -> tuple[str, ...] | str:
    """The member's path components, or a string saying why it is refused."""
    name = member.name
    if "\x00" in name or "\\" in name:
        return "has a NUL or backslash in its name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "has an absolute path"
    parts = name.split("/")
    while parts and parts[0] == ".":
        parts.pop(0)
    while parts and parts[-1] == "":
        parts.pop()
    if any(p in ("", ".", "..") for p in parts):
        return "has '..' or an empty component in its path"
    if member.issym():
        return f"is a symbolic link (to {member.linkname!r})"
    if member.islnk():
        return f"is a hard link (to {member.linkname!r})"
    if member.isdev():
        return "is a device or fifo"
    if not (member.isdir() or member.isreg()):
        return f"has unsupported type {member.type!r}"
    if not parts:
        return () if member.isdir() else "has an empty name"
    if parts[0] != season:
        return f"is outside the archive's season folder {season}/"
    scene_dir = SCENE_DIR_RE.fullmatch(parts[1]) if len(parts) >= 2 else None
    if len(parts) >= 2 and (scene_dir is None or scene_dir.group(1) != sensor):
        return f"is not in a {sensor}_<scene> folder"
    if len(parts) > 3 or (member.isreg() and len(parts) != 3):
        return f"is not laid out as {season}/{sensor}_<scene>/<file>"
    return tuple(parts)
