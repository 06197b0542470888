"""What a Lightning model sees from ``SEN12MSDataModule`` with batches as stored (the default),
through the real Trainer: tensor for tensor what it saw with ``stored_batches=False`` (torchgeo's
DataLoaders and float32 batches), every band set and label option, DFC2020 test splits included,
training shuffled over two epochs with worker processes or threads alike; and what torchgeo's
own datamodule and class give for the same triplets."""

from __future__ import annotations

import itertools
import types
import os

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer, seed_everything
from torch.utils.data import DataLoader
from torchgeo.datamodules import SEN12MSDataModule

import sen12ms_plugins.torchgeo as plugin  # registers the plugin
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import PatchId, write_patch_list
from sen12ms_plugins.torchgeo import SEN12MSLoader

from .helpers import assert_same_batch

BAND_SETS = tuple(plugin.SEN12MS.BAND_SETS)
LABELS = (None, "IGBP", "DFC", "LCCS_LC", "LCCS_LU", "LCCS_SH")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


class Recorder(LightningModule):
    """Keeps a copy of every batch its steps get (after ``on_after_batch_transfer``)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seen: list[tuple[str, dict]] = []

    def _keep(self, stage: str, batch: dict) -> torch.Tensor:
        self.seen.append((stage, {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in batch.items()}))
        return self.weight.sum() * 0

    def training_step(self, batch, batch_idx):
        return self._keep("train", batch)

    def validation_step(self, batch, batch_idx):
        self._keep("val", batch)

    def test_step(self, batch, batch_idx):
        self._keep("test", batch)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def seen_by_a_model(datamodule_class, tmp_path, stages=("fit", "test"), **options) -> list[tuple[str, dict]]:
    """Every batch a model's steps get in ``stages`` (fit: two epochs with validation), seeded alike."""
    seen = []
    for stage in stages:
        seed_everything(0, verbose=False)
        datamodule = datamodule_class(**options)
        model = Recorder()
        trainer = Trainer(accelerator="cpu", max_epochs=2, logger=False, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                          default_root_dir=tmp_path)
        (trainer.fit if stage == "fit" else trainer.test)(model, datamodule=datamodule)
        seen += model.seen
        if stage == "fit" and options.get("stored_batches", True):
            assert isinstance(trainer.train_dataloader, SEN12MSLoader)
    return seen


def assert_seen_alike(got, want) -> None:
    assert [stage for stage, _ in got] == [stage for stage, _ in want] and got
    for (stage, a), (_, b) in zip(got, want):
        assert_same_batch(a, b, stage)


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize("band_set", BAND_SETS)
def test_every_band_set_and_label_is_what_the_model_saw_before(real_layout_root, tmp_path, band_set, label):
    options = {"root": real_layout_root, "batch_size": 4, "num_workers": 0, "band_set": band_set, "checksum": False}
    if label is not None:
        options["label"] = label
    want = seen_by_a_model(SEN12MSDataModule, tmp_path, stored_batches=False, **options)
    got = seen_by_a_model(SEN12MSDataModule, tmp_path, **options)
    assert_seen_alike(got, want)
    assert {stage for stage, _ in got} == {"train", "val", "test"}


@pytest.mark.parametrize("workers", [0, 2])
def test_shuffled_epochs_scene_labels_and_metadata_with_workers_or_threads(sample_root, tmp_path, workers):
    # Band-interleaved files, uint16 land cover; torchgeo's loaders with 2 worker processes against 2 threads.
    options = {"root": sample_root, "batch_size": 3, "num_workers": workers, "band_set": "s2-reduced",
               "checksum": False, "scene_label": "multi", "metadata": True, "s1_nan": -50.0}
    assert_seen_alike(seen_by_a_model(SEN12MSDataModule, tmp_path, **options),
                      seen_by_a_model(SEN12MSDataModule, tmp_path, stored_batches=False, **options))


@pytest.mark.parametrize("test_split, options", [("dfc2020_test", {}), ("dfc2020_validation", {"label": "DFC"}),
                                                 ("dfc2020_test", {"scene_label": "single", "band_set": "s1"})])
