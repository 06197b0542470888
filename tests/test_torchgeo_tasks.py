"""What torchgeo's own trainer tests check (tests/trainers/test_segmentation.py with the
sen12ms_*.yaml configs, test_no_plot_method, test_no_rgb), re-stated on a root shaped
like torchgeo's test data, with the plugin registered: Lightning fit, validate and test
of torchgeo's ``SemanticSegmentationTask`` on torchgeo's ``SEN12MSDataModule``, through
the Trainer and through LightningCLI; a fit without validation on a root that has none;
and a two-process DDP run in which every rank gets its own part of each split.

The root (``small_roots.torchgeo_shaped_root``): one non-hold-out scene per season, as
torchgeo's data has, plus a hold-out scene, 4 patches each, with ``train_list.txt`` and
``test_list.txt``.  The pooled validation rule takes one of the four scenes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from torchgeo.datamodules import SEN12MSDataModule
from torchgeo.main import main as torchgeo_main
from torchgeo.trainers import SemanticSegmentationTask

import sen12ms_plugins.torchgeo as plugin  # registers the plugin
from sen12ms_plugins.dataset import labels
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.errors import EmptySplitError, EmptySplitWarning, SmallSplitWarning

from .small_roots import (
    HOLDOUT_SCENE,
    ONE_PER_SEASON,
    ONE_PER_SEASON_VALIDATION,
    SINGLE_TRAIN_SCENE,
    patches_of,
    scene_root,
    torchgeo_shaped_root,
)

HERE = Path(__file__).resolve().parent
#: torchgeo's tasks warn that torchgeo.trainers moved (0.10); torchgeo's own tests use it too.
pytestmark = pytest.mark.filterwarnings("ignore:Use torchgeo.tasks:DeprecationWarning")


@pytest.fixture(scope="module")
def tg_root(sample_root, tmp_path_factory) -> Path:
    root = torchgeo_shaped_root(sample_root, tmp_path_factory.mktemp("torchgeo-shaped") / "root")
    build_index(root)  # cached once, before processes share the root
    return root


@pytest.fixture(scope="module")
def no_validation_root(sample_root, tmp_path_factory) -> Path:
    return scene_root(sample_root, tmp_path_factory.mktemp("one-train-scene") / "root", SINGLE_TRAIN_SCENE)


def _names(root: Path, *scenes) -> set[str]:
    return {pid.name for scene in scenes for pid in patches_of(root, scene)}


class Batches(Callback):
    """Counts batches per stage (sanity checks apart) and keeps the masks the task saw."""

    def __init__(self) -> None:
        self.count = {"train": 0, "val": 0, "test": 0}
        self.masks: list[torch.Tensor] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.count["train"] += 1
        self.masks.append(batch["mask"])

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self.count["val"] += 0 if trainer.sanity_checking else 1

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self.count["test"] += 1


def _task() -> SemanticSegmentationTask:
    return SemanticSegmentationTask(model="unet", backbone="resnet18", weights=None, in_channels=15, num_classes=11)


def _trainer(tmp_path: Path, callback: Callback, **kwargs) -> Trainer:
    options = dict(accelerator="cpu", fast_dev_run=True, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    return Trainer(callbacks=[callback], **{**options, **kwargs})


def test_fit_validate_and_test_like_torchgeos_task_tests(tg_root, tmp_path):
    assert plugin.is_registered()
    datamodule = SEN12MSDataModule(root=str(tg_root), batch_size=2, num_workers=0, checksum=False)
    batches = Batches()
    trainer = _trainer(tmp_path, batches)
    task = _task()
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptySplitWarning)  # every split has members here
        trainer.fit(task, datamodule=datamodule)
    assert batches.count == {"train": 1, "val": 1, "test": 0}
    assert "val_loss" in trainer.callback_metrics and "train_loss" in trainer.callback_metrics
    # the project's splits, not upstream's random 80/20 of train
    assert {p.name for p in datamodule.val_dataset.patch_ids} == _names(tg_root, ONE_PER_SEASON_VALIDATION)
    rest = [s for s in ONE_PER_SEASON if s != ONE_PER_SEASON_VALIDATION]
    assert {p.name for p in datamodule.train_dataset.patch_ids} == _names(tg_root, *rest)
    # masks reach the task in the simplified (DFC) classes, as upstream maps them
    assert all(int(m.max()) <= 10 for m in batches.masks)
    trainer.validate(task, datamodule=datamodule)
    assert batches.count["val"] == 2
    trainer.test(task, datamodule=datamodule)
    assert batches.count["test"] == 1 and "test_loss" in trainer.callback_metrics
    assert {p.name for p in datamodule.test_dataset.patch_ids} == _names(tg_root, HOLDOUT_SCENE)


def test_a_training_split_smaller_than_a_batch_is_said_once(tg_root, tmp_path):
    """torchgeo's training loader drops the last incomplete batch: a split of fewer triplets than
    one batch trains nothing, and Lightning ends the fit as if it had worked.  Said once, naming
    the split, its size, the batch size and what to pass instead."""
    n = len(_names(tg_root, *[s for s in ONE_PER_SEASON if s != ONE_PER_SEASON_VALIDATION]))  # 12
    datamodule = SEN12MSDataModule(root=str(tg_root), batch_size=n + 1, num_workers=0, checksum=False)
    batches = Batches()
    trainer = _trainer(tmp_path, batches, fast_dev_run=False, max_epochs=2, limit_val_batches=0)
    with pytest.warns(SmallSplitWarning) as caught:
        trainer.fit(_task(), datamodule=datamodule)
    ours = [w for w in caught if issubclass(w.category, SmallSplitWarning)]
    assert len(ours) == 1, [str(w.message) for w in ours]
    assert str(ours[0].message) == (
        f"SEN12MSDataModule: split 'train_minus_validation' of {tg_root} holds {n} triplets, fewer than one batch "
        f"of {n + 1}; torchgeo drops the last incomplete training batch (drop_last), so fit trains on nothing: "
        f"pass batch_size={n} or less")
    assert batches.count["train"] == 0 and trainer.global_step == 0  # what the warning is about


def test_a_training_split_of_one_batch_is_not_warned_about(tg_root):
    n = len(_names(tg_root, *[s for s in ONE_PER_SEASON if s != ONE_PER_SEASON_VALIDATION]))
    datamodule = SEN12MSDataModule(root=str(tg_root), batch_size=n, num_workers=0, checksum=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallSplitWarning)
        datamodule.setup("fit")
    assert len(datamodule.train_dataloader()) == 1


def test_a_subclass_of_the_datamodule_fits_too(tg_root, tmp_path):
    class MyDataModule(SEN12MSDataModule):  # inherits the methods registration installed
        pass

    # stored_batches=False: the loader's batch as torchgeo's own, looked at before on_after_batch_transfer
    datamodule = MyDataModule(root=str(tg_root), batch_size=4, num_workers=0, checksum=False, stored_batches=False)
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    igbp = batch["mask"].numpy().copy()
    mapped = datamodule.on_after_batch_transfer(batch, 0)["mask"]  # outside a trainer, as upstream allows
    assert torch.equal(mapped, torch.from_numpy(labels.igbp_to_dfc(igbp).astype("int64")))
    batches = Batches()
    _trainer(tmp_path, batches).fit(_task(), datamodule=datamodule)
    assert batches.count == {"train": 1, "val": 1, "test": 0}


def test_validate_with_torchgeos_own_plot_checks(tg_root, tmp_path, monkeypatch):
    # test_no_plot_method / test_no_rgb: validation runs when the datamodule cannot plot
    from torchgeo.datasets import RGBBandsMissingError

    def no_rgb(*args, **kwargs):
        raise RGBBandsMissingError()

    monkeypatch.setattr(SEN12MSDataModule, "plot", no_rgb)
    datamodule = SEN12MSDataModule(root=str(tg_root), batch_size=1, num_workers=0, checksum=False)
    batches = Batches()
    # (torchgeo's test uses 6 classes, which its fake masks stay within; the sample's reach 10)
    _trainer(tmp_path, batches).validate(model=_task(), datamodule=datamodule)
    assert batches.count["val"] == 1


def test_fit_without_validation_trains_and_says_so_once(no_validation_root, tmp_path):
    datamodule = SEN12MSDataModule(root=str(no_validation_root), batch_size=2, num_workers=0, checksum=False)
    batches = Batches()
    trainer = _trainer(tmp_path, batches, fast_dev_run=False, max_epochs=1)
    task = _task()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(task, datamodule=datamodule)
    messages = [str(w.message) for w in caught if issubclass(w.category, EmptySplitWarning)]
    assert len(messages) == 1
    assert "split 'validation' is empty: the root holds a single non-hold-out scene (ROIs1970_fall/1)" in messages[0]
    assert "SEN12MSDataModule fit trains on train_minus_validation without validation" in messages[0]
    # a whole epoch over the 4 patches (2 batches), no validation batch, and the task's
    # ReduceLROnPlateau (monitor val_loss) skipped its epoch-end step instead of failing
    assert batches.count == {"train": 2, "val": 0, "test": 0}
    assert trainer.current_epoch == 1 and "val_loss" not in trainer.callback_metrics
    assert datamodule.val_dataset is None and datamodule.val_dataloader() == []
    trainer.test(task, datamodule=datamodule)
    assert batches.count["test"] == 2
    with pytest.raises(EmptySplitError, match="split 'validation' is empty"):
        trainer.validate(task, datamodule=datamodule)


def test_the_warning_comes_from_rank_zero_only(no_validation_root, monkeypatch):
    datamodule = SEN12MSDataModule(root=str(no_validation_root), batch_size=2, num_workers=0, checksum=False)
    monkeypatch.setattr(rank_zero_only, "rank", 1)  # what Lightning sets in the second process
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptySplitWarning)
        datamodule.setup("fit")
    assert datamodule.fit_without_validation and datamodule.val_dataset is None


def test_lightning_cli_with_a_config_like_torchgeos(tg_root, tmp_path, monkeypatch):
    # tests/conf/sen12ms_all.yaml of torchgeo, with this root; run as test_trainer runs it.
    # batch_size 2, not 1: torchgeo's test swaps the U-Net for a 1x1 convolution; the real
    # one's batch norm needs two values per channel where 32 px patches shrink to 1x1.
    config = {
        "model": {"class_path": "SemanticSegmentationTask", "init_args": {
            "loss": "ce", "model": "unet", "backbone": "resnet18", "in_channels": 15, "num_classes": 11,
            "ignore_index": None}},
        "data": {"class_path": "SEN12MSDataModule", "init_args": {"batch_size": 2, "band_set": "all"},
                 "dict_kwargs": {"root": str(tg_root), "checksum": False}},
    }
    path = tmp_path / "sen12ms_all.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)  # LightningCLI writes its config and logs here
    args = ["--config", str(path), "--trainer.accelerator", "cpu", "--trainer.fast_dev_run", "True",
            "--trainer.max_epochs", "1", "--trainer.log_every_n_steps", "1"]
    torchgeo_main(["fit", *args])
    torchgeo_main(["test", *args])


def test_ddp_ranks_see_disjoint_parts_that_cover_each_split(tg_root, tmp_path):
    """Two CPU processes (Lightning's ddp strategy, gloo), a full epoch, then a test.

    Lightning gives each rank a DistributedSampler.  With N samples and 2 ranks it pads the
    split to an even count by repeating samples when N is odd, so that both ranks take the
    same number of steps; the splits here are even (train_minus_validation 12 patches,
    validation 4, holdout 4), so the two ranks' ids are exactly a partition of each split.
    """
    out = tmp_path / "ddp"
    out.mkdir()
    result = subprocess.run([sys.executable, str(HERE / "ddp_fit.py"), str(tg_root), str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    # Batches as stored, read by threads, each rank's loader re-made by Lightning with its own sampler.
    assert [rank["loader"] for rank in ranks] == [["SEN12MSLoader", "DistributedSampler"]] * 2
    rest = [s for s in ONE_PER_SEASON if s != ONE_PER_SEASON_VALIDATION]
    expected = {"train": _names(tg_root, *rest), "val": _names(tg_root, ONE_PER_SEASON_VALIDATION),
                "test": _names(tg_root, HOLDOUT_SCENE)}
    assert [len(expected[s]) for s in ("train", "val", "test")] == [12, 4, 4]
    for stage, members in expected.items():
        first, second = (rank[stage] for rank in ranks)
        assert len(first) == len(set(first)) == len(second) == len(members) // 2, stage
        assert not set(first) & set(second), stage
        assert set(first) | set(second) == members, stage
