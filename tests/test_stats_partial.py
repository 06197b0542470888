"""Statistics of a partial root: the splits with members are counted, the empty one is
named once with its reason (warning, ``DatasetStats.empty``, ``stats.json``)."""

from __future__ import annotations

import json
import warnings

import pytest

from sen12ms_plugins.analysis.stats import compute_stats
from sen12ms_plugins.errors import EmptySplitError, EmptySplitWarning

from .small_roots import SINGLE_TRAIN_SCENE, scene_root
from .test_cli_core import run_cli

REASON = ("the root holds a single non-hold-out scene (ROIs1970_fall/1); validation takes whole scenes "
          "and needs two or more non-hold-out scenes, to leave one to train on")


@pytest.fixture(scope="module")
def partial_root(sample_root, tmp_path_factory):
    return scene_root(sample_root, tmp_path_factory.mktemp("partial") / "root", SINGLE_TRAIN_SCENE)


def test_default_splits_leave_the_empty_one_out(partial_root, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats = compute_stats(partial_root)
    messages = [str(w.message) for w in caught if issubclass(w.category, EmptySplitWarning)]
    assert messages == [f"{partial_root}: split 'validation' is empty: {REASON}; the statistics cover "
                        "train, holdout, train_minus_validation and all only"]
    assert stats.splits == ("train", "holdout", "train_minus_validation", "all")
    assert stats.empty == {"validation": REASON}
    assert stats["train", "all"].patches == stats["train_minus_validation", "all"].patches == 4
    assert stats["holdout", "all"].patches == 4 and stats["all", "all"].patches == 8
    stats.write(tmp_path)
    written = json.loads((tmp_path / "stats.json").read_text())
    assert written["splits"] == list(stats.splits) and written["empty_splits"] == {"validation": REASON}
    with pytest.raises(EmptySplitError, match="split 'validation' is empty"):
        compute_stats(partial_root, splits=["validation"])


def test_stats_cli_says_it_once(partial_root, tmp_path):
    res = run_cli("stats", "--root", partial_root, "--out", tmp_path / "out", "--no-charts", "--quiet")
    assert res.returncode == 0, res.stderr
    assert res.stderr.splitlines() == [f"sen12ms stats: warning: {partial_root}: split 'validation' is empty: "
                                       f"{REASON}; the statistics cover train, holdout, train_minus_validation "
                                       "and all only"]
    table = res.stdout.split("bands of")[0].splitlines()
    assert [line.split()[0] for line in table[3:-1]] == ["train", "holdout", "train_minus_validation", "all"]
