"""Split rules: hold-out from the scene list, train, scene-level validation, determinism."""

import gzip
import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import PatchId, SceneId, format_patch_list, read_patch_list
from sen12ms_plugins.dataset.index import Index, build_index
from sen12ms_plugins.dataset.splits import (
    HOLDOUT_SCENES_FILE,
    SPLITS,
    canonical_split,
    choose_validation_scenes,
    compute_splits,
    holdout_scenes,
)
from sen12ms_plugins.errors import EmptySplitError

from .conftest import touch_tree

DATA = Path(__file__).parent / "data"


#: md5 and size of upstream's ``splits/SEN12MS_holdOutScenes.txt`` in schmitt-muc/SEN12MS (git blob
#: 958f44212cb0d514e6259240ca612311930c0d3f, last changed in commit b5752a47, HEAD 3a41236a at copying
#: time), computed with ``md5sum`` on an independent byte-for-byte copy of the upstream file
#: (/work/shared/reference/SEN12MS_holdOutScenes.txt in the development setup), not on the shipped file.
UPSTREAM_HOLDOUT_MD5 = "377c8e9fa35cdef1cfb891734b99d7a2"
UPSTREAM_HOLDOUT_BYTES = 566


def test_shipped_holdout_list_is_the_official_one():
    # HOLDOUT_SCENES_FILE is the copy the package reads (sen12ms_plugins/dataset/split_lists/).
    shipped = HOLDOUT_SCENES_FILE.read_bytes()
    assert len(shipped) == UPSTREAM_HOLDOUT_BYTES
    assert hashlib.md5(shipped).hexdigest() == UPSTREAM_HOLDOUT_MD5
    scenes = holdout_scenes()
    assert len(scenes) == facts.HOLDOUT_SCENES == 26
    per_season = {s: sum(1 for x in scenes if x.season == s) for s in facts.SEASONS}
    assert per_season == {"ROIs1158_spring": 6, "ROIs1868_summer": 7, "ROIs1970_fall": 8, "ROIs2017_winter": 5}


@pytest.fixture(scope="module")
def upstream_tree(tmp_path_factory):
    """Empty files named after every upstream hold-out patch, plus non-hold-out scenes."""
    raw = gzip.decompress((DATA / "test_list.txt.gz").read_bytes())
    root = tmp_path_factory.mktemp("upstream")
    (root / "test_list.txt").write_bytes(raw)
    holdout = read_patch_list(root / "test_list.txt")
    others = [PatchId(season, scene, p) for season in facts.SEASONS for scene in (2, 5) for p in range(0, 40, 3)]
    others.append(PatchId(*facts.DAMAGED_PATCH))
    touch_tree(root, [p.relpath(s) for p in holdout + others for s in facts.SENSORS])
    return root, raw, holdout, others


def test_holdout_equals_upstream_test_list(upstream_tree):
    root, raw, holdout, others = upstream_tree
    splits = compute_splits(build_index(root))
    assert set(splits["holdout"]) == set(holdout)
    assert len(splits["holdout"]) == facts.HOLDOUT_PATCHES
    assert splits.counts()["holdout"] == {**facts.HOLDOUT_PATCHES_PER_SEASON, "total": facts.HOLDOUT_PATCHES}
    assert format_patch_list(splits["test"]) == raw
    assert set(splits["train"]) == set(others) - {PatchId(*facts.DAMAGED_PATCH)}


def test_split_invariants_on_the_sample(sample_root):
    splits = compute_splits(build_index(sample_root))
    train, holdout = set(splits["train"]), set(splits["holdout"])
    val, rest = set(splits["validation"]), set(splits["train_minus_validation"])
    damaged = PatchId(*facts.DAMAGED_PATCH)
    assert damaged in splits.index and damaged not in train | holdout
    assert not train & holdout
    assert train | holdout | {damaged} == set(splits.index.triplets)
    assert val | rest == train and not val & rest
    # scene level: no scene on both sides
    assert not {p.scene_id for p in val} & {p.scene_id for p in rest}
    # every season gives validation scenes, and keeps training scenes
    assert {p.season for p in val} == {p.season for p in rest} == set(facts.SEASONS)
    assert all(splits.split_of(p) == "holdout" for p in holdout)
    assert all(splits.split_of(p) == "validation" for p in val)
    assert splits.split_of(damaged) is None
    counts = splits.counts()
    assert {n: counts[n]["total"] for n in SPLITS} == {
        "train": 51, "holdout": 28, "validation": 16, "train_minus_validation": 35}


def test_validation_is_about_ten_percent_per_season():
    rng = random.Random(7)
    counts = {SceneId(season, scene): rng.randint(200, 850)
              for season in facts.SEASONS for scene in rng.sample(range(150), 55)}
    chosen = set(choose_validation_scenes(counts))
    for season in facts.SEASONS:
        total = sum(n for s, n in counts.items() if s.season == season)
        share = sum(n for s, n in counts.items() if s.season == season and s in chosen) / total
        assert 0.08 <= share <= 0.12, (season, share)


