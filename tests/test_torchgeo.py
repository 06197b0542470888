"""The torchgeo plugin, exercised through the name torchgeo users write: torchgeo.datasets.SEN12MS.

The first group checks every behaviour torchgeo's own SEN12MS tests check, on a root
laid out as torchgeo expects it (tree, the 12 archives, both patch lists), with the
archive checksums patched in as torchgeo's tests do; the rest checks what the plugin adds.
"""

from __future__ import annotations

import inspect
import os
import pickle
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import rasterio
import torch
import torchgeo.datamodules
import torchgeo.datamodules.sen12ms
import torchgeo.datasets
import torchgeo.datasets.sen12ms
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader
from torchgeo.datasets import DatasetNotFoundError, NonGeoDataset, RGBBandsMissingError

import sen12ms_plugins.torchgeo as plugin  # registers the plugin
from sen12ms_plugins.acquisition.bookkeeping import Bookkeeping
from sen12ms_plugins.acquisition.download import Selection
from sen12ms_plugins.acquisition.verify import verify_tree
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import PatchId, write_patch_list
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import compute_splits
from sen12ms_plugins.errors import EmptySplitError, PatchFileError, RootError
from sen12ms_plugins.reading.reader import read_triplet

from . import crafted
from .conftest import TEST_PATCH_SIZE
from .helpers import patch_md5s, torchgeo_root

matplotlib.use("agg")
import matplotlib.pyplot as plt

#: The class torchgeo users get by name, now that the plugin is registered.
SEN12MS = torchgeo.datasets.SEN12MS
Upstream = plugin.UpstreamSEN12MS


def core_splits(root: Path):
    return compute_splits(build_index(root))


@pytest.fixture(scope="module")
def tg_root(sample_root, tmp_path_factory) -> Path:
    """The sample as torchgeo wants a root: the tree, the 12 archives and both patch lists."""
    return torchgeo_root(sample_root, tmp_path_factory.mktemp("torchgeo") / "root")


@pytest.fixture
def tg_md5s(tg_root, monkeypatch) -> list[str]:
    """Patch the class's md5s to those of ``tg_root``'s files, as torchgeo's own tests do."""
    return patch_md5s(monkeypatch, SEN12MS, tg_root)


@pytest.fixture(params=["train", "test"])
def dataset(request, tg_root, tg_md5s) -> SEN12MS:
    return SEN12MS(tg_root, request.param, transforms=nn.Identity(), checksum=True)


# --- What torchgeo's own tests check -------------------------------------------------


def test_the_registered_class_is_the_plugin():
    assert torchgeo.datasets.SEN12MS is plugin.SEN12MS
    assert torchgeo.datasets.sen12ms.SEN12MS is plugin.SEN12MS
    assert torchgeo.datamodules.sen12ms.SEN12MS is plugin.SEN12MS
    assert issubclass(SEN12MS, Upstream) and issubclass(SEN12MS, NonGeoDataset)
    assert Upstream.__module__ == "torchgeo.datasets.sen12ms" and Upstream is not SEN12MS


def test_getitem(dataset):
    x = dataset[0]
    assert isinstance(x, dict)
    assert isinstance(x["image"], torch.Tensor) and isinstance(x["mask"], torch.Tensor)
    assert x["image"].shape == (15, TEST_PATCH_SIZE, TEST_PATCH_SIZE) and x["image"].dtype == torch.float32
    assert x["mask"].shape == (TEST_PATCH_SIZE, TEST_PATCH_SIZE) and x["mask"].dtype == torch.int64


#: The sample (conftest): 20 scenes x 4 patches.  7 of its scenes are hold-out scenes
#: (spring 124 and 17, summer 43 and 72, fall 120 and 39, winter 32: demo/data/sample_scenes.csv
#: against splits/SEN12MS_holdOutScenes.txt): 28 patches; the 13 others hold 52, the damaged
#: patch (summer 146 p202) among them: train = 51.
SAMPLE_COUNTS = {"train": 51, "test": 28}


def test_len(dataset):
    assert len(dataset) == SAMPLE_COUNTS[dataset.split]


def test_add(dataset):
    ds = dataset + dataset
    assert isinstance(ds, ConcatDataset)
    assert len(ds) == 2 * len(dataset)


def test_out_of_bounds(dataset):
    with pytest.raises(IndexError):
        dataset[len(dataset)]
    assert torch.equal(dataset[-1]["image"], dataset[len(dataset) - 1]["image"])


