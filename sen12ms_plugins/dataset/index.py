"""Index of a SEN12MS root: which patch triplets are complete, which are not, what does not belong.

One scan with :func:`os.scandir` (file names only, no file is opened) over
``<root>/<season>/<sensor>_<scene>/`` and, when the root holds DFC2020 (``sen12ms
add-dfc2020``), ``<root>/ROIs0000_validation/<sensor>_validation/`` and
``<root>/ROIs0000_test/<sensor>_0/``.  SEN12MS triplets and DFC2020 patches (four files:
s1, s2, lc, dfc) are kept apart (:attr:`Index.triplets`, :attr:`Index.dfc2020`), so that
every SEN12MS figure and rule stays what it is.  The result is cached per folder in the
user's cache (``fsutil.root_cache_dir``: ``$XDG_CACHE_HOME/sen12ms-plugins/roots/<root's
name>-<hash of its path>/index-v2.json``), never in the root, which is often shared,
read-only or someone else's, together with each folder's modification and change times;
the next call re-lists only the folders whose times moved, so a changed tree is picked up
and an unchanged one costs a few hundred ``stat`` calls.  The cache is written atomically
(processes that build it at once, DDP ranks or DataLoader workers, all succeed and none
reads half a file) and skipped when the user's cache cannot be written.

A folder modified less than :data:`_RACY_SECONDS` before it was listed is not trusted
from cache (a change in the same clock tick would leave its times unchanged).

A file rewritten in place changes its own times, not its folder's: :func:`content_stamp`
(one ``stat`` per file, never cached) is what tells two versions of the same files apart.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from functools import cached_property
from itertools import groupby, repeat
from pathlib import Path
from typing import Iterator, Mapping

from ..errors import PatchFileError
from ..fsutil import atomic_write_bytes, root_cache_dir
from . import facts
from .ids import SCENE_DIR_RE, PatchId, SceneId, scene_dirname
from .root import resolve_root

CACHE_NAME = "index-v2.json"
_CACHE_VERSION = 2
_RACY_SECONDS = 2.0


@dataclass(frozen=True)
class Incomplete:
    """A patch for which at least one sensor's file is missing."""

    patch: PatchId
    missing: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.patch.name} (missing {', '.join(self.missing)})"


@dataclass(frozen=True)
class Index:
    """What a root holds.  ``triplets`` (SEN12MS) and ``dfc2020`` are sorted in dataset order;
    ``len``, iteration and ``in`` are about the SEN12MS triplets."""

    root: Path
    triplets: tuple[PatchId, ...]
    #: Patches missing a file, SEN12MS and DFC2020 ones.
    incomplete: tuple[Incomplete, ...] = ()
    #: Entries inside season, DFC2020 set or scene folders that are not patches (root-relative).
    strays: tuple[str, ...] = ()
    #: Folders (root-relative) that had to be listed; empty when all came from the cache.
    rescanned: tuple[str, ...] = field(default=(), compare=False)
    #: Complete DFC2020 patches (s1, s2, lc and dfc present), in dataset order (ROIs0000_test sorts first).
    dfc2020: tuple[PatchId, ...] = ()

    def __len__(self) -> int:
        return len(self.triplets)

    def __iter__(self) -> Iterator[PatchId]:
        return iter(self.triplets)

    def __contains__(self, pid: object) -> bool:
        return pid in self._triplet_set

    @cached_property
    def _triplet_set(self) -> frozenset[PatchId]:
        return frozenset(self.triplets)

    @cached_property
    def scene_counts(self) -> Mapping[SceneId, int]:
        """Complete triplets per scene, in dataset order."""
        counts: dict[SceneId, int] = {}
        for pid in self.triplets:
            key = SceneId(pid.season, pid.scene)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def season_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(facts.SEASONS, 0)
        for scene, n in self.scene_counts.items():
            counts[scene.season] += n
        return counts

    def dfc2020_counts(self) -> dict[str, int]:
        """Complete DFC2020 patches per set folder (zeros included)."""
        counts = dict.fromkeys(facts.DFC2020_FOLDERS, 0)
        for pid in self.dfc2020:
            counts[pid.season] += 1
        return counts

    def path(self, pid: PatchId, sensor: str) -> Path:
        return pid.path(self.root, sensor)


