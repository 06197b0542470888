"""The named splits of SEN12MS, computed from an index and the scene lists in ``splits/``.

``holdout``
    Every complete triplet of the official hold-out scenes
    (``splits/SEN12MS_holdOutScenes.txt``, from the authors' toolbox;
    :data:`~.facts.HOLDOUT_SCENES` of them): :data:`~.facts.HOLDOUT_PATCHES` patches on
    the full dataset, the same as upstream ``test_list.txt`` and torchgeo's ``test``.
``train``
    Every other complete triplet except the damaged patch (ROIs1868_summer, scene 146,
    patch 202): :data:`~.facts.TRAIN_PATCHES` on the full dataset, the same as upstream
    ``train_list.txt``.
``validation``
    A scene-level subset of ``train`` holding about 10% of its patches in every season.
    Rule, per season: order the season's ``train`` scenes by the SHA-256 of
    ``"sen12ms-plugins/validation/v1:<season>/<scene>"`` (hex digest, ascending);
    walk that order adding whole scenes while the running patch count is below 10% of
    the season's ``train`` patches; the scene that crosses the target is kept only if
    that lands closer to the target than stopping before it.  A season with at least
    two ``train`` scenes always gives one and always keeps one for training.  The rule
    depends only on which triplets are present, never on file-system order or Python's
    hash seed.
``train_minus_validation``
    ``train`` without ``validation``: train on this, select models on ``validation``.

``test`` is accepted everywhere as torchgeo's name for ``holdout``.  The damaged patch
belongs to no split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Final

from ..errors import EmptySplitError
from . import facts
from .ids import PatchId, SceneId, read_patch_list, read_scene_list
from .index import Index

SPLITS: Final = ("train", "holdout", "validation", "train_minus_validation")
#: ``train`` is these two splits together, in this order: every adapter stores only them and
#: makes ``train`` of their files (its examples: those of the first, then those of the second).
TRAIN_PARTS: Final = ("train_minus_validation", "validation")
#: The splits that hold every triplet at most once (all but the damaged patch exactly once):
#: what the adapters write to disk.
DISJOINT_SPLITS: Final = ("holdout", *TRAIN_PARTS)
#: Other names accepted for a split (torchgeo calls the hold-out ``test``).
ALIASES: Final[Mapping[str, str]] = {"test": "holdout"}
VALIDATION_FRACTION: Final = 0.10
VALIDATION_SALT: Final = "sen12ms-plugins/validation/v1"

# ``split_lists`` is a link to the repository's ``splits/`` folder, so the lists exist once.
#: Upstream's patch lists, as torchgeo reads them from the root: split -> file name.
UPSTREAM_LISTS: Final[Mapping[str, str]] = {"train": "train_list.txt", "holdout": "test_list.txt"}

SPLITS_DIR: Final = Path(__file__).resolve().parent / "split_lists"
HOLDOUT_SCENES_FILE: Final = SPLITS_DIR / "SEN12MS_holdOutScenes.txt"


@cache
def holdout_scenes() -> frozenset[SceneId]:
    """The official hold-out scenes (:data:`~.facts.HOLDOUT_SCENES` of them)."""
    return frozenset(read_scene_list(HOLDOUT_SCENES_FILE))


def canonical_split(name: str) -> str:
    """``test`` -> ``holdout``; an unknown name is a ValueError listing the known ones."""
    name = ALIASES.get(name, name)
    if name not in SPLITS:
        known = ", ".join([*SPLITS, *ALIASES])
        raise ValueError(f"unknown split {name!r}; expected one of {known}")
    return name


def parts_of(split: str) -> tuple[str, ...]:
    """The :data:`DISJOINT_SPLITS` a split is made of: ``train`` -> :data:`TRAIN_PARTS`, any other -> itself."""
    name = canonical_split(split)
    return TRAIN_PARTS if name == "train" else (name,)


def _validation_key(scene: SceneId) -> str:
    return hashlib.sha256(f"{VALIDATION_SALT}:{scene.season}/{scene.scene}".encode()).hexdigest()


def choose_validation_scenes(train_scene_counts: Mapping[SceneId, int]) -> tuple[SceneId, ...]:
    """Apply the validation rule (module docstring) to ``train`` patch counts per scene."""
    chosen: list[SceneId] = []
    for season in facts.SEASONS:
        scenes = sorted((s for s in train_scene_counts if s.season == season), key=_validation_key)
        if len(scenes) < 2:
            continue
        target = VALIDATION_FRACTION * sum(train_scene_counts[s] for s in scenes)
        taken: list[SceneId] = []
        running = 0
        for scene in scenes[:-1]:  # never the last one: training keeps a scene
            if running >= target:
                break
            after = running + train_scene_counts[scene]
            if after > target and after - target > target - running and taken:
                break
            taken.append(scene)
            running = after
        chosen.extend(taken)
    return tuple(sorted(chosen))


@dataclass(frozen=True)
class Splits:
    """The members of every split of one index."""

    index: Index
    members: Mapping[str, tuple[PatchId, ...]]
    validation_scenes: tuple[SceneId, ...]

    def __getitem__(self, name: str) -> tuple[PatchId, ...]:
        """The patches of a split; an empty split is an error that says why."""
        name = canonical_split(name)
        patches = self.members[name]
        if not patches:
            raise EmptySplitError(f"{self.index.root}: split {name!r} is empty: {self._why_empty(name)}")
        return patches

    def _why_empty(self, name: str) -> str:
        if not self.index.triplets:
            return "the root holds no complete SEN12MS triplet"
        if name == "holdout":
            return f"the root holds none of the {len(holdout_scenes())} hold-out scenes listed in {HOLDOUT_SCENES_FILE.name}"
        if name == "validation":
            return "no season has two or more non-hold-out scenes to take a validation scene from"
        return "every triplet present belongs to the hold-out scenes"

    def counts(self) -> dict[str, dict[str, int]]:
        """Patches per split and season (zeros included), plus a ``total`` per split."""
        table: dict[str, dict[str, int]] = {}
        for name in SPLITS:
            row = dict.fromkeys(facts.SEASONS, 0)
            for pid in self.members[name]:
                row[pid.season] += 1
            row["total"] = len(self.members[name])
            table[name] = row
        return table

    def split_of(self, pid: PatchId) -> str | None:
        """``holdout``, ``validation``, ``train_minus_validation`` or None (the damaged patch)."""
        scene = pid.scene_id
        if scene in holdout_scenes():
            return "holdout"
        if pid == facts.DAMAGED_PATCH:
            return None
        return "validation" if scene in self._validation_set else "train_minus_validation"

    @cached_property
    def _validation_set(self) -> frozenset[SceneId]:
        return frozenset(self.validation_scenes)


def compute_splits(index: Index) -> Splits:
    """Split an index's complete triplets by the rules in this module's docstring."""
    holdout_set = holdout_scenes()
    damaged = PatchId(*facts.DAMAGED_PATCH)
    holdout: list[PatchId] = []
    train: list[PatchId] = []
    for pid in index.triplets:
        if (pid.season, pid.scene) in holdout_set:
            holdout.append(pid)
        elif pid != damaged:
            train.append(pid)
    train_counts: dict[SceneId, int] = {}
    for pid in train:
        key = SceneId(pid.season, pid.scene)
        train_counts[key] = train_counts.get(key, 0) + 1
    validation_scenes = choose_validation_scenes(train_counts)
    val_set = set(validation_scenes)
    validation = [p for p in train if (p.season, p.scene) in val_set]
    rest = [p for p in train if (p.season, p.scene) not in val_set]
    return Splits(
        index=index,
        members={
            "train": tuple(train),
            "holdout": tuple(holdout),
            "validation": tuple(validation),
            "train_minus_validation": tuple(rest),
        },
        validation_scenes=validation_scenes,
    )


@dataclass(frozen=True)
class ListComparison:
    """How an upstream patch list in the root compares with the split it names."""

    path: Path
    split: str
    listed: int
    #: Listed, but not a complete triplet of this root (missing files, or not downloaded).
    not_here: tuple[PatchId, ...]
    #: Members of the split that the list leaves out.
    not_listed: tuple[PatchId, ...]

    @property
    def agrees(self) -> bool:
        return not self.not_here and not self.not_listed

    def __str__(self) -> str:
        if self.agrees:
            return f"{self.path}: {self.listed:,} patches, the same as split {self.split!r}"
        parts = []
        if self.not_here:
            parts.append(f"{len(self.not_here):,} listed patches are not complete triplets here "
                         f"(first: {self.not_here[0].filename('s2')})")
        if self.not_listed:
            parts.append(f"{len(self.not_listed):,} patches of split {self.split!r} are not listed "
                         f"(first: {self.not_listed[0].filename('s2')})")
        return f"{self.path}: differs from split {self.split!r}: " + "; ".join(parts)


def compare_upstream_lists(splits: Splits) -> list[ListComparison]:
    """Compare each upstream list present in the root (``train_list.txt``, ``test_list.txt``)
    with its split.  A malformed line raises :class:`~sen12ms_plugins.errors.MalformedLineError`
    naming the file and line."""
    comparisons = []
    for split, name in UPSTREAM_LISTS.items():
        path = splits.index.root / name
        if not path.is_file():
            continue
        listed = read_patch_list(path)
        members = set(splits.members[split])
        listed_set = set(listed)
        comparisons.append(ListComparison(
            path=path,
            split=split,
            listed=len(listed),
            not_here=tuple(sorted(listed_set - members)),
            not_listed=tuple(sorted(members - listed_set)),
        ))
    return comparisons