def test_invalid_split_is_an_assertion_error_raised_before_any_file_access(tmp_path):
    with pytest.raises(AssertionError, match="unknown split 'foo'"):
        SEN12MS(tmp_path / "missing", split="foo")
    with pytest.raises(ValueError):  # an UnknownSplitError is a ValueError too
        SEN12MS(tmp_path / "missing", split="val")
    with pytest.raises(AssertionError):
        Upstream(tmp_path / "missing", split="foo")  # the same type upstream raises


@pytest.mark.parametrize("checksum", [True, False])
def test_not_downloaded(tmp_path, checksum):
    """torchgeo's type and first words, then the core's reason: what is missing, where, and
    the command that downloads it (as TFDS's and Hugging Face's builders say it)."""
    with pytest.raises(DatasetNotFoundError, match="Dataset not found") as ours:
        SEN12MS(tmp_path, checksum=checksum)
    with pytest.raises(DatasetNotFoundError) as theirs:
        Upstream(tmp_path, checksum=checksum)
    assert str(theirs.value).startswith("Dataset not found")
    message = str(ours.value)
    assert "\n" not in message
    assert message.startswith(f"Dataset not found: {tmp_path}: holds no SEN12MS triplet")
    assert f"`sen12ms download --root {tmp_path} --extract` (all 12 archives, about 510 GB)" in message
    assert isinstance(ours.value, RootError)  # the core's error too, as TFDS and Hugging Face raise it


