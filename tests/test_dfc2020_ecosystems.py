"""The DFC2020 splits in torchgeo, TFDS and Hugging Face, compared with the zips' own labels.

The root holds the SEN12MS sample and DFC2020-like zips in the wider variant (s1 float64, dfc
int32, no set folder), added with add-dfc2020.  Every mask is compared with the label that
rasterio reads from the zip's bytes; the SEN12MS splits are unchanged beside them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import rasterio
import torch

from sen12ms_plugins.dataset import facts, labels
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import DFC2020_SPLITS, SPLITS, compute_splits
from sen12ms_plugins.errors import DFC2020NotAddedError

from .dfc2020_fixtures import as_uint8, zip_arrays, zip_labels

pytestmark = [pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning"),
              pytest.mark.filterwarnings("ignore:Use torchgeo.tasks:DeprecationWarning")]


def _expected(dfc_zips, split):
    folder = DFC2020_SPLITS[split]
    return {f"{folder}_0_p{n}": as_uint8(label) for n, label in zip_labels(dfc_zips, folder).items()}


# --- torchgeo ---------------------------------------------------------------------------------


def test_torchgeo_masks_are_the_zips_labels(dfc_root, dfc_zips):
    import torchgeo.datasets

    import sen12ms_plugins.torchgeo  # noqa: F401  (registers the plugin)

    for split, folder in DFC2020_SPLITS.items():
        ds = torchgeo.datasets.SEN12MS(str(dfc_root), split=split, metadata=True, scene_label="single")
        expected = _expected(dfc_zips, split)
        assert ds.ids == sorted(f"{folder}_s2_0_p{n}.tif" for n in range(len(expected)))  # upstream's text order
        s1 = zip_arrays(dfc_zips / facts.dfc2020_zip_name(folder, "s1"))
        s2 = zip_arrays(dfc_zips / facts.dfc2020_zip_name(folder, "s2"))
        for i in range(len(ds)):
            sample = ds[i]
            n = int(sample["patch_id"].rsplit("_p", 1)[1])
            assert sample["mask"].dtype == torch.int64
            np.testing.assert_array_equal(sample["mask"].numpy(), expected[sample["patch_id"]])
            assert s1[n].dtype == np.float64
            np.testing.assert_array_equal(sample["image"][:2].numpy(), s1[n].astype(np.float32))
            np.testing.assert_array_equal(sample["image"][2:].numpy(), s2[n].astype(np.float32))
            assert int(sample["season"]) == -1 and sample["crs"] == "" and torch.isnan(sample["bounds"]).all()
            counts = np.bincount(expected[sample["patch_id"]].ravel(), minlength=11)[1:11]
            assert int(sample["label"]) == int(np.argmax(counts)) + 1
        assert len(torchgeo.datasets.SEN12MS(str(dfc_root), split=split, label="DFC")) == len(expected)


def test_torchgeo_label_options_that_make_no_sense_for_dfc2020(dfc_root, plain_root):
    from sen12ms_plugins.torchgeo import SEN12MS

    for label in ("IGBP", "LCCS_LC", "LCCS_LU", "LCCS_SH"):
        with pytest.raises(ValueError, match=f"label={label!r} makes no sense for split 'dfc2020_test'"):
            SEN12MS(str(dfc_root), split="dfc2020_test", label=label)
    with pytest.raises(ValueError, match="unknown label layer"):
        SEN12MS(str(dfc_root), split="dfc2020_test", label="dfc")
    # the SEN12MS splits keep upstream's default and every layer
    assert SEN12MS(str(dfc_root), split="holdout").label == "IGBP"
    assert SEN12MS(str(dfc_root), split="holdout", label="LCCS_LC").ids == SEN12MS(str(plain_root), split="test").ids


def test_torchgeo_without_dfc2020_says_how_to_add_it(plain_root):
    from sen12ms_plugins.torchgeo import SEN12MS

    with pytest.raises(DFC2020NotAddedError, match="sen12ms add-dfc2020 --root") as info:
        SEN12MS(str(plain_root), split="dfc2020_validation")
    assert "IEEE DataPort" in str(info.value)


def test_the_datamodule_tests_on_dfc2020(dfc_root, dfc_zips, tmp_path):
    from lightning.pytorch import Callback, Trainer
    from torchgeo.datamodules import SEN12MSDataModule
    from torchgeo.trainers import SemanticSegmentationTask

    import sen12ms_plugins.torchgeo  # noqa: F401

    class Masks(Callback):
        def __init__(self):
            self.test: list[torch.Tensor] = []
            self.train: list[torch.Tensor] = []

        def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
            self.test.append(batch["mask"])

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.train.append(batch["mask"])

    datamodule = SEN12MSDataModule(root=str(dfc_root), batch_size=16, num_workers=0, checksum=True,
                                   test_split="dfc2020_test")
    masks = Masks()
    trainer = Trainer(accelerator="cpu", fast_dev_run=True, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                      callbacks=[masks])
    task = SemanticSegmentationTask(model="unet", backbone="resnet18", weights=None, in_channels=15, num_classes=11)
    trainer.fit(task, datamodule=datamodule)
    trainer.test(task, datamodule=datamodule, verbose=False)
    assert "test_loss" in trainer.callback_metrics
    ids = [pid.name for pid in datamodule.test_dataset.patch_ids]
    expected = _expected(dfc_zips, "dfc2020_test")
    # the test batch's masks are the 10 m labels, not mapped again after transfer
    np.testing.assert_array_equal(masks.test[0].numpy(), np.stack([expected[i] for i in ids[:16]]).astype(np.int64))
    # training masks are in the simplified classes (mapped when read), as upstream maps them on the device
    train = datamodule.train_dataset
    assert train.label == "DFC" and int(masks.train[0].max()) <= 10
    for i in (0, len(train) - 1):
        np.testing.assert_array_equal(train[i]["mask"].numpy(), labels.igbp_to_dfc(_igbp(dfc_root, train.patch_ids[i])))
    with pytest.raises(ValueError, match="test_split 'validation' is not one to test on"):
        SEN12MSDataModule(root=str(dfc_root), test_split="validation")
    with pytest.raises(ValueError, match="label='LCCS_SH' is not in"):
        SEN12MSDataModule(root=str(dfc_root), test_split="dfc2020_test", label="LCCS_SH")


def _igbp(root, pid):
    with rasterio.open(pid.path(root, "lc")) as src:
        return src.read(1)


# --- TFDS -----------------------------------------------------------------------------------


def test_tfds_load_gives_the_zips_labels(dfc_root, dfc_zips, plain_root, tmp_path):
    import tensorflow_datasets as tfds

    import sen12ms_plugins.tfds  # noqa: F401  (registers the builder)

    for split in DFC2020_SPLITS:
        ds = tfds.load("sen12ms", split=split, data_dir=str(tmp_path / "tfds"), builder_kwargs={"root": str(dfc_root)})
        expected = _expected(dfc_zips, split)
        got = {ex["id"].decode(): ex for ex in tfds.as_numpy(ds)}
        assert set(got) == set(expected)
        for key, ex in got.items():
            assert ex["dfc"].dtype == np.uint8
            np.testing.assert_array_equal(ex["dfc"], expected[key])
            assert ex["s1"].dtype == np.float32 and np.isnan(ex["lon"]) and ex["season"] == -1  # no label
    builder = tfds.builder("sen12ms", data_dir=str(tmp_path / "tfds"), root=str(dfc_root))
    assert builder.info.features["season"].names == ["spring", "summer", "fall", "winter"]  # unchanged
    assert {s: builder.info.splits[s].num_examples for s in DFC2020_SPLITS} == {"dfc2020_validation": 3,
                                                                                "dfc2020_test": 11}
    with pytest.raises(DFC2020NotAddedError, match="sen12ms add-dfc2020"):
        tfds.load("sen12ms/s2", split="dfc2020_test", data_dir=str(tmp_path / "plain"),
                  builder_kwargs={"root": str(plain_root)})


# --- Hugging Face ---------------------------------------------------------------------------


#: Loads DFC2020 splits by bare name and prints each patch's dfc mask, read through Arrow (uint8 kept).
BARE_NAME = r"""
import json, sys
import datasets
from sen12ms_plugins.hf import table_to_numpy

