"""Benchmark: index and split a full-size SEN12MS tree (180,662 triplets of empty files).

The tree has the real layout and names: the 26 hold-out scenes with their real patch
numbers (upstream test_list.txt, from tests/data), and 226 more scenes whose patch
numbers are spread over 0-945 like the real ones, so that the counts are the official
ones (18,106 hold-out, 162,556 others including the damaged patch).

    python benchmarks/bench_index.py [--tree /tmp/sen12ms-bench-index] [--repeat 3]

Targets (issue 2): under 5 s cold (no cache), under 0.5 s from cache.  It also checks that
the validation rule picks, on this tree, the scenes recorded in tests/test_splits_rule.py
(the choice of the rule before seasons with a single train scene were pooled): the pooled
rule leaves a full-size split unchanged.  Also printed: the cost of ``content_stamp`` (one
fresh ``stat`` per file, the part of the Hugging Face cache key that notices a file
rewritten in place; issue 13), inode cache warm.
"""

from __future__ import annotations

import argparse
import gzip
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import PatchId, parse_patch_line
from sen12ms_plugins.dataset.index import CACHE_NAME, build_index, content_stamp
from sen12ms_plugins.dataset.splits import compute_splits, holdout_scenes
from sen12ms_plugins.fsutil import root_cache_dir

HERE = Path(__file__).resolve().parent
TEST_LIST = HERE.parent / "tests" / "data" / "test_list.txt.gz"


def recorded_validation_scenes() -> list[str]:
    """``FULL_TREE_VALIDATION_SCENES`` of tests/test_splits_rule.py (``<season>/<scene>`` names)."""
    sys.path.insert(0, str(HERE.parent))  # the repository, for the tests package (needs the [test] extra)
    from tests.test_splits_rule import (
        FULL_TREE_VALIDATION_SCENES,  # deferred: the test suite's imports
    )

    return FULL_TREE_VALIDATION_SCENES


def full_size_ids() -> list[PatchId]:
    holdout = [parse_patch_line(line) for line in gzip.decompress(TEST_LIST.read_bytes()).decode().split()]
    rng = random.Random(2019)
    scenes_per_season = {s: sum(1 for x in holdout_scenes() if x.season == s) for s in facts.SEASONS}
    others_needed = facts.TOTAL_TRIPLETS - len(holdout)
    n_other_scenes = facts.TOTAL_SCENES - facts.HOLDOUT_SCENES
    scene_ids = []
    for i in range(n_other_scenes):
        season = facts.SEASONS[i % 4]
        taken = {x.scene for x in holdout_scenes() if x.season == season} | {s for se, s in scene_ids if se == season}
        scene = rng.choice([n for n in range(1, 150) if n not in taken])
        scene_ids.append((season, scene))
    damaged = PatchId(*facts.DAMAGED_PATCH)
    if (damaged.season, damaged.scene) not in scene_ids:
        scene_ids[1] = (damaged.season, damaged.scene)
    sizes = [others_needed // n_other_scenes] * n_other_scenes
    for i in range(others_needed - sum(sizes)):
        sizes[i] += 1
    others = []
    for (season, scene), size in zip(scene_ids, sizes):
        patches = sorted(rng.sample(range(946), size))
        if (season, scene) == (damaged.season, damaged.scene) and damaged.patch not in patches:
            patches[0] = damaged.patch
        others.extend(PatchId(season, scene, p) for p in patches)
    del scenes_per_season
    return holdout + others


def make_tree(root: Path, ids: list[PatchId]) -> None:
    for pid in ids:
        for sensor in facts.SENSORS:
            path = pid.path(root, sensor)
            try:
                path.touch()
            except FileNotFoundError:
                path.parent.mkdir(parents=True)
                path.touch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=Path("/tmp/sen12ms-bench-index"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    ids = full_size_ids()
    if not (args.tree / "complete").exists():
        shutil.rmtree(args.tree, ignore_errors=True)
        t = time.perf_counter()
        make_tree(args.tree, ids)
        (args.tree / "complete").touch()
        print(f"made tree of {len(ids):,} triplets ({3 * len(ids):,} files) in {time.perf_counter() - t:.1f} s")
    print("waiting 2.5 s so that folder times are old enough to be trusted from cache")
    time.sleep(2.5)

    cold, warm = [], []
    for _ in range(args.repeat):
        (root_cache_dir(args.tree) / CACHE_NAME).unlink(missing_ok=True)
        t = time.perf_counter()
        index = build_index(args.tree)
        cold.append(time.perf_counter() - t)
        t = time.perf_counter()
        cached = build_index(args.tree)
        warm.append(time.perf_counter() - t)
        assert not cached.rescanned and cached.triplets == index.triplets
    stamps = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        content_stamp(index)
        stamps.append(time.perf_counter() - t)
    t = time.perf_counter()
    splits = compute_splits(index)
    split_time = time.perf_counter() - t
    counts = {name: len(members) for name, members in splits.members.items()}

    print(f"triplets indexed:           {len(index):,} (expected {facts.TOTAL_TRIPLETS:,})")
    print(f"holdout / train:            {counts['holdout']:,} / {counts['train']:,} "
          f"(expected {facts.HOLDOUT_PATCHES:,} / {facts.TRAIN_PATCHES:,})")
    print(f"validation / rest:          {counts['validation']:,} / {counts['train_minus_validation']:,} "
          f"({100 * counts['validation'] / counts['train']:.1f}% of train, "
          f"{len(splits.validation_scenes)} scenes)")
    print(f"index, cold (no cache):     median {statistics.median(cold):.2f} s  (target < 5 s)  runs {[round(x, 2) for x in cold]}")
    print(f"index, from cache:          median {statistics.median(warm):.3f} s (target < 0.5 s) runs {[round(x, 3) for x in warm]}")
    print(f"splits from the index:      {split_time:.3f} s")
    chosen = [f"{s.season}/{s.scene}" for s in splits.validation_scenes]
    same = chosen == recorded_validation_scenes()
    print(f"validation scenes:          {len(chosen)}, "
          + ("the same as recorded in tests/test_splits_rule.py" if same else
             f"DIFFERENT from tests/test_splits_rule.py: {chosen}"))
    print(f"content stamp (stat of {3 * len(index):,} files): median {statistics.median(stamps):.2f} s "
          f"runs {[round(x, 2) for x in stamps]}; with the cached index: "
          f"{statistics.median(warm) + statistics.median(stamps):.2f} s per builder")
    ok = statistics.median(cold) < 5 and statistics.median(warm) < 0.5 and same
    ok &= len(index) == facts.TOTAL_TRIPLETS and counts["holdout"] == facts.HOLDOUT_PATCHES
    ok &= counts["train"] == facts.TRAIN_PATCHES
    print("OK" if ok else "TARGET MISSED")


if __name__ == "__main__":
    main()
