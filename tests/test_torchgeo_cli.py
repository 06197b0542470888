"""torchgeo's own command line (``torchgeo fit|validate|test --config``, ``torchgeo.main.main``)
on the configs of this repository (``configs/torchgeo/``), in a fresh interpreter that never
imports the plugin itself: the config's ``class_path`` is what imports, and so registers, it.

A probe callback (``tests/torchgeo_probe.py``, which imports nothing of the package) records
the datasets the datamodule built: the plugin's splits, with the core's members.  Each run
reads the test sample (32 px patches) for two training batches at most; batch size 2, since
the U-Net's batch norm needs two values per channel where 32 px shrink to 1x1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import compute_splits

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs" / "torchgeo").glob("*.yaml"))
PROBE = "tests.torchgeo_probe.SplitProbe"
#: What the plugin's dataset class is, seen from another process.
PLUGIN_DATASET = "sen12ms_plugins.torchgeo.dataset.SEN12MS"
#: Everything a run needs beyond the config: this root, the CPU, two short epochs' worth of batches.
RUN_ARGS = ["--trainer.accelerator", "cpu", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
            "--trainer.limit_val_batches", "1", "--trainer.limit_test_batches", "1",
            "--trainer.enable_progress_bar", "false", "--trainer.log_every_n_steps", "1",
            "--data.init_args.batch_size", "2", "--data.init_args.num_workers", "0"]


def torchgeo(args: list[str], cwd: Path, probe_out: Path) -> subprocess.CompletedProcess:
    """``torchgeo <args>`` as its console script runs it (``torchgeo.main.main``), in a fresh
    interpreter whose code imports torchgeo only."""
    code = "import sys; from torchgeo.main import main; main(sys.argv[1:])"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
               SEN12MS_PROBE_OUT=str(probe_out))
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def probed(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_config_has_torchgeos_keys_and_matching_channels():
    assert [c.stem for c in CONFIGS] == sorted(f"sen12ms_{n.replace('-', '_')}" for n in facts.BAND_SETS)
    for path in CONFIGS:
        config = yaml.safe_load(path.read_text())
        model, data = config["model"], config["data"]
        assert model["class_path"] == "sen12ms_plugins.torchgeo.SemanticSegmentation"
        assert set(model["init_args"]) == {"loss", "model", "backbone", "in_channels", "num_classes", "ignore_index"}
        assert data["class_path"] == "sen12ms_plugins.torchgeo.SEN12MSDataModule"
        band_set = data["init_args"]["band_set"]
        assert path.stem == f"sen12ms_{band_set.replace('-', '_')}"
        assert model["init_args"]["in_channels"] == len(facts.BAND_SETS[band_set])
        assert model["init_args"]["num_classes"] == 11  # the simplified classes 1-10 and 0, as torchgeo's
        assert data["dict_kwargs"] == {"root": "/data/sen12ms"}


def test_torchgeo_fit_validate_and_test_on_the_plugins_splits(sample_root, tmp_path):
    splits = compute_splits(build_index(sample_root))
    expected = {name: sorted(pid.filename("s2") for pid in splits[name])
                for name in ("train_minus_validation", "validation", "holdout")}
    config = REPO / "configs" / "torchgeo" / "sen12ms_all.yaml"
    common = ["--config", str(config), "--data.dict_kwargs.root", str(sample_root), *RUN_ARGS,
              "--trainer.callbacks+=" + PROBE]
    out = tmp_path / "probe.jsonl"
    torchgeo(["fit", *common], tmp_path, out)
    torchgeo(["test", *common], tmp_path, out)
    fit, test = probed(out)
    for record in (fit, test):
        assert record["plugin_imported"]
        assert record["datamodule"] == "torchgeo.datamodules.sen12ms.SEN12MSDataModule"  # torchgeo's own class
    assert fit["stage"] == "fit" and set(fit["datasets"]) == {"train_dataset", "val_dataset"}
    train, val = fit["datasets"]["train_dataset"], fit["datasets"]["val_dataset"]
    assert train["class"] == val["class"] == PLUGIN_DATASET
    assert (train["split"], sorted(train["ids"])) == ("train_minus_validation", expected["train_minus_validation"])
    assert (val["split"], sorted(val["ids"])) == ("validation", expected["validation"])
    tested = test["datasets"]["test_dataset"]
    assert test["stage"] == "test"
    assert (tested["class"], tested["split"], sorted(tested["ids"])) == (PLUGIN_DATASET, "holdout", expected["holdout"])

    # The config Lightning saved with the logs names the plugin too: validating from it registers it again.
    saved = tmp_path / "lightning_logs" / "version_0" / "config.yaml"
    assert yaml.safe_load(saved.read_text())["data"]["class_path"] == "sen12ms_plugins.torchgeo.SEN12MSDataModule"
    again = tmp_path / "again.jsonl"
    torchgeo(["validate", "--config", str(saved)], tmp_path, again)  # the probe is in the saved config
    (validate,) = probed(again)
    assert validate["datasets"]["val_dataset"]["split"] == "validation"
    assert sorted(validate["datasets"]["val_dataset"]["ids"]) == expected["validation"]


def test_torchgeos_own_config_through_the_plugins_module(sample_root, tmp_path):
    """torchgeo's tests/conf/sen12ms_s2_reduced.yaml as torchgeo has it (short class names only),
    run by ``python -m sen12ms_plugins.torchgeo``, which registers the plugin first."""
    config = tmp_path / "sen12ms_s2_reduced.yaml"
    config.write_text(yaml.safe_dump({
        "model": {"class_path": "SemanticSegmentationTask", "init_args": {
            "loss": "ce", "model": "unet", "backbone": "resnet18", "in_channels": 6, "num_classes": 11,
            "ignore_index": None}},
        "data": {"class_path": "SEN12MSDataModule", "init_args": {"batch_size": 1, "band_set": "s2-reduced"},
                 "dict_kwargs": {"root": str(sample_root)}}}))
    out = tmp_path / "probe.jsonl"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
               SEN12MS_PROBE_OUT=str(out))
    done = subprocess.run([sys.executable, "-m", "sen12ms_plugins.torchgeo", "fit", "--config", str(config), *RUN_ARGS,
                           "--trainer.callbacks+=" + PROBE], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    (fit,) = probed(out)
    assert fit["datasets"]["train_dataset"]["split"] == "train_minus_validation"
    assert fit["datasets"]["train_dataset"]["class"] == PLUGIN_DATASET


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_config_parses_against_the_installed_classes(config, capsys, monkeypatch):
    """LightningCLI checks each key against the classes' signatures (``--print_config`` stops there)."""
    from torchgeo.main import main

    monkeypatch.setattr(sys, "argv", ["torchgeo"])  # pytest's own arguments are not torchgeo's
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--config", str(config), "--print_config"])
    assert stop.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["data"]["init_args"]["test_split"] == "holdout"  # the plugin's keyword: the plugin is registered