out = {}
for split in sys.argv[1].split(","):
    ds = datasets.load_dataset("sen12ms", "s2", split=split)
    assert ds.features["dfc"].dtype == "uint8"
    columns = table_to_numpy(ds.with_format("arrow")[:])
    out[split] = {str(k): columns["dfc"][i].tolist() for i, k in sorted(enumerate(columns["id"]), key=lambda x: x[1])}
print(json.dumps(out))
"""


def test_hf_builder_prepare_and_export_give_the_zips_labels(dfc_root, dfc_zips, plain_root, tmp_path):
    import datasets

    from sen12ms_plugins.hf import Sen12ms, export_hf, prepare_hf, table_to_numpy

    def check(ds, split):
        expected = _expected(dfc_zips, split)
        seen = {}
        for batch in ds.with_format("arrow").iter(batch_size=8):
            columns = table_to_numpy(batch)
            for i, key in enumerate(columns["id"]):
                seen[str(key)] = columns["dfc"][i]
                assert columns["season"][i] == -1 and np.isnan(columns["lon"][i])  # ClassLabel's "no label"
        assert set(seen) == set(expected)
        for key, got in seen.items():
            assert got.dtype == np.uint8
            np.testing.assert_array_equal(got, expected[key])

    builder = Sen12ms(config_name="s2", root=dfc_root, cache_dir=str(tmp_path / "builder"))
    builder.download_and_prepare()
    for split in DFC2020_SPLITS:
        check(builder.as_dataset(split=split), split)
    plain = Sen12ms(config_name="s2", root=plain_root, cache_dir=str(tmp_path / "plain"))
    plain.download_and_prepare()
    with pytest.raises(DFC2020NotAddedError, match="sen12ms add-dfc2020"):
        plain.as_dataset(split="dfc2020_test")

    cache = tmp_path / "hf-cache"
    report = prepare_hf(dfc_root, configs=["s2"], cache_dir=cache)
    assert report.counts["s2"]["dfc2020_test"] == 11
    # The bare name, as a user loads it: a fresh process, offline, without a network at all.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "SEN12MS_"))}
    env.update(HF_DATASETS_CACHE=str(cache), HF_HUB_OFFLINE="1", PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", BARE_NAME, ",".join(DFC2020_SPLITS)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    for split in DFC2020_SPLITS:
        expected = _expected(dfc_zips, split)
        assert loaded[split] == {key: expected[key].tolist() for key in sorted(expected)}

    out = tmp_path / "export"
    export_hf(dfc_root, out, configs=["s1s2"], quiet=True)
    card = (out / "README.md").read_text()
    assert "dfc2020_test" in card and "hand-made 10 m label" in card
    for split in DFC2020_SPLITS:
        check(datasets.load_dataset(str(out), "s1s2", split=split), split)
    # the SEN12MS splits are there too, with the same members as the core's
    exported = datasets.load_dataset(str(out), "s1s2")
    core = compute_splits(build_index(dfc_root))
    assert {k: len(v) for k, v in exported.items()} == {name: len(core.members[name]) for name in core.names}
    assert set(core.names) == {*SPLITS, *DFC2020_SPLITS}
