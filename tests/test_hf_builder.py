"""The ``datasets`` builder used directly (datasets>=4): ``download_and_prepare`` + ``as_dataset``."""

from __future__ import annotations

import os

import datasets
import numpy as np
import pytest

from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import parse_patch_id
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.root import ENV_VAR
from sen12ms_plugins.dataset.splits import SPLITS, compute_splits
from sen12ms_plugins.errors import PatchFileError, RootError
from sen12ms_plugins.hf import Sen12ms, hf_features
from sen12ms_plugins.reading.configs import CONFIGS, get_config
from sen12ms_plugins.reading.reader import read_triplet

from . import crafted
from .conftest import TEST_PATCH_SIZE


@pytest.fixture(scope="module")
def prepared(sample_root, tmp_path_factory):
    builder = Sen12ms(config_name="all", root=sample_root, cache_dir=str(tmp_path_factory.mktemp("hf-cache")))
    builder.download_and_prepare()
    return builder


def test_splits_and_ids_equal_the_core(prepared, sample_root):
    core = compute_splits(build_index(sample_root))
    assert list(prepared.info.splits) == list(SPLITS)
    for split in SPLITS:
        ds = prepared.as_dataset(split=split)
        ids = list(ds["id"])
        if split == "train":
            assert ids == [p.name for part in ("train_minus_validation", "validation") for p in core[part]]
        else:
            assert ids == [p.name for p in core[split]]
        assert prepared.info.splits[split].num_examples == len(core[split])


#: The scene-label class names, by class number (DFC 2020; 0: no labelled pixel).
LABEL_NAMES = ["No data", "Forest", "Shrubland", "Savanna", "Grassland", "Wetlands", "Croplands", "Urban/Built-up",
               "Snow/Ice", "Barren", "Water"]
#: The season class names, by class number (the TFDS builder's, in its order).
SEASON_NAMES = ["spring", "summer", "fall", "winter"]
#: The features of configuration "all" for 32 px patches, written out.
ALL_FEATURES_32 = datasets.Features({
    "id": datasets.Value("string"), "season": datasets.ClassLabel(names=SEASON_NAMES),
    "scene": datasets.Value("int32"), "patch": datasets.Value("int32"),
    "lon": datasets.Value("float64"), "lat": datasets.Value("float64"),
    "s1": datasets.Array3D(shape=(2, 32, 32), dtype="float32"),
    "s2": datasets.Array3D(shape=(13, 32, 32), dtype="uint16"),
    "lc": datasets.Array3D(shape=(4, 32, 32), dtype="uint16"),
    "igbp": datasets.Array2D(shape=(32, 32), dtype="uint16"),
    "dfc": datasets.Array2D(shape=(32, 32), dtype="uint8"),
    "label": datasets.ClassLabel(names=LABEL_NAMES),
    "labels": datasets.Sequence(datasets.Value("bool"), length=11),
})


def test_features_and_pixels(prepared, sample_root):
    ds = prepared.as_dataset(split="validation")
    assert TEST_PATCH_SIZE == 32
    assert ds.features == ALL_FEATURES_32
    assert list(ds.features) == list(ALL_FEATURES_32)
    assert hf_features(get_config("all"), 32) == ALL_FEATURES_32
    assert prepared.info.license == facts.LICENSE and prepared.info.citation == facts.CITATION_BIBTEX
    for row in ds.with_format("numpy"):
        truth = read_triplet(sample_root, parse_patch_id(row["id"]))
        for sensor in facts.SENSORS:
            np.testing.assert_array_equal(row[sensor], truth[sensor])


def test_train_is_not_stored_twice(prepared):
    files = sorted(os.listdir(prepared.cache_dir))
    train = [f for f in files if f.startswith("sen12ms-train-")]
    parts = [f for f in files if f.startswith(("sen12ms-train_minus_validation", "sen12ms-validation"))]
    assert len(train) == len(parts) >= 2
    inodes = {os.stat(os.path.join(prepared.cache_dir, f)).st_ino for f in train + parts}
    assert len(inodes) == len(parts), "train's files are links to its parts' files"