def test_validation_rule_ignores_input_order():
    counts = {SceneId(season, scene): 100 + 7 * scene for season in facts.SEASONS for scene in range(1, 60, 2)}
    items = list(counts.items())
    random.Random(1).shuffle(items)
    assert choose_validation_scenes(dict(items)) == choose_validation_scenes(counts)
    index = Index(root=Path("/x"), triplets=tuple(PatchId(s.season, s.scene, p) for s, n in items for p in range(3)))
    shuffled = Index(root=Path("/x"), triplets=tuple(random.Random(2).sample(index.triplets, len(index.triplets))))
    assert compute_splits(index).validation_scenes == compute_splits(shuffled).validation_scenes


def test_validation_needs_two_scenes_per_season():
    assert choose_validation_scenes({SceneId("ROIs1158_spring", 1): 500}) == ()
    two = choose_validation_scenes({SceneId("ROIs1158_spring", 1): 500, SceneId("ROIs1158_spring", 2): 5})
    assert len(two) == 1


@pytest.mark.parametrize("seed", ["0", "1", "4242"])
def test_validation_independent_of_hash_seed(sample_root, seed):
    code = ("import json, sys; from sen12ms_plugins import build_index, compute_splits;"
            "s = compute_splits(build_index(sys.argv[1], use_cache=False));"
            "print(json.dumps([p.name for p in s['validation']]))")
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run([sys.executable, "-c", code, str(sample_root)], env=env, check=True,
                         capture_output=True, text=True).stdout
    expected = [p.name for p in compute_splits(build_index(sample_root))["validation"]]
    assert json.loads(out) == expected


def test_empty_holdout_is_a_clear_error(tmp_path):
    pid = PatchId("ROIs1970_fall", 1, 514)
    touch_tree(tmp_path, [pid.relpath(s) for s in facts.SENSORS])
    splits = compute_splits(build_index(tmp_path))
    with pytest.raises(EmptySplitError, match="none of the 26 hold-out scenes"):
        splits["holdout"]
    with pytest.raises(EmptySplitError, match="two or more non-hold-out scenes"):
        splits["validation"]
    assert splits["train"] == (pid,)


def test_empty_root_is_a_clear_error(tmp_path):
    with pytest.raises(EmptySplitError, match="no complete SEN12MS triplet"):
        compute_splits(build_index(tmp_path))["train"]


def test_split_names():
    assert canonical_split("test") == "holdout"
    with pytest.raises(ValueError, match="unknown split 'val'"):
        canonical_split("val")


def test_upstream_lists_are_compared(upstream_tree, capsys):
    from sen12ms_plugins.cli import main
    from sen12ms_plugins.dataset.splits import compare_upstream_lists

    root, raw, holdout, others = upstream_tree
    (comparison,) = compare_upstream_lists(compute_splits(build_index(root)))
    assert comparison.agrees and comparison.listed == facts.HOLDOUT_PATCHES
    assert main(["splits", "--root", str(root)]) == 0
    assert "test_list.txt: 18,106 patches, the same as split 'holdout'" in capsys.readouterr().out


def test_upstream_list_that_differs(tmp_path, capsys):
    from sen12ms_plugins.cli import main

    kept = PatchId("ROIs1158_spring", 124, 505)
    touch_tree(tmp_path, [kept.relpath(s) for s in facts.SENSORS] +
               [PatchId("ROIs1970_fall", 1, 514).relpath(s) for s in facts.SENSORS])
    (tmp_path / "test_list.txt").write_bytes(b"ROIs1158_spring_s2_124_p505.tif\r\nROIs1158_spring_s2_124_p697.tif\r\n")
    assert main(["splits", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "test_list.txt: differs from split 'holdout': 1 listed patches are not complete triplets here" in err
    assert "ROIs1158_spring_s2_124_p697.tif" in err


#: A line of the toolbox's scene lists, as its ValidationScenes.txt (deleted upstream in commit 7611378,
#: 2020-10-21) writes them: ``ROIs1158_spring/s2_112``, LF endings.
TOOLBOX_SCENE_LINE = r"ROIs(1158_spring|1868_summer|1970_fall|2017_winter)/s2_[1-9]\d*"


def test_validation_scenes_are_written_in_the_toolboxs_format(sample_root, tmp_path):
    """``sen12ms splits --write-lists DIR`` writes the root's validation scenes as the toolbox's
    ValidationScenes.txt lists its own (one ``<season folder>/s2_<scene>`` a line); the file and
    the rule agree, read back through the reader of the shipped hold-out list."""
    import re

    from sen12ms_plugins.cli import main
    from sen12ms_plugins.dataset.ids import read_scene_list

    assert main(["splits", "--root", str(sample_root), "--write-lists", str(tmp_path), "--json"]) == 0
    path = tmp_path / "validation_scenes.txt"
    text = path.read_text()
    assert text.endswith("\n") and "\r" not in text
    assert all(re.fullmatch(TOOLBOX_SCENE_LINE, line) for line in text.splitlines())
    assert read_scene_list(path) == list(compute_splits(build_index(sample_root)).validation_scenes)
