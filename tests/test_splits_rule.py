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
from pathlib import Path

from sen12ms_plugins.dataset.ids import PatchId, SceneId
from sen12ms_plugins.dataset.index import Index
from sen12ms_plugins.dataset.splits import compute_splits

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
