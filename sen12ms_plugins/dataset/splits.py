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
    Rule: order scenes by the SHA-256 of ``"sen12ms-plugins/validation/v1:<season>/<scene>"``
    (hex digest, ascending) and walk a group of scenes in that order, adding whole
    scenes while the running patch count is below 10% of the group's ``train``
    patches; the scene that crosses the target is kept only if that lands closer to
    the target than stopping before it, the group's first scene is always kept and
    its last never (training keeps a scene).  The groups: each season with at least
    two ``train`` scenes is a group of its own (the stratification by season); the
    seasons with a single ``train`` scene are pooled into one group, walked the same
    way when it holds two or more scenes.  So on the full dataset, where every season
    has dozens of scenes, the choice is per season; a small or partial root, such as
    torchgeo's test data with one scene per season, still gets a validation scene
    whenever it has two ``train`` scenes in all; with fewer, ``validation`` is empty.
    The rule depends only on which triplets are present, never on file-system order
    or Python's hash seed.
``train_minus_validation``
    ``train`` without ``validation``: train on this, select models on ``validation``.

``test`` is accepted everywhere as torchgeo's name for ``holdout``.  The damaged patch
belongs to no split.

``dfc2020_validation``, ``dfc2020_test``
    Every complete DFC2020 patch (s1, s2, lc and dfc file) of the contest's validation set
    (:data:`~.facts.DFC2020_PATCHES`: 986 as released) or test set (5,128), once ``sen12ms
    add-dfc2020`` has added them to the root.  They are no part of the four splits above,
    whose rules see SEN12MS triplets only.  A root without DFC2020 does not offer them
    (:attr:`Splits.names`); asking for one is a :class:`~sen12ms_plugins.errors.DFC2020NotAddedError`
    saying how to add it.

