"""The validation rule on the full-size tree of names, and on small or partial roots.

``FULL_TREE_VALIDATION_SCENES`` was recorded with the rule as it stood before seasons
with fewer than two ``train`` scenes were pooled (commit "splits: record the
validation scenes of the full-size benchmark tree"): the pooled rule must pick the
very same scenes wherever every season has two or more ``train`` scenes, as on the
full dataset.  ``benchmarks/bench_index.py`` checks the same list on the tree of
empty files it builds.
"""

from __future__ import annotations

import importlib.util
import os
import random
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import PatchId, SceneId
from sen12ms_plugins.dataset.index import Index, build_index
from sen12ms_plugins.dataset.splits import choose_validation_scenes, compute_splits
from sen12ms_plugins.errors import EmptySplitError, EmptySplitWarning

from .conftest import touch_tree
from .small_roots import HOLDOUT_SCENE, ONE_PER_SEASON, ONE_PER_SEASON_VALIDATION, SINGLE_TRAIN_SCENE

REPO = Path(__file__).resolve().parents[1]

#: The validation scenes of the benchmark's 180,662 triplets (benchmarks/bench_index.py).
FULL_TREE_VALIDATION_SCENES = [
    "ROIs1158_spring/16", "ROIs1158_spring/37", "ROIs1158_spring/81", "ROIs1158_spring/82",
    "ROIs1158_spring/88", "ROIs1158_spring/95",
    "ROIs1868_summer/8", "ROIs1868_summer/38", "ROIs1868_summer/47", "ROIs1868_summer/91",
    "ROIs1868_summer/142", "ROIs1868_summer/145",
    "ROIs1970_fall/87", "ROIs1970_fall/90", "ROIs1970_fall/103", "ROIs1970_fall/117",
    "ROIs1970_fall/122", "ROIs1970_fall/145",
    "ROIs2017_winter/14", "ROIs2017_winter/27", "ROIs2017_winter/40", "ROIs2017_winter/52",
    "ROIs2017_winter/60", "ROIs2017_winter/125",
]
#: Their patches.
FULL_TREE_VALIDATION_PATCHES = 17_263