def build_index(root: str | os.PathLike[str] | None = None, *, use_cache: bool = True) -> Index:
    """Index ``root`` (default: ``$SEN12MS_ROOT``), reusing the cache where the tree is unchanged."""
    root = resolve_root(root)
    cache_file = root_cache_dir(root) / CACHE_NAME if use_cache else None
    cached = _load_cache(cache_file) if cache_file else {}
    scanner = _Scanner(root, cached)
    index = scanner.run()
    if cache_file is not None and scanner.changed:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(cache_file, json.dumps(scanner.new_cache, separators=(",", ":")).encode())
        except OSError:
            pass  # a cache we cannot write only costs time on the next call
    return index


def content_stamp(index: Index) -> str:
    """A digest of the name, size and modification time (ns) of every file of every patch
    (the triplets, and the DFC2020 patches with their ``dfc`` files).

    It changes when a patch file is rewritten, even in place under the same name, without
    reading any file: one fresh ``stat`` per file (541,986 for the full dataset, a few
    seconds with a warm inode cache: ``benchmarks/bench_index.py``), never cached, since a
    file rewritten in place leaves its folder's times (what the index cache trusts) alone.  A tool that restores
    the old modification time after writing other bytes of the same size goes unnoticed.
    """
    digest = hashlib.sha256()
    root = os.fspath(index.root)
    for _, patches in groupby((*index.triplets, *index.dfc2020), key=lambda pid: (pid.season, pid.scene)):
        patches = list(patches)
        sensors = patches[0].sensors
        folders = [os.path.dirname(patches[0].relpath(sensor)) + "/" for sensor in sensors]
        rows = []
        for pid in patches:
            for sensor, folder in zip(sensors, folders):
                rel = folder + pid.filename(sensor)
                try:
                    st = os.stat(os.path.join(root, rel))
                except FileNotFoundError:
                    raise PatchFileError(os.path.join(root, rel), "disappeared after the root was indexed") from None
                rows.append(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n")
        digest.update("".join(rows).encode())  # one update per scene: cheaper than one per file
    return digest.hexdigest()


def _load_cache(path: Path) -> dict:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != _CACHE_VERSION:
        return {}
    return data.get("dirs", {})


def _stamp(st: os.stat_result, now_ns: int) -> list[int] | None:
    """The times that identify a folder's listing, or None when too recent to trust."""
    if now_ns - max(st.st_mtime_ns, st.st_ctime_ns) < _RACY_SECONDS * 1e9:
        return None
    return [st.st_mtime_ns, st.st_ctime_ns]


class _Scanner:
    """One pass over a root, listing only folders whose cached listing is stale."""

    def __init__(self, root: Path, cached: dict):
        self.root = root
        self.cached = cached
        self.new_cache: dict = {"version": _CACHE_VERSION, "dirs": {}}
        self.changed = False
        self.rescanned: list[str] = []
        self.strays: list[str] = []

    def _cached(self, rel: str) -> tuple[dict | None, os.stat_result]:
        """A folder's cache entry if its times still match, and its current stat."""
        st = os.stat(os.path.join(self.root, rel))
        entry = self.cached.get(rel)
        if entry is not None and entry.get("stamp") is not None and entry["stamp"] == [st.st_mtime_ns, st.st_ctime_ns]:
            self.new_cache["dirs"][rel] = entry
            return entry, st
        return None, st

    def _store(self, rel: str, st: os.stat_result, entry: dict) -> dict:
        entry["stamp"] = _stamp(st, time.time_ns())
        self.new_cache["dirs"][rel] = entry
        self.rescanned.append(rel)
        self.changed = True
        return entry

    def _list(self, rel: str) -> tuple[list[str], list[str]]:
        dirs, files = [], []
        with os.scandir(os.path.join(self.root, rel)) as it:
            for e in it:
                (dirs if e.is_dir() else files).append(e.name)
        return sorted(dirs), sorted(files)

    def _top(self, folder: str) -> dict:
        """The listing of a season or DFC2020 set folder (from cache when unchanged); its files are strays."""
        listing, st = self._cached(folder)
        if listing is None:
            dirs, files = self._list(folder)
            listing = self._store(folder, st, {"dirs": dirs, "files": files})
        self.strays.extend(f"{folder}/{name}" for name in listing["files"])
        return listing

    def run(self) -> Index:
        present: dict[SceneId, dict[str, set[int]]] = {}
        with os.scandir(self.root) as it:
            tops = {e.name for e in it if e.is_dir()}
        for season in sorted(tops & set(facts.SEASONS)):
            for name in self._top(season)["dirs"]:
                m = SCENE_DIR_RE.fullmatch(name)
                if m is None:
                    self.strays.append(f"{season}/{name}/")
                    continue
                sensor, scene = m.group(1), int(m.group(2))
                patches = self._patches(season, sensor, scene)
                present.setdefault(SceneId(season, scene), {}).setdefault(sensor, set()).update(patches)
        dfc2020: dict[SceneId, dict[str, set[int]]] = {}
        for folder in sorted(tops & set(facts.DFC2020_FOLDERS)):
            sensor_dirs = {facts.dfc2020_sensor_dir(folder, sensor): sensor for sensor in facts.DFC2020_SENSORS}
            scene = SceneId(folder, facts.DFC2020_SCENE)
            for name in self._top(folder)["dirs"]:
                if name not in sensor_dirs:
                    self.strays.append(f"{folder}/{name}/")
                    continue
                patches = self._patches(folder, sensor_dirs[name], scene.scene)
                dfc2020.setdefault(scene, {}).setdefault(sensor_dirs[name], set()).update(patches)
        if set(self.cached) - set(self.new_cache["dirs"]):
            self.changed = True  # folders disappeared
        return self._assemble(present, dfc2020)

    def _patches(self, season: str, sensor: str, scene: int) -> list[int]:
        """Patch numbers in one scene folder; anything else there is recorded as stray.

        The cache keeps the parsed numbers, so an unchanged folder costs one stat.
        """
        rel = f"{season}/{scene_dirname(season, sensor, scene)}"
        entry, st = self._cached(rel)
        if entry is None:
            dirs, files = self._list(rel)
            prefix = f"{season}_{sensor}_{scene}_p"
            cut = len(prefix)
            patches, strays = [], [f"{name}/" for name in dirs]
            for name in files:
                number = name[cut:-4]
                # Exact round trip: rejects leading zeros, signs and spaces that int() accepts.
                if name.startswith(prefix) and name.endswith(".tif") and number.isdigit() and str(int(number)) == number:
                    patches.append(int(number))
                else:
                    strays.append(name)
            entry = self._store(rel, st, {"patches": patches, "strays": strays})
        self.strays.extend(f"{rel}/{name}" for name in entry["strays"])
        return entry["patches"]

    def _assemble(self, present: dict[SceneId, dict[str, set[int]]],
                  dfc2020: dict[SceneId, dict[str, set[int]]]) -> Index:
        incomplete: list[Incomplete] = []
        dfc2020_patches = _complete(dfc2020, facts.DFC2020_SENSORS, incomplete)
        triplets = _complete(present, facts.SENSORS, incomplete)
        return Index(
            root=self.root,
            triplets=tuple(triplets),
            incomplete=tuple(incomplete),
            strays=tuple(sorted(self.strays)),
            rescanned=tuple(self.rescanned),
            dfc2020=tuple(dfc2020_patches),
        )


def _complete(present: dict[SceneId, dict[str, set[int]]], sensors: tuple[str, ...],
              incomplete: list[Incomplete]) -> list[PatchId]:
    """The patches of ``present`` that have a file of every sensor, in dataset order; the
    others are appended to ``incomplete`` with the sensors they miss."""
    complete_ids: list[PatchId] = []
    for scene in sorted(present):
        by_sensor = present[scene]
        sets = [by_sensor.get(sensor, set()) for sensor in sensors]
        complete = set.intersection(*sets)
        # _make skips the keyword-argument handling of __new__: 180k ids cost half as much.
        complete_ids.extend(map(PatchId._make, zip(repeat(scene.season), repeat(scene.scene), sorted(complete))))
        for p in sorted(set.union(*sets) - complete):
            missing = tuple(s for s, have in zip(sensors, sets) if p not in have)
            incomplete.append(Incomplete(PatchId(scene.season, scene.scene, p), missing))
    return complete_ids