def test_streaming_from_the_builder(sample_root, tmp_path):
    builder = Sen12ms(config_name="s2", root=sample_root, cache_dir=str(tmp_path))
    ids = [row["id"] for row in builder.as_streaming_dataset(split="train")]
    core = compute_splits(build_index(sample_root))
    assert ids == [p.name for part in ("train_minus_validation", "validation") for p in core[part]]
    assert not any(p.suffix == ".arrow" for p in tmp_path.rglob("*")), "streaming writes nothing"


@pytest.mark.parametrize("name", list(CONFIGS))
def test_configs(sample_root, tmp_path, name):
    builder = Sen12ms(config_name=name, root=sample_root, cache_dir=str(tmp_path))
    assert builder.config.name == name and builder.config_id == name
    assert [k for k in builder.info.features if k in facts.SENSORS] == list(get_config(name).sensors)
    with pytest.raises(ValueError, match="unknown configuration 'rgb'"):
        Sen12ms(config_name="rgb", root=sample_root, cache_dir=str(tmp_path))


def test_root_rule(sample_root, copy_tree, tmp_path, monkeypatch):
    other = copy_tree(sample_root, "other")
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(RootError, match=ENV_VAR):
        Sen12ms(cache_dir=str(tmp_path))
    assert Sen12ms(data_dir=str(other), cache_dir=str(tmp_path)).root == other
    monkeypatch.setenv(ENV_VAR, str(sample_root))
    assert Sen12ms(data_dir=str(other), cache_dir=str(tmp_path)).root == sample_root  # env beats data_dir
    assert Sen12ms(root=other, data_dir=str(sample_root), cache_dir=str(tmp_path)).root == other  # argument wins
    with pytest.raises(RootError, match="does not exist"):
        Sen12ms(root=tmp_path / "nowhere", cache_dir=str(tmp_path))


def test_cache_key_follows_the_root(sample_root, copy_tree, tmp_path):
    root = copy_tree(sample_root)
    first = Sen12ms(root=root, cache_dir=str(tmp_path)).cache_dir
    assert Sen12ms(root=root, cache_dir=str(tmp_path)).cache_dir == first
    pid = build_index(root).triplets[0]
    for sensor in facts.SENSORS:
        pid.path(root, sensor).unlink()
    assert Sen12ms(root=root, cache_dir=str(tmp_path)).cache_dir != first, "other triplets, other prepared data"


def test_empty_root_and_bad_file_are_errors(tmp_path, sample_root, copy_tree):
    # A partial root leaves its empty splits out (tests/test_hf_partial.py); none at all is an
    # error that says how to download (tests/test_tfds_root_check.py for the same rule in TFDS).
    (tmp_path / "empty" / facts.SEASONS[0]).mkdir(parents=True)
    with pytest.raises(RootError, match=r"holds no SEN12MS triplet .*`sen12ms download --root"):
        Sen12ms(root=tmp_path / "empty", cache_dir=str(tmp_path)).download_and_prepare()

    root = copy_tree(sample_root, "bad")
    bad = compute_splits(build_index(root))["holdout"][2].path(root, "lc")
    bad.write_bytes(b"\0" * 100)
    with pytest.raises(PatchFileError, match=str(bad)):
        Sen12ms(root=root, cache_dir=str(tmp_path / "c2")).download_and_prepare()
    assert not list((tmp_path / "c2").rglob("dataset_info.json")), "nothing looks prepared"