def full_size_ids() -> list[PatchId]:
    """The benchmark's 180,662 names (built there as empty files; here as names only)."""
    spec = importlib.util.spec_from_file_location("bench_index", REPO / "benchmarks" / "bench_index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.full_size_ids()


def scene_names(scenes: tuple[SceneId, ...]) -> list[str]:
    return [f"{s.season}/{s.scene}" for s in scenes]


def test_full_size_tree_keeps_its_validation_scenes():
    ids = full_size_ids()
    assert len(ids) == 180_662
    splits = compute_splits(Index(root=Path("/full-size"), triplets=tuple(sorted(ids))))
    assert scene_names(splits.validation_scenes) == FULL_TREE_VALIDATION_SCENES
    assert len(splits.members["validation"]) == FULL_TREE_VALIDATION_PATCHES


# --- seasons with a single train scene are pooled --------------------------------------


def _counts(*scenes: tuple[str, int, int]) -> dict[SceneId, int]:
    return {SceneId(season, scene): n for season, scene, n in scenes}


def test_one_scene_per_season_is_pooled_into_one_validation_scene():
    # torchgeo's own test data: scene 1 of every season, 2 patches each.  The SHA-256 keys,
    # worked out by hand: spring 15d25849…, winter 2c7ebb62…, summer 615a8d05…, fall 690b6f3a….
    torchgeo_like = _counts(*((season, 1, 2) for season in facts.SEASONS))
    assert choose_validation_scenes(torchgeo_like) == (SceneId("ROIs1158_spring", 1),)
    sample_like = {scene: 4 for scene in ONE_PER_SEASON}
    assert choose_validation_scenes(sample_like) == (ONE_PER_SEASON_VALIDATION,)


def test_seasons_with_two_scenes_keep_their_own_choice():
    spring = _counts(*(("ROIs1158_spring", scene, 100 + scene) for scene in (3, 9, 45, 101, 120)))
    lonely = _counts(("ROIs1868_summer", 73, 300), ("ROIs1970_fall", 1, 250))
    chosen = choose_validation_scenes({**spring, **lonely})
    # spring is stratified on its own: the same scenes as with spring alone
    assert [s for s in chosen if s.season == "ROIs1158_spring"] == list(choose_validation_scenes(spring))
    # summer 73 and fall 1 are pooled; fall 1's key (690b6f3a…) is below summer 73's (6931d43a…)
    assert [s for s in chosen if s.season != "ROIs1158_spring"] == [SceneId("ROIs1970_fall", 1)]
    # a lone scene without a partner to pool with stays in training
    assert choose_validation_scenes({**spring, SceneId("ROIs1868_summer", 73): 300}) == choose_validation_scenes(spring)


def test_pooled_rule_ignores_input_order_and_hash_seed(tmp_path):
    counts = {SceneId(season, scene): 10 + scene for season in facts.SEASONS for scene in (7,)}
    counts.update(_counts(("ROIs1158_spring", 8, 40), ("ROIs1158_spring", 9, 50)))
    items = list(counts.items())
    random.Random(3).shuffle(items)
    assert choose_validation_scenes(dict(items)) == choose_validation_scenes(counts)
    touch_tree(tmp_path, [PatchId(s.season, s.scene, p).relpath(sensor)
                          for s in ONE_PER_SEASON for p in range(3) for sensor in facts.SENSORS])
    code = ("import sys; from sen12ms_plugins import build_index, compute_splits;"
            "print(compute_splits(build_index(sys.argv[1], use_cache=False)).validation_scenes)")
    outputs = {
        subprocess.run([sys.executable, "-c", code, str(tmp_path)], env={**os.environ, "PYTHONHASHSEED": seed},
                       check=True, capture_output=True, text=True).stdout
        for seed in ("0", "99")
    }
    assert outputs == {f"({ONE_PER_SEASON_VALIDATION!r},)\n"}


# --- empty splits: by name an error, for a writer one warning -------------------------


def _touch_scenes(root: Path, *scenes: SceneId, patches=range(2)) -> Path:
    return touch_tree(root, [PatchId(s.season, s.scene, p).relpath(sensor)
                             for s in scenes for p in patches for sensor in facts.SENSORS])


def test_single_train_scene_leaves_validation_empty(tmp_path):
    splits = compute_splits(build_index(_touch_scenes(tmp_path, *SINGLE_TRAIN_SCENE)))
    assert splits.members["validation"] == () and len(splits.members["train_minus_validation"]) == 2
    with pytest.raises(EmptySplitError, match=r"split 'validation' is empty: the root holds a single "
                                              r"non-hold-out scene \(ROIs1970_fall/1\)"):
        splits["validation"]
    assert splits.why_empty("train") is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept = splits.with_members(doing="writing {splits} only")
    assert kept == ("train", "holdout", "train_minus_validation")
    assert [type(w.message) for w in caught] == [EmptySplitWarning]
    message = str(caught[0].message)
    assert message.startswith(f"{tmp_path}: split 'validation' is empty: the root holds a single non-hold-out scene")
    assert message.endswith("; writing train, holdout, train_minus_validation only")


def test_reasons_are_grouped_in_one_warning(tmp_path):
    splits = compute_splits(build_index(_touch_scenes(tmp_path, HOLDOUT_SCENE)))
    with pytest.warns(EmptySplitWarning) as caught:
        assert splits.with_members() == ("holdout",)
    assert len(caught) == 1
    assert ("splits 'train', 'validation' and 'train_minus_validation' are empty: every triplet present "
            "belongs to the hold-out scenes; writing holdout only") in str(caught[0].message)


def test_damaged_patch_alone_is_named_as_the_reason(tmp_path):
    damaged = PatchId(*facts.DAMAGED_PATCH)
    touch_tree(tmp_path, [damaged.relpath(sensor) for sensor in facts.SENSORS])
    _touch_scenes(tmp_path, HOLDOUT_SCENE)
    assert "the only triplet outside the hold-out scenes is the damaged patch" in compute_splits(
        build_index(tmp_path)).why_empty("train")


def test_nothing_to_write_is_an_error(tmp_path):
    splits = compute_splits(build_index(tmp_path))
    with pytest.raises(EmptySplitError, match="split 'train' is empty: the root holds no complete SEN12MS triplet"):
        splits.with_members()
    with pytest.warns(EmptySplitWarning, match="none of them"):
        assert splits.with_members(["holdout"], none_is_error=False) == ()