def test_dfc2020_test_splits(dfc_root, tmp_path, test_split, options):
    options = {"root": dfc_root, "batch_size": 4, "num_workers": 0, "checksum": False, "test_split": test_split,
               **options}
    got = seen_by_a_model(SEN12MSDataModule, tmp_path, **options)
    assert_seen_alike(got, seen_by_a_model(SEN12MSDataModule, tmp_path, stored_batches=False, **options))
    tested = torch.cat([batch["mask"] for stage, batch in got if stage == "test"])
    assert len(tested) == len(plugin.SEN12MS(dfc_root, test_split, checksum=False))
    assert 1 <= int(tested.min()) and int(tested.max()) <= 10  # the 10 m labels, not mapped again


@pytest.fixture(scope="module")
def upstream_root(real_layout_root, tmp_path_factory):
    """A folder linking the root's seasons, with upstream's lists naming the hold-out patches and the
    damaged one (upstream's ``test`` = the plugin's ``holdout`` there, NaN included)."""
    shadow = tmp_path_factory.mktemp("upstream") / "root"
    shadow.mkdir()
    for season in facts.SEASONS:
        os.symlink(real_layout_root / season, shadow / season)
    pids = [*plugin.SEN12MS(real_layout_root, "holdout", checksum=False).patch_ids, PatchId(*facts.DAMAGED_PATCH)]
    for name in ("train_list.txt", "test_list.txt"):
        write_patch_list(shadow / name, sorted(pids, key=lambda pid: pid.filename("s2")))
    return shadow


@pytest.mark.parametrize("band_set", tuple(plugin.UpstreamSEN12MS.BAND_SETS))  # those torchgeo's datamodule knows
def test_test_batches_are_torchgeos_own(upstream_root, tmp_path, band_set):
    """torchgeo's own datamodule and class (the plugin unregistered) against the plugin's default."""
    options = {"root": upstream_root, "batch_size": 4, "num_workers": 0, "band_set": band_set, "checksum": False}
    plugin.unregister()
    try:
        want = seen_by_a_model(SEN12MSDataModule, tmp_path, stages=("test",), **options)
    finally:
        plugin.register()
    got = seen_by_a_model(SEN12MSDataModule, tmp_path, stages=("test",), **options)
    assert_seen_alike(got, want)
    image = torch.cat([batch["image"] for _, batch in got])
    assert bool(image.isnan().any()) == (band_set in ("all", "s1"))  # the damaged patch's S1 NaN, as upstream


def test_hand_iteration_gets_todays_batches_with_the_option_off(real_layout_root):
    """People who iterate dm.train_dataloader() by hand, without on_after_batch_transfer."""
    options = {"root": real_layout_root, "batch_size": 4, "num_workers": 0, "checksum": False}
    off = SEN12MSDataModule(stored_batches=False, **options)
    on = SEN12MSDataModule(**options)
    for dm in (off, on):
        dm.setup("test")
    plain = off.test_dataloader()
    assert type(plain) is DataLoader
    for today, stored in itertools.zip_longest(plain, on.test_dataloader()):
        assert list(today) == ["image", "mask"] and today["image"].dtype == torch.float32
        assert list(stored) == ["s1", "s2", "lc", "stored"]
        converted = on.on_after_batch_transfer(stored, 0)
        mapped = off.on_after_batch_transfer(today, 0)
        assert torch.equal(converted["image"], mapped["image"]) and torch.equal(converted["mask"], mapped["mask"])


def test_per_sample_transforms_take_todays_path(real_layout_root):
    def double(sample):
        return {**sample, "image": sample["image"] * 2}

    dm = SEN12MSDataModule(root=real_layout_root, batch_size=4, checksum=False, transforms=double)
    dm.setup("test")
    loader = dm.test_dataloader()
    assert type(loader) is DataLoader
    batch = next(iter(loader))
    plain = plugin.SEN12MS(real_layout_root, "holdout", checksum=False)
    assert torch.equal(batch["image"], torch.stack([2 * plain[i]["image"] for i in range(4)]))


def test_devices_without_full_uint16_support_take_todays_path(real_layout_root):
    # No MPS or XPU device here: a stand-in for the trainer Lightning attaches, with only what the
    # datamodule asks of it (the device its strategy trains on).
    dm = SEN12MSDataModule(root=real_layout_root, batch_size=4, checksum=False)
    dm.setup("test")
    for device, kind in (("cpu", SEN12MSLoader), ("meta", DataLoader)):
        dm.trainer = types.SimpleNamespace(strategy=types.SimpleNamespace(root_device=torch.device(device)))
        assert type(dm.test_dataloader()) is kind, device