def test_not_downloaded_names_a_root_that_does_not_exist(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        SEN12MS(tmp_path / "sen12ms", checksum=False)
    assert str(err.value).startswith(f"Dataset not found: {tmp_path / 'sen12ms'}: SEN12MS root does not exist; "
                                     f"to download SEN12MS into it run `sen12ms download --root")


def test_not_found_after_an_unfinished_download_says_how_to_finish_it(sample_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(sample_root, root, ignore=shutil.ignore_patterns(".sen12ms"))
    Selection.of([facts.archive_name("ROIs1158_spring", "s1")], "spring", "s1").record(Bookkeeping(root))
    with pytest.raises(DatasetNotFoundError) as err:
        SEN12MS(root, "holdout", checksum=False)
    assert str(err.value).startswith(f"Dataset not found: {root}: unfinished download: 1 of the 1 archives")
    assert "`sen12ms download --root" in str(err.value) and "--seasons spring --sensors s1 --extract`" in str(err.value)


def test_not_found_pickles_with_its_message(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        SEN12MS(tmp_path, checksum=False)
    again = pickle.loads(pickle.dumps(err.value))
    assert type(again) is type(err.value) and str(again) == str(err.value)


def test_check_integrity_light(tg_root):
    """checksum=False skips the md5 check: with the published md5s (the class's own, not
    patched here) the sample's archives fail it, yet the dataset opens."""
    with pytest.raises(DatasetNotFoundError) as err:
        SEN12MS(tg_root, checksum=True)
    first, *more = str(err.value).split("\n")
    assert not more and first.startswith(f"Dataset not found: {tg_root} does not verify: {tg_root}/") and "md5" in first
    assert "md5" in "\n".join(err.value.__notes__)  # every problem, one a line
    ds = SEN12MS(tg_root, checksum=False)
    assert len(ds) == SAMPLE_COUNTS["train"]


def test_band_subsets(tg_root):
    for bands in SEN12MS.BAND_SETS.values():
        ds = SEN12MS(tg_root, bands=bands, checksum=False)
        assert ds[0]["image"].shape[0] == len(bands)


#: The band sets, written out by hand: torchgeo's four as torchgeo 0.10.1 has them (its
#: ``s2-reduced`` holds B10, the cirrus band, not B12, whatever its datamodule's docstring says),
#: the six bands that docstring describes, and the authors' 10 bands "related to land"
#: (S2_BANDS_LD of the SEN12MS toolbox's classification code: B2-B8, B8A, B11, B12).
BAND_SETS_BY_HAND = {
    "all": ("VV", "VH", "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"),
    "s1": ("VV", "VH"),
    "s2-all": ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"),
    "s2-reduced": ("B02", "B03", "B04", "B08", "B10", "B11"),
    "s2-reduced-swir": ("B02", "B03", "B04", "B08", "B11", "B12"),
    "s2-land": ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12"),
}


def test_band_sets_keep_upstreams_and_add_two():
    assert dict(SEN12MS.BAND_SETS) == BAND_SETS_BY_HAND
    for name, bands in Upstream.BAND_SETS.items():  # a drop-in: upstream's names mean what they mean there
        assert SEN12MS.BAND_SETS[name] == tuple(bands)
    assert set(Upstream.BAND_SETS) < set(SEN12MS.BAND_SETS)


@pytest.mark.parametrize("name", ["s2-reduced", "s2-reduced-swir", "s2-land"])
def test_a_band_set_reads_its_bands(sample_root, name):
    ds = SEN12MS(sample_root, "holdout", bands=SEN12MS.BAND_SETS[name], checksum=False)
    pid = ds.patch_ids[0]
    s2 = read_triplet(sample_root, pid, {"s2": None})["s2"]
    expected = np.stack([s2[facts.BANDS["s2"].index(b)] for b in BAND_SETS_BY_HAND[name]]).astype(np.float32)
    np.testing.assert_array_equal(ds[0]["image"].numpy(), expected)


#: What torchgeo's datamodule divides each band by (its ``std``; the mean is 0): dB by -25, the
#: Sentinel-2 digital numbers by 10,000.
DIVISOR = {**dict.fromkeys(("VV", "VH"), -25.0), **dict.fromkeys(BAND_SETS_BY_HAND["s2-all"], 1e4)}


@pytest.mark.parametrize("band_set", sorted(BAND_SETS_BY_HAND))
def test_the_datamodule_normalises_every_band_set(sample_root, band_set):
    dm = torchgeo.datamodules.SEN12MSDataModule(batch_size=2, band_set=band_set, root=sample_root, checksum=False)
    bands = BAND_SETS_BY_HAND[band_set]
    assert dm.kwargs["bands"] == bands
    assert dm.std.tolist() == [DIVISOR[b] for b in bands]
    dm.setup("test")
    # torchgeo's batch (the loader's, as stored, made into it as after a transfer, outside a trainer) ...
    image = dm.on_after_batch_transfer(next(iter(dm.test_dataloader())), 0)["image"]
    out = dm.aug({"image": image.clone()})["image"]  # ... then what on_after_batch_transfer applies in a Trainer
    divisor = torch.tensor([DIVISOR[b] for b in bands]).view(1, -1, 1, 1)
    torch.testing.assert_close(out, image / divisor)


def test_the_datamodule_names_an_unknown_band_set():
    with pytest.raises(ValueError, match="unknown band_set 's2-rgb'; expected one of all, s1, s2-all, s2-reduced, "
                                         "s2-reduced-swir, s2-land"):
        torchgeo.datamodules.SEN12MSDataModule(band_set="s2-rgb", root="/nonexistent")


def test_invalid_bands_before_any_file_access(tmp_path):
    with pytest.raises(ValueError, match="'OK' is an invalid band name"):
        SEN12MS(tmp_path / "missing", bands=("OK", "BK"))


def test_plot(dataset):
    dataset.plot(dataset[0], suptitle="Test")
    plt.close()
    sample = dataset[0]
    sample["prediction"] = sample["mask"].clone()
    dataset.plot(sample, suptitle="prediction")
    plt.close()


def test_plot_rgb(dataset):
    ds = SEN12MS(root=dataset.root, bands=("B03",))
    with pytest.raises(RGBBandsMissingError, match="Dataset does not contain some of the RGB bands"):
        ds.plot(ds[0], suptitle="Single Band")


# --- Drop-in: same constructor, attributes and samples as upstream ---------------------


def test_constructor_and_attributes_match_upstream():
    ours = list(inspect.signature(SEN12MS.__init__).parameters.values())
    theirs = list(inspect.signature(Upstream.__init__).parameters.values())
    assert [(p.name, p.default, p.kind) for p in ours[: len(theirs)]] == [
        (p.name, p.default, p.kind) for p in theirs
    ]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in ours[len(theirs) :])
    for attr in ("band_names", "rgb_bands", "filenames", "md5s"):
        assert getattr(SEN12MS, attr) == getattr(Upstream, attr)
    # upstream's band sets, each the same; two more beside them (test_band_sets_keep_upstreams_and_add_two)
    assert {name: tuple(SEN12MS.BAND_SETS[name]) for name in Upstream.BAND_SETS} == {
        name: tuple(bands) for name, bands in Upstream.BAND_SETS.items()}


BAND_CHOICES = [*SEN12MS.BAND_SETS.values(), ("B04", "VV", "B04", "VH"), ("B12", "B01"), ("VH",)]


@pytest.mark.parametrize("split", ["train", "test"])
def test_samples_are_upstreams_bit_for_bit(tg_root, split):
    for bands in BAND_CHOICES:
        ours = SEN12MS(tg_root, split, bands=bands, checksum=False)
        theirs = Upstream(tg_root, split, bands=bands, checksum=False)
        assert ours.ids == theirs.ids
        for i in range(len(ours)):
            a, b = ours[i], theirs[i]
            assert a.keys() == b.keys() == {"image", "mask"}
            assert a["image"].dtype == b["image"].dtype and a["mask"].dtype == b["mask"].dtype
            assert a["image"].numpy().tobytes() == b["image"].numpy().tobytes()
            assert torch.equal(a["mask"], b["mask"])


# --- Splits -----------------------------------------------------------------------------


def test_splits_without_list_files(crafted_root):
    """Members and order of every split of the crafted root, worked out by hand
    (tests/crafted.py): upstream's order, by S2 file name as a string, and upstream's ids."""
    assert not (crafted_root / "train_list.txt").exists()
    assert list(plugin.SPLIT_NAMES) == ["train", "holdout", "validation", "train_minus_validation", "test"]
    for name in plugin.SPLIT_NAMES:
        ds = SEN12MS(crafted_root, split=name, checksum=False)
        canonical = "holdout" if name == "test" else name
        assert ds.ids == crafted.S2_NAME_ORDER[canonical], name
        assert sorted(p.name for p in ds.patch_ids) == sorted(crafted.SPLIT_MEMBERS[canonical])
        assert [p.filename("s2") for p in ds.patch_ids] == ds.ids


def test_holdout_and_validation_are_scene_disjoint(sample_root):
    def scenes(name):
        return {pid.scene_id for pid in SEN12MS(sample_root, name, checksum=False).patch_ids}

    validation, holdout, rest = scenes("validation"), scenes("holdout"), scenes("train_minus_validation")
    assert validation and holdout and rest
    assert not validation & holdout and not validation & rest and not holdout & rest
    assert scenes("train") == validation | rest


def test_list_files_define_train_and_test_as_upstream(tg_root, tmp_path):
    root = _mk(tmp_path / "root")
    for season in facts.SEASONS:
        os.symlink(tg_root / season, root / season)
    train = core_splits(tg_root)["train"]
    chosen = [train[5], train[0], train[3]]  # a list keeps its own order
    (root / "train_list.txt").write_text("".join(f"{p.filename('s2')}\r\n" for p in chosen))
    write_patch_list(root / "test_list.txt", core_splits(tg_root)["holdout"][:2])
    for split, expected in (("train", chosen), ("test", core_splits(tg_root)["holdout"][:2])):
        ours, theirs = SEN12MS(root, split, checksum=False), Upstream(root, split, checksum=False)
        assert ours.ids == theirs.ids == [p.filename("s2") for p in expected]
    assert SEN12MS(root, "holdout", checksum=False).ids == SEN12MS(root, "test", checksum=False).ids
    # validation and train_minus_validation always come from the core
    validation = SEN12MS(root, "validation", checksum=False)
    assert set(validation.patch_ids) == set(core_splits(tg_root)["validation"])


def _mk(path: Path) -> Path:
    path.mkdir()
    return path


def test_empty_split_is_a_clear_error(sample_root, tmp_path):
    root = tmp_path / "root"
    scene = next(pid.scene_id for pid in core_splits(sample_root)["train"])
    for sensor in facts.SENSORS:
        (root / scene.season).mkdir(parents=True, exist_ok=True)
        shutil.copytree(sample_root / scene.dirname(sensor), root / scene.dirname(sensor))
    assert len(SEN12MS(root, "train", checksum=False)) > 0
    with pytest.raises(EmptySplitError, match="split 'holdout' is empty"):
        SEN12MS(root, "test", checksum=False)


def test_a_root_without_triplets_is_not_found(tmp_path):
    (tmp_path / "ROIs1158_spring").mkdir()
    with pytest.raises(DatasetNotFoundError, match=f"Dataset not found: {tmp_path}: holds no SEN12MS triplet"):
        SEN12MS(tmp_path, "validation", checksum=False)


def test_a_bad_file_is_named_when_read(sample_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(sample_root, root, ignore=shutil.ignore_patterns(".sen12ms"))
    ds = SEN12MS(root, "holdout", checksum=False)
    pid = ds.patch_ids[1]
    with rasterio.open(pid.path(root, "s2")) as src:
        profile, small = src.profile, src.read()[:, :16, :16]
    profile.update(width=16, height=16)
    with rasterio.open(pid.path(root, "s2"), "w", **profile) as dst:
        dst.write(small)
    with pytest.raises(PatchFileError, match=rf"{pid.filename('s2')}: is 16x16 pixels, not 32x32"):
        ds[1]
    pid.path(root, "s1").unlink()
    with pytest.raises(PatchFileError, match=rf"{pid.filename('s1')}: does not exist"):
        ds[1]


def test_a_truncated_file_is_named_in_verifys_words_also_from_a_dataloader_worker(sample_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(sample_root, root, ignore=shutil.ignore_patterns(".sen12ms"))
    ds = SEN12MS(root, "holdout", checksum=False)
    path = ds.patch_ids[0].path(root, "s2")
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    (bad,) = verify_tree(root, deep=True, patch_size=None, quiet=True).tree.bad_files  # the 32 px sample
    words = bad["problem"]
    assert words.startswith("truncated: its image data ends at byte ")
    with pytest.raises(PatchFileError) as direct:
        ds[0]
    assert str(direct.value) == f"{path}: {words}"
    with pytest.raises(PatchFileError) as from_worker:  # torch re-raises a worker's error by type and message
        next(iter(DataLoader(ds, batch_size=2, num_workers=1)))
    message = str(from_worker.value)
    assert message.startswith("Caught PatchFileError in DataLoader worker process 0.")
    assert message.rstrip().endswith(f"{path}: {words}")
    assert (from_worker.value.path, from_worker.value.problem) == (str(path), words)


# --- Options beyond upstream -------------------------------------------------------------


#: The band of the crafted lc files each label layer is, or (DFC) what IGBP maps to, by hand.
LABEL_LAYERS = {"IGBP": "igbp", "DFC": "dfc", "LCCS_LC": "lccs_lc", "LCCS_LU": "lccs_lu", "LCCS_SH": "lccs_sh"}


@pytest.mark.parametrize("label", sorted(LABEL_LAYERS))
def test_label_layers(crafted_root, label):
    assert sorted(SEN12MS.LABELS) == sorted(LABEL_LAYERS)
    for split in ("holdout", "train"):
        ds = SEN12MS(crafted_root, split, checksum=False, label=label)
        for i, pid in enumerate(ds.patch_ids):
            mask = ds[i]["mask"]
            assert mask.dtype == torch.int64 and mask.shape == (32, 32)
            np.testing.assert_array_equal(mask.numpy(), crafted.PATCHES[tuple(pid)][LABEL_LAYERS[label]],
                                          err_msg=f"{pid.name} {label}")


def test_scene_labels(crafted_root):
    single = SEN12MS(crafted_root, "holdout", checksum=False, scene_label="single")
    multi = SEN12MS(crafted_root, "holdout", checksum=False, scene_label="multi")  # default threshold 0.1
    multi_20 = SEN12MS(crafted_root, "holdout", checksum=False, scene_label="multi", multi_label_threshold=0.2)
    # S2 file-name order: p100, p30, p5, p7 (tests/crafted.py works each label out)
    assert [p.patch for p in single.patch_ids] == [100, 30, 5, 7]
    labels_ = [int(single[i]["label"]) for i in range(4)]
    assert labels_ == [7, 1, 4, 1]  # urban among no data; a 512/512 tie -> the lower class; grassland; forest
    assert single[0]["label"].dtype == torch.int64 and single[0]["label"].shape == ()
    hots = [multi[i]["label"] for i in range(4)]
    assert all(h.dtype == torch.int64 and h.shape == (11,) for h in hots)
    assert [h.nonzero().flatten().tolist() for h in hots] == [[7], [1, 3], [4, 6], [1, 2, 3, 6]]
    assert [multi_20[i]["label"].nonzero().flatten().tolist() for i in range(4)] == [[7], [1, 3], [4, 6], [1]]
    # every class of the simplified scheme, 0 (no data) never set
    assert hots[3].tolist() == [0, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    for i, pid in enumerate(single.patch_ids):
        p = crafted.PATCHES[tuple(pid)]
        assert (labels_[i], hots[i].nonzero().flatten().tolist()) == (p["single"], p["multi"])


def test_metadata(crafted_root):
    ds = SEN12MS(crafted_root, "holdout", checksum=False, metadata=True)
    got = [ds[i] for i in range(len(ds))]
    assert [s["patch_id"] for s in got] == ["ROIs1158_spring_124_p100", "ROIs1158_spring_124_p30",
                                            "ROIs1158_spring_124_p5", "ROIs1158_spring_124_p7"]
    assert {(int(s["season"]), s["scene"]) for s in got} == {(0, 124)}
    assert all(s["season"].dtype == torch.int64 for s in got) and ds.season_names[0] == "spring"
    # as written into the files (tests/crafted.py)
    assert [s["crs"] for s in got] == ["EPSG:4326", "EPSG:32750", "EPSG:32650", "EPSG:32633"]
    assert all(s["bounds"].dtype == torch.float64 for s in got)
    assert [s["bounds"].tolist() for s in got] == [
        [10.0, 49.96875, 10.03125, 50.0],
        [499_840.0, 9_999_840.0, 500_160.0, 10_000_160.0],
        [499_840.0, -160.0, 500_160.0, 160.0],
        [499_840.0, -160.0, 500_160.0, 160.0],
    ]
    batch = next(iter(DataLoader(ds, batch_size=2)))
    assert batch["patch_id"] == ["ROIs1158_spring_124_p100", "ROIs1158_spring_124_p30"]
    assert batch["crs"] == ["EPSG:4326", "EPSG:32750"] and batch["bounds"].shape == (2, 4)
    assert "patch_id" not in SEN12MS(crafted_root, "holdout", checksum=False)[0]


def test_s1_nan_on_the_damaged_patch(tg_root, tmp_path):
    damaged = PatchId(*facts.DAMAGED_PATCH)
    root = _mk(tmp_path / "root")
    for season in facts.SEASONS:
        os.symlink(tg_root / season, root / season)
    for name in ("train_list.txt", "test_list.txt"):  # upstream needs both
        write_patch_list(root / name, [damaged])  # no split holds it; a list may
    bands = ("B02", "VV", "VH")
    kept = SEN12MS(root, "train", bands, checksum=False)[0]["image"]
    assert torch.isnan(kept[1:]).any() and not torch.isnan(kept[0]).any()
    assert kept.numpy().tobytes() == Upstream(root, "train", bands, checksum=False)[0]["image"].numpy().tobytes()
    filled = SEN12MS(root, "train", bands, checksum=False, s1_nan=-50.0)[0]["image"]
    nan = torch.isnan(kept)
    assert not torch.isnan(filled).any() and (filled[nan] == -50).all()
    assert torch.equal(filled[~nan], kept[~nan])


@pytest.mark.parametrize(
    "option, message",
    [
        ({"label": "MODIS"}, "unknown label layer 'MODIS'"),
        ({"scene_label": "many"}, "unknown scene_label 'many'"),
        ({"multi_label_threshold": 0}, "multi_label_threshold must be in"),
        ({"s1_nan": float("nan")}, "s1_nan must be a finite number"),
    ],
)
def test_options_are_checked_before_any_file_access(tmp_path, option, message):
    with pytest.raises(ValueError, match=message):
        SEN12MS(tmp_path / "missing", **option)


# --- Registration, pickling, workers ------------------------------------------------------


def test_register_is_idempotent_and_unregister_restores():
    try:
        plugin.register()
        plugin.register()
        assert plugin.is_registered()
        plugin.unregister()
        assert torchgeo.datasets.SEN12MS is Upstream
        assert torchgeo.datasets.sen12ms.SEN12MS is Upstream
        assert torchgeo.datamodules.sen12ms.SEN12MS is Upstream
        dm_class = torchgeo.datamodules.SEN12MSDataModule
        assert {vars(dm_class)[m].__module__ for m in ("setup", "on_after_batch_transfer")} == {dm_class.__module__}
        assert not plugin.is_registered()
        plugin.unregister()  # a no-op now
        assert torchgeo.datasets.SEN12MS is Upstream
    finally:
        plugin.register()
    assert plugin.is_registered() and torchgeo.datasets.SEN12MS is plugin.SEN12MS


def test_pickles_cleanly(sample_root):
    ds = SEN12MS(sample_root, "holdout", checksum=False, label="DFC", scene_label="multi")
    copy = pickle.loads(pickle.dumps(ds))
    assert type(copy) is plugin.SEN12MS and copy.patch_ids == ds.patch_ids
    for key in ("image", "mask", "label"):
        assert torch.equal(copy[3][key], ds[3][key])


def _all_samples(ds) -> dict[str, torch.Tensor]:
    return {key: torch.stack([ds[i][key] for i in range(len(ds))]) for key in ("image", "mask")}


@pytest.mark.parametrize("context", ["fork", pytest.param("spawn", marks=pytest.mark.slow)])
def test_dataloader_with_two_workers(sample_root, context):
    ds = SEN12MS(sample_root, "train", checksum=False)
    loader = DataLoader(ds, batch_size=5, num_workers=2, multiprocessing_context=context)
    batches = list(loader)
    expected = _all_samples(ds)
    for key in ("image", "mask"):
        got = torch.cat([b[key] for b in batches])
        assert got.numpy().tobytes() == expected[key].numpy().tobytes()


# --- Datamodules ---------------------------------------------------------------------------


def test_torchgeos_datamodule_uses_the_core_splits(sample_root):
    splits = core_splits(sample_root)
    dm = torchgeo.datamodules.SEN12MSDataModule(batch_size=4, band_set="s2-reduced", root=sample_root, checksum=False,
                                                stored_batches=False)  # today's batches, looked at before the mapping
    dm.setup("fit")
    dm.setup("test")
    assert type(dm.train_dataset) is type(dm.val_dataset) is type(dm.test_dataset) is plugin.SEN12MS
    assert set(dm.train_dataset.patch_ids) == set(splits["train_minus_validation"])
    assert set(dm.val_dataset.patch_ids) == set(splits["validation"])
    assert set(dm.test_dataset.patch_ids) == set(splits["holdout"])
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (4, 6, TEST_PATCH_SIZE, TEST_PATCH_SIZE)
    igbp = batch["mask"].clone()
    mapped = dm.on_after_batch_transfer(batch, 0)["mask"]
    assert torch.equal(mapped, DFC_OF_IGBP[igbp])


#: The simplified (DFC) class of each IGBP value 0-17, by hand: 1-5 -> 1, 6-7 -> 2, 8-9 -> 3,
#: 10 -> 4, 11 -> 5, 12 and 14 -> 6, 13 -> 7, 15 -> 8, 16 -> 9, 17 -> 10 (0: no data).
DFC_OF_IGBP = torch.tensor([0, 1, 1, 1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 6, 8, 9, 10])


def test_torchgeos_datamodule_on_the_crafted_root(crafted_root):
    dm = torchgeo.datamodules.SEN12MSDataModule(batch_size=8, root=crafted_root, checksum=False)
    dm.setup("fit")
    dm.setup("test")
    assert dm.train_dataset.ids == crafted.S2_NAME_ORDER["train_minus_validation"]
    assert dm.val_dataset.ids == crafted.S2_NAME_ORDER["validation"]
    assert dm.test_dataset.ids == crafted.S2_NAME_ORDER["holdout"]
    # (not the hold-out: torchgeo's IGBP -> DFC lookup has no entry for p100's invalid value 18)
    batch = next(iter(dm.val_dataloader()))  # not shuffled: spring 45 p1, p2
    mapped = dm.on_after_batch_transfer(batch, 0)["mask"]
    expected = [crafted.PATCHES[(crafted.SPRING, 45, p)]["dfc"] for p in (1, 2)]
    np.testing.assert_array_equal(mapped.numpy(), np.stack(expected))


@pytest.mark.parametrize("stored_batches", [True, False])
def test_datamodule_does_not_map_a_mask_twice(sample_root, stored_batches):
    dm = torchgeo.datamodules.SEN12MSDataModule(batch_size=2, root=sample_root, checksum=False, label="DFC",
                                                stored_batches=stored_batches)
    dm.setup("test")
    batch = next(iter(dm.test_dataloader()))
    dfc = torch.stack([dm.test_dataset[i]["mask"] for i in range(2)])  # the dataset's own masks, simplified
    assert torch.equal(dm.on_after_batch_transfer(batch, 0)["mask"], dfc)
