"""Identifiers of SEN12MS scenes and patches, and the text forms they take.

* a patch file: ``<season>/<sensor>_<scene>/<season>_<sensor>_<scene>_p<patch>.tif``;
* a scene-list line (the official hold-out list): ``<season>/<sensor>_<scene>``;
* a patch-list line (upstream ``train_list.txt``/``test_list.txt``): an S2 file name,
  CRLF line endings;
* our canonical patch id: ``<season>_<scene>_p<patch>`` (sensor-neutral), e.g.
  ``ROIs1158_spring_124_p100``; it is the key every ecosystem adapter uses.

DFC2020 patches (:data:`~.facts.DFC2020_FOLDERS`) follow the same rules with their set's
folder in place of the season and their single scene 0, except for the sensor folder of
the validation set: ``ROIs0000_validation/s1_validation/ROIs0000_validation_s1_0_p5.tif``
(id ``ROIs0000_validation_0_p5``), ``ROIs0000_test/dfc_0/ROIs0000_test_dfc_0_p17.tif``
(id ``ROIs0000_test_0_p17``); a fourth sensor, ``dfc``, holds their 10 m label.

Parsing functions raise :class:`~sen12ms_plugins.errors.MalformedLineError` with
the file and line number, or :class:`~sen12ms_plugins.errors.MalformedNameError`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from ..errors import MalformedLineError, MalformedNameError
from ..fsutil import atomic_write_bytes
from . import facts

_SEASON = "|".join(facts.SEASONS)
_SENSOR = "|".join(facts.SENSORS)
# Numbers are written without leading zeros; "p007" would name a file that does not exist.
_NUM = r"(?:0|[1-9][0-9]*)"
#: A patch file name: groups season, sensor, scene, patch.
FILENAME_RE = re.compile(rf"({_SEASON})_({_SENSOR})_({_NUM})_p({_NUM})\.tif")
#: A scene folder inside a season folder, ``<sensor>_<scene>``: groups sensor, scene.
SCENE_DIR_RE = re.compile(rf"({_SENSOR})_({_NUM})")
_SCENE_LINE_RE = re.compile(rf"({_SEASON})/({_SENSOR})_({_NUM})")
_PATCH_ID_RE = re.compile(rf"({_SEASON})_({_NUM})_p({_NUM})")
_DFC_FOLDER = "|".join(facts.DFC2020_FOLDERS)
_DFC_SENSOR = "|".join(facts.DFC2020_SENSORS)
#: A DFC2020 patch file name: groups set folder, sensor, scene (always 0), patch.
DFC2020_FILENAME_RE = re.compile(rf"({_DFC_FOLDER})_({_DFC_SENSOR})_({facts.DFC2020_SCENE})_p({_NUM})\.tif")
_DFC_PATCH_ID_RE = re.compile(rf"({_DFC_FOLDER})_({facts.DFC2020_SCENE})_p({_NUM})")

SCENE_LINE_FORM = "'<season>/<sensor>_<scene>', e.g. 'ROIs1158_spring/s1_63'"
PATCH_LINE_FORM = "a patch file name such as 'ROIs1158_spring_s2_124_p100.tif' (or 'ROIs0000_test_s2_0_p17.tif')"


def scene_dirname(season: str, sensor: str, scene: int) -> str:
    """The folder of one sensor's files of a scene inside its season (or DFC2020 set) folder:
    ``s2_124``; ``s2_validation`` and ``s2_0`` for the DFC2020 sets."""
    if facts.is_dfc2020(season):
        return facts.dfc2020_sensor_dir(season, sensor)
    return f"{sensor}_{scene}"


class SceneId(NamedTuple):
    """One scene of one season.  Tuples sort in dataset order (season, then scene)."""

    season: str
    scene: int

    def dirname(self, sensor: str) -> str:
        """The scene's folder for one sensor, relative to the root, e.g. ``ROIs1158_spring/s2_124``."""
        return f"{self.season}/{scene_dirname(self.season, sensor, self.scene)}"

    def line(self, sensor: str = "s1") -> str:
        """The scene as a scene-list line (the hold-out list uses ``s1``)."""
        return self.dirname(sensor)

    def __str__(self) -> str:
        return f"{self.season}_{self.scene}"


class PatchId(NamedTuple):
    """One patch triplet (a DFC2020 patch: four files).  Tuples sort in dataset order (season,
    scene, patch); ``season`` is the top folder, a DFC2020 set's for a DFC2020 patch."""

    season: str
    scene: int
    patch: int

    @property
    def name(self) -> str:
        """Canonical, sensor-neutral id, e.g. ``ROIs1158_spring_124_p100``, ``ROIs0000_test_0_p17``."""
        return f"{self.season}_{self.scene}_p{self.patch}"

    @property
    def scene_id(self) -> SceneId:
        return SceneId(self.season, self.scene)

    @property
    def is_dfc2020(self) -> bool:
        """True for a patch of the DFC2020 validation or test set."""
        return facts.is_dfc2020(self.season)

    @property
    def sensors(self) -> tuple[str, ...]:
        """The files this patch has: s1, s2, lc (and dfc for a DFC2020 patch)."""
        return facts.sensors_of(self.season)

    def filename(self, sensor: str) -> str:
        """File name of one sensor's patch, e.g. ``ROIs1158_spring_s2_124_p100.tif``."""
        return f"{self.season}_{sensor}_{self.scene}_p{self.patch}.tif"

    def relpath(self, sensor: str) -> str:
        """Path of one sensor's patch relative to the dataset root (``/`` separated)."""
        return f"{self.season}/{scene_dirname(self.season, sensor, self.scene)}/{self.filename(sensor)}"

    def path(self, root: str | os.PathLike[str], sensor: str) -> Path:
        return Path(root, self.season, scene_dirname(self.season, sensor, self.scene), self.filename(sensor))

    def __str__(self) -> str:
        return self.name


