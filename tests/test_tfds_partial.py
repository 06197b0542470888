"""The TFDS builder on small and partial roots: the splits with members are written, one
warning names an empty one and why, ``train`` is made of the parts that exist, and the
validation scene of a root with one scene per season is the pooled rule's."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
import tensorflow_datasets as tfds

import sen12ms_plugins.tfds  # noqa: F401  (registers the builder)
from sen12ms_plugins.dataset.ids import SceneId
from sen12ms_plugins.dataset.root import ENV_VAR
from sen12ms_plugins.errors import EmptySplitWarning

from .small_roots import (
    HOLDOUT_SCENE,
    ONE_PER_SEASON,
    ONE_PER_SEASON_VALIDATION,
    SINGLE_TRAIN_SCENE,
    patches_of,
    scene_root,
)


@pytest.fixture(autouse=True)
def _no_root_from_environment(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def _build(root: Path, data_dir: Path) -> tuple[tfds.core.DatasetBuilder, list[str]]:
    """Prepare config s2 as array_record (read back without TensorFlow); the EmptySplitWarnings given."""
    builder = tfds.builder("sen12ms/s2", data_dir=data_dir, root=str(root))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        builder.download_and_prepare(file_format="array_record")
    return builder, [str(w.message) for w in caught if issubclass(w.category, EmptySplitWarning)]


def _ids(data_dir: Path, split: str) -> list[str]:
    source = tfds.data_source("sen12ms/s2", split=split, data_dir=data_dir)
    return sorted(source[i]["id"].decode() for i in range(len(source)))


def _names(root: Path, *scenes: SceneId) -> list[str]:
    return sorted(pid.name for scene in scenes for pid in patches_of(root, scene))


def test_single_train_scene_builds_without_validation(sample_root, tmp_path):
    root = scene_root(sample_root, tmp_path / "root", SINGLE_TRAIN_SCENE)
    builder, messages = _build(root, tmp_path / "tfds")
    assert len(messages) == 1
    assert "split 'validation' is empty: the root holds a single non-hold-out scene (ROIs1970_fall/1)" in messages[0]
    assert messages[0].endswith("the TFDS build writes train, holdout, train_minus_validation only")
    splits = builder.info.splits
    assert sorted(splits) == ["holdout", "train", "train_minus_validation"]
    train = _names(root, SceneId("ROIs1970_fall", 1))
    assert _ids(tmp_path / "tfds", "train") == _ids(tmp_path / "tfds", "train_minus_validation") == train
    assert _ids(tmp_path / "tfds", "holdout") == _names(root, HOLDOUT_SCENE)
    # train is still a view of its part, not a copy
    for train_file, part_file in zip(splits["train"].filepaths, splits["train_minus_validation"].filepaths, strict=True):
        assert os.path.samefile(train_file, part_file)


def test_one_scene_per_season_gets_a_validation_scene(sample_root, tmp_path):
    root = scene_root(sample_root, tmp_path / "root", ONE_PER_SEASON)
    builder, messages = _build(root, tmp_path / "tfds")
    # no hold-out scene here: that split is the one left out
    assert len(messages) == 1 and "split 'holdout' is empty: the root holds none of the 26 hold-out scenes" in messages[0]
    assert sorted(builder.info.splits) == ["train", "train_minus_validation", "validation"]
    assert _ids(tmp_path / "tfds", "validation") == _names(root, ONE_PER_SEASON_VALIDATION)
    rest = [s for s in ONE_PER_SEASON if s != ONE_PER_SEASON_VALIDATION]
    assert _ids(tmp_path / "tfds", "train_minus_validation") == _names(root, *rest)
    assert _ids(tmp_path / "tfds", "train") == _names(root, *ONE_PER_SEASON)