def test_patch_of_another_size_is_named(sample_root, copy_tree, tmp_path):
    from sen12ms_plugins.demo.sample import make_sample

    root = copy_tree(sample_root)
    small = tmp_path / "small"
    make_sample(small, patch_size=16, patches_per_scene=4)
    pid = compute_splits(build_index(root))["holdout"][-1]
    for sensor in facts.SENSORS:
        pid.path(root, sensor).write_bytes(pid.path(small, sensor).read_bytes())
    with pytest.raises(PatchFileError, match=rf"{pid.path(root, 'lc')}: is 16x16 pixels, but .* 32x32"):
        Sen12ms(root=root, cache_dir=str(tmp_path / "c")).download_and_prepare()


def test_formats(prepared):
    import torch

    ds = prepared.as_dataset(split="holdout")
    assert ds.with_format("numpy")[0]["s2"].dtype == np.int64
    assert ds.with_format("torch")[0]["s2"].dtype == torch.int64
    assert ds.with_format("torch")[0]["s1"].dtype == torch.float32
    assert isinstance(ds[0]["label"], int) and ds.features["label"].int2str(ds[0]["label"]) != "No data"


def test_num_proc_2_and_small_shards(sample_root, tmp_path):
    builder = Sen12ms(config_name="s2", root=sample_root, cache_dir=str(tmp_path))
    builder.download_and_prepare(num_proc=2, max_shard_size=20_000)
    core = compute_splits(build_index(sample_root))
    assert builder.info.splits["train_minus_validation"].shard_lengths  # several files per split
    train = builder.as_dataset(split="train")
    assert sorted(train["id"]) == sorted(p.name for p in core["train"])
    assert len(builder.info.splits["train"].shard_lengths) == sum(
        len(builder.info.splits[p].shard_lengths or [0]) for p in ("train_minus_validation", "validation"))
    assert list(builder.as_dataset(split="holdout")["id"]) == [p.name for p in core["holdout"]]


def test_crafted_root_split_order_and_fields(crafted_root, tmp_path):
    """Hugging Face gives each split in dataset order (season, scene number, patch number);
    ``train`` is ``train_minus_validation``, then ``validation``.  Fields against what the
    crafted files hold and must give, worked out by hand (tests/crafted.py)."""
    builder = Sen12ms(config_name="all", root=crafted_root, cache_dir=str(tmp_path))
    builder.download_and_prepare()
    expected = {
        "holdout": ["ROIs1158_spring_124_p5", "ROIs1158_spring_124_p7", "ROIs1158_spring_124_p30",
                    "ROIs1158_spring_124_p100"],
        "validation": ["ROIs1158_spring_45_p1", "ROIs1158_spring_45_p2"],
        "train_minus_validation": ["ROIs1158_spring_9_p3", "ROIs1868_summer_146_p203"],
    }
    expected["train"] = expected["train_minus_validation"] + expected["validation"]
    assert list(builder.info.splits) == ["train", "holdout", "validation", "train_minus_validation"]
    for split, ids in expected.items():
        ds = builder.as_dataset(split=split)
        assert list(ds["id"]) == ids, split
        assert [row["id"] for row in builder.as_streaming_dataset(split=split)] == ids, split
        assert builder.info.splits[split].num_examples == len(ids)
        for row in ds.with_format("numpy"):
            key = crafted.key_of(str(row["id"]))
            p = crafted.PATCHES[key]
            assert (SEASON_NAMES[row["season"]], row["scene"], row["patch"]) == (key[0].split("_")[1], key[1], key[2])
            assert (row["lon"], row["lat"]) == pytest.approx(p["lonlat"], abs=1e-9)
            np.testing.assert_array_equal(row["s1"], crafted.s1_pixels(key))
            np.testing.assert_array_equal(row["s2"], crafted.s2_pixels(key))
            np.testing.assert_array_equal(row["lc"], crafted.lc_pixels(key))
            np.testing.assert_array_equal(row["igbp"], p["igbp"])
            np.testing.assert_array_equal(row["dfc"], p["dfc"])
            assert int(row["label"]) == p["single"], key
            assert row["labels"].dtype == np.bool_ and list(np.flatnonzero(row["labels"])) == p["multi"], key