def parse_filename(name: str) -> tuple[PatchId, str]:
    """Parse a patch file name (or a path ending in one) into its id and sensor.

    The folder part, when there is one, must agree with the file name.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    m = FILENAME_RE.fullmatch(base) or DFC2020_FILENAME_RE.fullmatch(base)
    if m is None:
        raise MalformedNameError(f"{name!r} is not a SEN12MS patch file name ({PATCH_LINE_FORM})")
    season, sensor, scene, patch = m.groups()
    pid = PatchId(season, int(scene), int(patch))
    parts = name.replace("\\", "/").split("/")
    if len(parts) >= 3 and parts[-3] in facts.TOP_FOLDERS and (parts[-3], parts[-2]) != (season, scene_dirname(season, sensor, pid.scene)):
        raise MalformedNameError(
            f"{name!r}: file {base!r} does not belong in folder {parts[-3]}/{parts[-2]}"
        )
    return pid, sensor


def parse_patch_id(text: str) -> PatchId:
    """Parse a canonical id (``ROIs1158_spring_124_p100``) or any patch file name or path."""
    m = _PATCH_ID_RE.fullmatch(text) or _DFC_PATCH_ID_RE.fullmatch(text)
    if m is not None:
        season, scene, patch = m.groups()
        return PatchId(season, int(scene), int(patch))
    try:
        return parse_filename(text)[0]
    except MalformedNameError:
        raise MalformedNameError(
            f"{text!r} is neither a patch id like 'ROIs1158_spring_124_p100' nor {PATCH_LINE_FORM}"
        ) from None


def parse_scene_line(line: str, path: str | os.PathLike[str] | None = None, lineno: int | None = None) -> SceneId:
    """Parse ``ROIs1158_spring/s1_63`` (any sensor) into a :class:`SceneId`."""
    m = _SCENE_LINE_RE.fullmatch(line.strip())
    if m is None:
        raise MalformedLineError(path, lineno, line, SCENE_LINE_FORM)
    season, _sensor, scene = m.groups()
    return SceneId(season, int(scene))


def parse_patch_line(line: str, path: str | os.PathLike[str] | None = None, lineno: int | None = None) -> PatchId:
    """Parse one patch-list line (a file name of any sensor; CR/LF tolerated)."""
    try:
        return parse_filename(line.strip())[0]
    except MalformedNameError:
        raise MalformedLineError(path, lineno, line, PATCH_LINE_FORM) from None


def _lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers; CRLF, LF and a missing final newline all work."""
    with open(path, encoding="utf-8", newline="") as f:
        for lineno, raw in enumerate(f, start=1):
            line = raw.rstrip("\r\n")
            if line.strip():
                yield lineno, line


def read_scene_list(path: str | os.PathLike[str]) -> list[SceneId]:
    """Read a scene list such as ``SEN12MS_holdOutScenes.txt``; duplicates are an error."""
    scenes: list[SceneId] = []
    seen: dict[SceneId, int] = {}
    for lineno, line in _lines(path):
        scene = parse_scene_line(line, path, lineno)
        if scene in seen:
            raise MalformedLineError(path, lineno, line, f"each scene once (already on line {seen[scene]})")
        seen[scene] = lineno
        scenes.append(scene)
    return scenes


def read_patch_list(path: str | os.PathLike[str]) -> list[PatchId]:
    """Read an upstream-format patch list (``train_list.txt``, ``test_list.txt``)."""
    return [parse_patch_line(line, path, lineno) for lineno, line in _lines(path)]


def format_scene_list(scenes: Iterable[SceneId], sensor: str = "s2") -> bytes:
    """The toolbox's scene-list format (its ``ValidationScenes.txt``): one ``<season folder>/<sensor>_<scene>``
    line per scene, in dataset order, LF after every line; :func:`read_scene_list` reads it back."""
    return "".join(f"{scene.line(sensor)}\n" for scene in sorted(scenes)).encode("ascii")


def format_patch_list(ids: Iterable[PatchId], sensor: str = "s2") -> bytes:
    """Upstream's patch-list format: file names sorted as bytes, CRLF after every line.

    With the hold-out patches this reproduces upstream ``test_list.txt`` byte for byte.
    """
    names = sorted(pid.filename(sensor) for pid in ids)
    return "".join(f"{n}\r\n" for n in names).encode("ascii")


def write_patch_list(path: str | os.PathLike[str], ids: Iterable[PatchId], sensor: str = "s2") -> None:
    """Write a patch list atomically (a reader never sees half a list)."""
    atomic_write_bytes(path, format_patch_list(ids, sensor))

