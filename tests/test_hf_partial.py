"""Hugging Face on a partial root: the builder, ``prepare_hf`` and ``export_hf`` write the
splits that have members, say once which one is empty and why, and ``train`` is the parts
that exist.

The root: one non-hold-out scene (fall 1) and one hold-out scene (spring 124) of the
sample, so ``validation`` is empty (a whole scene would leave nothing to train on).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import datasets
import pytest
import yaml

from sen12ms_plugins.dataset.ids import SceneId
from sen12ms_plugins.errors import EmptySplitWarning
from sen12ms_plugins.hf import Sen12ms
from sen12ms_plugins.hf.export import export_hf
from sen12ms_plugins.hf.prepare import prepare_hf

from .small_roots import HOLDOUT_SCENE, SINGLE_TRAIN_SCENE, patches_of, scene_root
from .test_cli_core import run_cli

TRAIN_SCENE = SceneId("ROIs1970_fall", 1)
KEPT = ["train", "holdout", "train_minus_validation"]


@pytest.fixture(scope="module")
def partial_root(sample_root, tmp_path_factory) -> Path:
    return scene_root(sample_root, tmp_path_factory.mktemp("partial") / "root", SINGLE_TRAIN_SCENE)


def _names(root: Path, scene: SceneId) -> list[str]:
    return [pid.name for pid in patches_of(root, scene)]


def _empty_split_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, EmptySplitWarning)]


def test_builder_writes_the_splits_with_members(partial_root, tmp_path):
    builder = Sen12ms(config_name="s2", root=partial_root, cache_dir=str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        builder.download_and_prepare()
    (message,) = _empty_split_warnings(caught)
    assert "split 'validation' is empty: the root holds a single non-hold-out scene (ROIs1970_fall/1)" in message
    assert message.endswith("the Hugging Face build writes train, holdout, train_minus_validation only")
    assert list(builder.info.splits) == KEPT
    train = builder.as_dataset(split="train")
    assert train["id"] == _names(partial_root, TRAIN_SCENE)
    assert builder.as_dataset(split="train_minus_validation")["id"] == train["id"]
    assert builder.as_dataset(split="holdout")["id"] == _names(partial_root, HOLDOUT_SCENE)
    with pytest.raises(ValueError, match="validation"):  # datasets' own "unknown split"
        builder.as_dataset(split="validation")


def test_prepare_hf_reports_the_splits_prepared(partial_root, tmp_path):
    with pytest.warns(EmptySplitWarning, match="split 'validation' is empty") as caught:
        report = prepare_hf(partial_root, configs=["s2"], cache_dir=tmp_path)
    assert len(_empty_split_warnings(caught)) == 1
    assert report.counts["s2"] == {"train": 4, "holdout": 4, "train_minus_validation": 4}


def test_export_leaves_the_empty_split_out_and_says_why(partial_root, tmp_path):
    out = tmp_path / "hf"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = export_hf(partial_root, out, configs=["s2"], quiet=True)
    (message,) = _empty_split_warnings(caught)
    assert "split 'validation' is empty" in message and message.endswith("the export writes "
                                                                         "train, holdout, train_minus_validation only")
    assert sorted(report.shards["s2"]) == ["holdout", "train_minus_validation"]
    assert sorted(p.name.split("-")[0] for p in (out / "data" / "s2").glob("*.parquet")) == [
        "holdout", "train_minus_validation"]
    text = (out / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(text.split("---\n")[1])
    (config,) = header["configs"]
    assert [f["split"] for f in config["data_files"]] == KEPT
    assert [split["name"] for split in header["dataset_info"][0]["splits"]] == KEPT
    assert ("Not in this export, because the root it was written from holds no patch of them:\n"
            "- `validation`: the root holds a single non-hold-out scene (ROIs1970_fall/1)") in text
    train = datasets.load_dataset(str(out), "s2", split="train")
    assert train["id"] == _names(partial_root, TRAIN_SCENE)
    with pytest.raises(ValueError, match="validation"):
        datasets.load_dataset(str(out), "s2", split="validation")


def test_export_cli_carries_on_with_one_warning_line(partial_root, tmp_path):
    res = run_cli("export-hf", "--root", partial_root, "--out", tmp_path / "hf", "--config", "s2", "--quiet")
    assert res.returncode == 0, res.stderr
    warning_lines = [line for line in res.stderr.splitlines() if "warning" in line]
    assert len(warning_lines) == 1, res.stderr
    assert warning_lines[0].startswith(f"sen12ms export-hf: warning: {partial_root}: split 'validation' is empty")
    assert "s2: train 4, holdout 4, train_minus_validation 4 (2 shards" in res.stdout


def test_prepare_cli_says_it_once_for_several_configs(partial_root, tmp_path):
    env = {"HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_OFFLINE": "1"}
    res = run_cli("prepare-hf", "--root", partial_root, "--config", "s2", "--config", "s1s2",
                  "--cache-dir", tmp_path / "cache", env=env)
    assert res.returncode == 0, res.stderr
    warning_lines = [line for line in res.stderr.splitlines() if "warning" in line]
    assert warning_lines == [f"sen12ms prepare-hf: warning: {partial_root}: split 'validation' is empty: the root "
                             "holds a single non-hold-out scene (ROIs1970_fall/1); validation takes whole scenes and "
                             "needs two or more non-hold-out scenes, to leave one to train on; the Hugging Face "
                             "build writes train, holdout, train_minus_validation only"], res.stderr
    assert "s2: train 4, holdout 4, train_minus_validation 4" in res.stdout
    assert "s1s2: train 4, holdout 4, train_minus_validation 4" in res.stdout