On a small or partial root some splits can be empty (no hold-out scene here, a single
``train`` scene, only hold-out scenes).  Asking for an empty split by name is an
:class:`~sen12ms_plugins.errors.EmptySplitError` saying why (:meth:`Splits.why_empty`);
a writer of several splits (TFDS, Hugging Face, stats, the torchgeo datamodule's fit)
calls :meth:`Splits.with_members`, which keeps the splits that have members and gives
one :class:`~sen12ms_plugins.errors.EmptySplitWarning` naming the others and why.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Final

from ..errors import DFC2020NotAddedError, EmptySplitError, EmptySplitWarning
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
#: The DFC2020 splits, and the set folder each one holds (:data:`~.facts.DFC2020_SETS`).
DFC2020_SPLITS: Final[Mapping[str, str]] = {f"dfc2020_{name}": folder for name, folder in facts.DFC2020_SETS.items()}
#: Every split name, SEN12MS's then DFC2020's.
ALL_SPLITS: Final = (*SPLITS, *DFC2020_SPLITS)
#: What the adapters write to disk, in this order: the disjoint SEN12MS splits (``train`` is
#: made of the files of :data:`TRAIN_PARTS`) and the DFC2020 splits.
STORED_SPLITS: Final = (*DISJOINT_SPLITS, *DFC2020_SPLITS)
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
    if name not in ALL_SPLITS:
        known = ", ".join([*SPLITS, *ALIASES, *DFC2020_SPLITS])
        raise ValueError(f"unknown split {name!r}; expected one of {known}")
    return name


def how_to_add_dfc2020(root: object, folder: str | None = None) -> str:
    """Where DFC2020 comes from and the command that adds it (for messages)."""
    folders = [folder] if folder else list(facts.DFC2020_FOLDERS)
    zips = ", ".join(facts.dfc2020_zip_name(f, s) for f in folders for s in facts.DFC2020_SENSORS)
    return (f"DFC2020 is on IEEE DataPort ({facts.DFC2020_URL}, login needed): download {zips} and "
            f"add them with 'sen12ms add-dfc2020 --root {root} --from DIR'")


def parts_of(split: str) -> tuple[str, ...]:
    """The :data:`STORED_SPLITS` a split is made of: ``train`` -> :data:`TRAIN_PARTS`, any other -> itself."""
    name = canonical_split(split)
    return TRAIN_PARTS if name == "train" else (name,)


def _validation_key(scene: SceneId) -> str:
    return hashlib.sha256(f"{VALIDATION_SALT}:{scene.season}/{scene.scene}".encode()).hexdigest()


def choose_validation_scenes(train_scene_counts: Mapping[SceneId, int]) -> tuple[SceneId, ...]:
    """Apply the validation rule (module docstring) to ``train`` patch counts per scene."""
    per_season = {season: [s for s in train_scene_counts if s.season == season] for season in facts.SEASONS}
    groups = [scenes for scenes in per_season.values() if len(scenes) >= 2]
    # Seasons with one train scene each: pooled, so that a small root still validates.
    groups.append([scene for scenes in per_season.values() if len(scenes) == 1 for scene in scenes])
    chosen = [scene for group in groups if len(group) >= 2 for scene in _walk(group, train_scene_counts)]
    return tuple(sorted(chosen))


def _walk(group: list[SceneId], counts: Mapping[SceneId, int]) -> list[SceneId]:
    """The validation scenes of one group of two or more scenes (the walk of the module docstring)."""
    scenes = sorted(group, key=_validation_key)
    target = VALIDATION_FRACTION * sum(counts[s] for s in scenes)
    taken: list[SceneId] = []
    running = 0
    for scene in scenes[:-1]:  # never the last one: training keeps a scene
        if running >= target:
            break
        after = running + counts[scene]
        if after > target and after - target > target - running and taken:
            break
        taken.append(scene)
        running = after
    return taken


@dataclass(frozen=True)
class Splits:
    """The members of every split of one index."""

    index: Index
    #: split -> its patches: every SEN12MS split (empty ones too), the DFC2020 splits the root holds
    members: Mapping[str, tuple[PatchId, ...]]
    validation_scenes: tuple[SceneId, ...]

    def __getitem__(self, name: str) -> tuple[PatchId, ...]:
        """The patches of a split; an empty split is an error that says why (a DFC2020 split
        that the root does not hold: :class:`DFC2020NotAddedError`, saying how to add it)."""
        name = canonical_split(name)
        patches = self.members.get(name, ())
        if not patches:
            error = DFC2020NotAddedError if name in DFC2020_SPLITS else EmptySplitError
            raise error(f"{self.index.root}: split {name!r} is empty: {self.why_empty(name)}")
        return patches

    @property
    def names(self) -> tuple[str, ...]:
        """The splits this root offers: the four of SEN12MS (empty ones included: writers leave
        them out with a warning, :meth:`with_members`) and each DFC2020 split it holds."""
        return (*SPLITS, *(name for name in DFC2020_SPLITS if name in self.members))

    def why_empty(self, name: str) -> str | None:
        """Why split ``name`` has no member in this root; None when it has members."""
        name = canonical_split(name)
        if self.members.get(name):
            return None
        if name in DFC2020_SPLITS:
            folder = DFC2020_SPLITS[name]
            broken = sum(1 for item in self.index.incomplete if item.patch.season == folder)
            found = (f"{folder}/ holds {broken:,} incomplete patches (see 'sen12ms index')" if broken else
                     f"the root holds no {folder}/ folder")
            return f"{found}; {how_to_add_dfc2020(self.index.root, folder)}"
        if not self.index.triplets:
            return "the root holds no complete SEN12MS triplet"
        if name == "holdout":
            return f"the root holds none of the {len(holdout_scenes())} hold-out scenes listed in {HOLDOUT_SCENES_FILE.name}"
        if not self.members["train"]:
            if any(pid.scene_id not in holdout_scenes() for pid in self.index.triplets):
                return "the only triplet outside the hold-out scenes is the damaged patch, which is in no split"
            return "every triplet present belongs to the hold-out scenes"
        scenes = sorted({pid.scene_id for pid in self.members["train"]})
        return (f"the root holds a single non-hold-out scene ({scenes[0].season}/{scenes[0].scene}); validation "
                "takes whole scenes and needs two or more non-hold-out scenes, to leave one to train on")

    def empty(self, names: Iterable[str] = SPLITS) -> dict[str, str]:
        """The splits of ``names`` without members, each with the reason (see :meth:`why_empty`)."""
        reasons = {canonical_split(name): self.why_empty(name) for name in names}
        return {name: why for name, why in reasons.items() if why is not None}

    def with_members(
        self, names: Iterable[str] = SPLITS, *, doing: str = "writing {splits} only", none_is_error: bool = True,
    ) -> tuple[str, ...]:
        """For a writer of several splits: the splits of ``names`` that have members, in that order.

        When some are empty, one :class:`~sen12ms_plugins.errors.EmptySplitWarning` names
        them and why, followed by ``doing`` with ``{splits}`` replaced by the splits kept
        (e.g. ``"writing {splits} only"``).  When none has members, the first one's
        :class:`~sen12ms_plugins.errors.EmptySplitError` is raised (there is nothing to
        write), unless ``none_is_error`` is False (the writer has more to write).
        """
        names = list(dict.fromkeys(canonical_split(name) for name in names))
        empty = self.empty(names)
        kept = tuple(name for name in names if name not in empty)
        if not kept and none_is_error:
            self[names[0]]  # raises EmptySplitError saying why
        if empty:
            warnings.warn(EmptySplitWarning(f"{self.index.root}: {describe_empty(empty)}; "
                                            + doing.format(splits=", ".join(kept) or "none of them")), stacklevel=2)
        return kept

    def counts(self) -> dict[str, dict[str, int]]:
        """Patches per split (of :attr:`names`) and season (zeros included), plus a ``total`` per
        split; DFC2020 patches have no season, so their splits count a ``total`` only."""
        table: dict[str, dict[str, int]] = {}
        for name in self.names:
            row = dict.fromkeys(facts.SEASONS, 0)
            for pid in self.members[name]:
                if pid.season in row:
                    row[pid.season] += 1
            row["total"] = len(self.members[name])
            table[name] = row
        return table

    def split_of(self, pid: PatchId) -> str | None:
        """``holdout``, ``validation``, ``train_minus_validation``, a DFC2020 split, or None
        (the damaged patch)."""
        if pid.is_dfc2020:
            return next(name for name, folder in DFC2020_SPLITS.items() if folder == pid.season)
        scene = pid.scene_id
        if scene in holdout_scenes():
            return "holdout"
        if pid == facts.DAMAGED_PATCH:
            return None
        return "validation" if scene in self._validation_set else "train_minus_validation"

    @cached_property
    def _validation_set(self) -> frozenset[SceneId]:
        return frozenset(self.validation_scenes)


def describe_empty(empty: Mapping[str, str]) -> str:
    """``{split: reason}`` as one clause, splits with the same reason named together:
    ``splits 'train' and 'validation' are empty: …``."""
    by_reason: dict[str, list[str]] = {}
    for name, why in empty.items():
        by_reason.setdefault(why, []).append(repr(name))
    clauses = []
    for why, names in by_reason.items():
        if len(names) == 1:
            clauses.append(f"split {names[0]} is empty: {why}")
        else:
            clauses.append(f"splits {', '.join(names[:-1])} and {names[-1]} are empty: {why}")
    return "; ".join(clauses)


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
    members = {
        "train": tuple(train),
        "holdout": tuple(holdout),
        "validation": tuple(validation),
        "train_minus_validation": tuple(rest),
    }
    for name, folder in DFC2020_SPLITS.items():  # only those the root holds
        patches = tuple(pid for pid in index.dfc2020 if pid.season == folder)
        if patches:
            members[name] = patches
    return Splits(index=index, members=members, validation_scenes=validation_scenes)


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
