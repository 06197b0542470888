"""What to do with each member of a SEN12MS archive, decided from its tar header alone.

``ROIs<season>_<sensor>.tar.gz`` holds ``<season>/<sensor>_<scene>/`` folders with the
patches ``<season>_<sensor>_<scene>_p<patch>.tif`` in them.  Each member is

* **kept** when it is one of those folders or patches (``./`` and ``<season>/`` too);
* **skipped** (never written, listed in the report and the extraction record) when it is
  harmless but not a patch: a regular file or folder outside that layout, such as a
  ``README``, a macOS ``._*`` AppleDouble file or ``__MACOSX/`` folder, a deeper folder;
* **refused**, refusing the whole archive before anything of it is moved into place, when
  it is dangerous or says that the archive is not what its name claims: an absolute
  name, ``..``, an empty component, a NUL or backslash, a link, a device or fifo, any
  other special type, a folder or file of another season or another sensor (it would
  land in another archive's folders), or a patch larger than a patch of its sensor can
  be (:func:`patch_size_cap`).

Stricter than tarfile's ``data`` filter, which :mod:`.staging` applies on top.
"""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass
from enum import StrEnum

from ..dataset import facts
from ..dataset.ids import FILENAME_RE, SCENE_DIR_RE

#: Room for a patch's TIFF header, tags and strip tables beyond its pixels.  The real
#: files need a few KiB (256 strips: 2 KiB of offsets and counts); 1 MiB is generous.
HEADER_MARGIN = 1 << 20
_DTYPE_BITS_RE = re.compile(r"(\d+)$")


class MemberAction(StrEnum):
    """What extraction does with one archive member."""

    KEEP = "keep"
    SKIP = "skip"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Decision:
    action: MemberAction
    #: The member's path components (KEEP), else empty.
    parts: tuple[str, ...] = ()
    #: Why it is skipped or refused (a phrase that follows the member's name).
    reason: str = ""


def _dtype_bytes(dtype: str) -> int:
    m = _DTYPE_BITS_RE.search(dtype)
    if m is None:
        raise ValueError(f"cannot tell the size of data type {dtype!r}")
    return int(m.group(1)) // 8


def patch_size_cap(sensor: str) -> int:
    """The most bytes a patch file of ``sensor`` can hold: its bands (:data:`facts.BANDS`) at the
    widest accepted data type (:data:`facts.DTYPES`; a tuple lists several) over
    ``facts.PATCH_SIZE``² pixels, plus :data:`HEADER_MARGIN`."""
    dtypes = facts.DTYPES[sensor]
    widest = max(_dtype_bytes(d) for d in ((dtypes,) if isinstance(dtypes, str) else dtypes))
    return len(facts.BANDS[sensor]) * widest * facts.PATCH_SIZE**2 + HEADER_MARGIN


def _keep(parts: list[str]) -> Decision:
    return Decision(MemberAction.KEEP, tuple(parts))


def _skip(reason: str) -> Decision:
    return Decision(MemberAction.SKIP, reason=reason)


def _refuse(reason: str) -> Decision:
    return Decision(MemberAction.REFUSE, reason=reason)


def _unsafe(member: tarfile.TarInfo, name: str) -> str | None:
    if "\x00" in name or "\\" in name:
        return "has a NUL or backslash in its name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "has an absolute path"
    if member.issym():
        return f"is a symbolic link (to {member.linkname!r})"
    if member.islnk():
        return f"is a hard link (to {member.linkname!r})"
    if member.isdev():
        return "is a device or fifo"
    if not (member.isdir() or member.isreg()):
        return f"has unsupported type {member.type!r}"
    return None


def path_components(name: str) -> list[str] | None:
    """Path components without leading ``./`` and trailing ``/``; None when one is ``..`` or empty."""
    parts = name.split("/")
    while parts and parts[0] == ".":
        parts.pop(0)
    while parts and parts[-1] == "":
        parts.pop()
    return None if any(p in ("", ".", "..") for p in parts) else parts


def _foreign(parts: list[str], season: str, sensor: str) -> str | None:
    """Why the member belongs to another archive (another season or sensor), if it does."""
    if parts[0] != season:
        return f"is in another season's folder {parts[0]}/" if parts[0] in facts.SEASONS else None
    if len(parts) >= 2:
        scene_dir = SCENE_DIR_RE.fullmatch(parts[1])
        if scene_dir is not None and scene_dir.group(1) != sensor:
            return f"is in a {scene_dir.group(1)} scene folder, not a {sensor} one"
    return None


def decide(member: tarfile.TarInfo, season: str, sensor: str) -> Decision:
    """What to do with ``member`` of the ``season``/``sensor`` archive (see the module docstring)."""
    name = member.name
    unsafe = _unsafe(member, name)
    if unsafe is not None:
        return _refuse(unsafe)
    parts = path_components(name)
    if parts is None:
        return _refuse("has '..' or an empty component in its path")
    if not parts:
        return _keep(parts) if member.isdir() else _refuse("has an empty name")
    foreign = _foreign(parts, season, sensor)
    if foreign is not None:
        return _refuse(foreign)
    kind = "folder" if member.isdir() else "file"
    if parts[-1].startswith("._"):
        return _skip(f"is a macOS AppleDouble {kind} (._*), not a patch")
    if parts[0] != season:
        return _skip(f"is a {kind} outside the {season}/ folder, not a patch")
    if len(parts) == 1:
        return _keep(parts) if member.isdir() else _skip(f"is a file in place of the {season}/ folder")
    scene_dir = SCENE_DIR_RE.fullmatch(parts[1])
    if scene_dir is None:
        return _skip(f"is a {kind} outside the {sensor}_<scene> folders, not a patch")
    if len(parts) == 2:
        return _keep(parts) if member.isdir() else _skip(f"is a file in place of a {sensor}_<scene> folder")
    if len(parts) > 3 or member.isdir():
        return _skip(f"is a {kind} below a scene folder, not a patch")
    patch = FILENAME_RE.fullmatch(parts[2])
    if patch is None or patch.group(1, 2, 3) != (season, sensor, scene_dir.group(2)):
        return _skip(f"is not named {season}_{sensor}_{scene_dir.group(2)}_p<patch>.tif, not a patch")
    cap = patch_size_cap(sensor)
    if member.size > cap:
        return _refuse(f"is {member.size:,} bytes, more than a {sensor} patch can be (at most {cap:,})")
    return _keep(parts)
