"""Batches as the files store them (``SEN12MS(..., stored=True)``), made into torchgeo's batch by
``torchgeo_batch``: the same tensors as the dataset's own samples collated (and as torchgeo's own
class where it can read the triplets), whatever the layout, dtype or option; read by
``fastread.read_as_stored`` or, for any other file, by the checked reader; moved by
``SEN12MSLoader``, which replays the DataLoader's random draws."""

from __future__ import annotations

import itertools
import os
import pickle
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from torch.utils.data import DataLoader, IterableDataset, default_collate

import sen12ms_plugins.torchgeo as plugin  # registers the plugin
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import PatchId, write_patch_list
from sen12ms_plugins.demo.sample import make_sample
from sen12ms_plugins.errors import PatchFileError, SEN12MSError
from sen12ms_plugins.reading import fastread
from sen12ms_plugins.reading.buffers import ArrayPool
from sen12ms_plugins.torchgeo import SEN12MSLoader, StoredSpec, conversion, memory, threads, torchgeo_batch

from .helpers import assert_same_batch
from .realdata import place_real_triplet, real_file

SEN12MS = plugin.SEN12MS
BAND_SETS = {name: tuple(bands) for name, bands in SEN12MS.BAND_SETS.items()}
LABELS = (None, "IGBP", "DFC", "LCCS_LC", "LCCS_LU", "LCCS_SH")


@pytest.fixture(params=["cpu path", "accelerator path"])
def path(request, monkeypatch):
    """torchgeo_batch's conversion on the CPU (numpy, sample by sample), and the one of an
    accelerator (torch operations on the whole batch), run here on the CPU to check its values."""
    if request.param == "accelerator path":
        monkeypatch.setattr(conversion, "_on_the_cpu", conversion._with_torch)
    return request.param


@pytest.fixture(params=["compact", "real"])
def root(request, sample_root, real_layout_root):
    """The generated sample band-interleaved with uint16 land cover, and in the real layout."""
    return sample_root if request.param == "compact" else real_layout_root


def converted_batches(root, split, batch_size=5, workers=0, **options):
    """(torchgeo_batch of each stored batch, the dataset's own samples collated), side by side."""
    stored = SEN12MS(root, split, checksum=False, stored=True, **options)
    today = SEN12MS(root, split, checksum=False, **options)
    pairs = itertools.zip_longest(DataLoader(stored, batch_size=batch_size, num_workers=workers),
                                  DataLoader(today, batch_size=batch_size))
    return [(torchgeo_batch(got), want) for got, want in pairs]


# --- Reading as stored ------------------------------------------------------------------


def test_read_as_stored_copies_the_real_bytes_as_the_files_lay_them_out(tmp_path):
    for sensor in ("s1", "s2"):
        with rasterio.open(real_file(sensor)) as src:
            values = src.read()  # [C, H, W]; the files are pixel-interleaved: [H, W, C] on disk
        fmt = fastread.StoredFormat.of(fastread.read_layout(real_file(sensor)))
        assert fmt.interleave == fastread.Interleave.PIXEL and fmt.shape == (256, 256, values.shape[0])
        out = np.empty(fmt.shape, fmt.dtype)
        assert fastread.read_as_stored(real_file(sensor), out, fmt)
        assert out.transpose(2, 0, 1).tobytes() == values.tobytes()  # NaN payloads too
    band = tmp_path / "band.tif"
    with rasterio.open(real_file("s2")) as src:
        profile, values = src.profile, src.read()
    with rasterio.open(band, "w", **{**profile, "interleave": "band"}) as dst:
        dst.write(values)
    fmt = fastread.StoredFormat.of(fastread.read_layout(band))
    out = np.empty(fmt.shape, fmt.dtype)
    assert fmt.shape == values.shape and fastread.read_as_stored(band, out, fmt)
    assert np.array_equal(out, values)


def test_read_as_stored_leaves_every_other_file_to_the_checked_reader(tmp_path):
    fmt = fastread.StoredFormat.of(fastread.read_layout(real_file("s2")))
    out = np.empty(fmt.shape, fmt.dtype)
    with rasterio.open(real_file("s2")) as src:
        profile, values = src.profile, src.read()
    compressed = tmp_path / "lzw.tif"
    with rasterio.open(compressed, "w", **{**profile, "compress": "lzw"}) as dst:
        dst.write(values)
    cut = tmp_path / "cut.tif"
    cut.write_bytes(real_file("s2").read_bytes()[:100_000])
    other_dtype = fastread.StoredFormat(np.dtype(np.float32), *[getattr(fmt, f) for f in ("count", "interleave",
                                                                                          "height", "width")])
    for path, expected in ((compressed, fmt), (cut, fmt), (tmp_path / "missing.tif", fmt), (real_file("s2"), other_dtype)):
        assert not fastread.read_as_stored(path, np.empty(expected.shape, expected.dtype), expected), path
    with pytest.raises(ValueError, match="C-contiguous array of 1703936 bytes"):
        fastread.read_as_stored(real_file("s2"), out[:, :, :12], fmt)


# --- Stored samples and torchgeo_batch ------------------------------------------------------


@pytest.mark.parametrize("band_set", BAND_SETS)
@pytest.mark.parametrize("label", LABELS)
def test_every_band_set_and_label_gives_the_datasets_own_batches(root, band_set, label, path):
    for split in ("train", "holdout", "validation"):
        pairs = converted_batches(root, split, bands=BAND_SETS[band_set], label=label)
        assert pairs
        for got, want in pairs:
            assert_same_batch(got, want, f"{split} {band_set} {label}")


@pytest.mark.parametrize("scene_label", ["single", "multi"])
@pytest.mark.parametrize("label", [None, "DFC", "LCCS_SH"])
def test_scene_labels_and_metadata(root, scene_label, label, path):
    for got, want in converted_batches(root, "train", label=label, scene_label=scene_label, metadata=True,
                                       multi_label_threshold=0.15):
        assert_same_batch(got, want, f"{scene_label} {label}")


def test_scene_labels_at_their_edges(tmp_path, real_layout_root, path):
    """Shares exactly at the threshold, classes of equal counts (the lower one wins) and a patch
    without a labelled pixel, written into the IGBP layer of three patches."""
    root = tmp_path / "root"
    shutil.copytree(real_layout_root, root)
    pids = SEN12MS(root, "train", checksum=False).patch_ids
    half = np.zeros((32, 32), np.uint8)
    half[:, 16:] = 17  # -> simplified class 10
    quarters = half.copy()
    quarters[:16, :16] = 1  # -> class 1: a quarter
    quarters[16:, :16] = 10  # -> class 4: a quarter
    even = np.where(half == 17, 10, 2).astype(np.uint8)  # classes 4 and 1, half each
    for pid, igbp in zip(pids[1:4], (quarters, even, np.zeros_like(half))):
        path = pid.path(root, "lc")
        with rasterio.open(path) as src:
            profile, values = src.profile, src.read()
        values[0] = igbp
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(values)
    for scene_label, threshold in (("single", 0.1), ("multi", 0.25), ("multi", 0.5)):
        [(got, want), *_] = converted_batches(root, "train", scene_label=scene_label, multi_label_threshold=threshold)
        assert_same_batch(got, want, f"{scene_label} {threshold}")
        if scene_label == "single":
            assert got["label"][1:4].tolist() == [10, 1, 0]
        else:
            assert got["label"][1].nonzero().view(-1).tolist() == ([1, 4, 10] if threshold == 0.25 else [10])
            assert int(got["label"][3].sum()) == 0


def test_s1_nan_on_the_damaged_patch(real_layout_root, tmp_path, path):
    pids = [*SEN12MS(real_layout_root, "train", checksum=False).patch_ids[:3], PatchId(*facts.DAMAGED_PATCH)]
    shadow = _shadow_root(real_layout_root, tmp_path, pids)
    for s1_nan in (None, -50.0):
        [(got, want)] = converted_batches(shadow, "train", batch_size=4, bands=("B02", "VV", "VH"), s1_nan=s1_nan)
        assert_same_batch(got, want, str(s1_nan))
        assert bool(got["image"][3, 1:].isnan().any()) == (s1_nan is None)
        assert bool((got["image"][3, 1:] == -50).any()) == (s1_nan is not None)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_batch_read_in_a_worker_crosses_in_shared_memory_as_stored(real_layout_root, workers):
    ds = SEN12MS(real_layout_root, "train", checksum=False, stored=True)
    batch = next(iter(DataLoader(ds, batch_size=4, num_workers=workers)))
    n = 4
    assert batch["s2"].dtype == torch.uint16 and batch["s2"].shape == (n, 13, 32, 32)
    assert batch["s2"].stride() == (32 * 32 * 13, 1, 32 * 13, 13)  # [H, W, C] as the files: channels-last
    assert batch["lc"].dtype == torch.uint8 and batch["lc"].shape == (n, 4, 32, 32)  # the files' dtype, every layer
    assert batch["s1"].dtype == torch.float32 and batch["s1"].shape == (n, 2, 32, 32)
    assert batch["stored"] == StoredSpec(BAND_SETS["all"], "IGBP", None, 0.1, None)
    assert batch["s2"].is_shared() == (workers > 0)
    sample = ds[0]  # a single stored sample: the same tensors, unbatched
    assert list(sample) == ["s1", "s2", "lc", "stored"] and sample["s2"].shape == (13, 32, 32)
    assert torch.equal(sample["s2"], batch["s2"][0]) and torch.equal(sample["lc"], batch["lc"][0])
    for got, want in converted_batches(real_layout_root, "train", workers=workers, label="DFC"):
        assert_same_batch(got, want)


def test_only_the_files_the_bands_need_are_read(real_layout_root):
    s1 = SEN12MS(real_layout_root, "train", bands=("VH",), checksum=False, stored=True)[0]
    assert list(s1) == ["s1", "lc", "stored"]
    s2 = SEN12MS(real_layout_root, "train", bands=BAND_SETS["s2-reduced"], checksum=False, stored=True)[0]
    assert list(s2) == ["s2", "lc", "stored"] and s2["s2"].shape[0] == 13  # every band, as stored


def test_scattered_bands(real_layout_root, path):
    for options in ({"bands": ("B04", "VV", "B02", "B03", "VH", "B12")}, {"bands": ("VH", "B8A", "VV")}):
        for got, want in converted_batches(real_layout_root, "train", **options):
            assert_same_batch(got, want, str(options))


def test_dfc2020_splits_narrowed_from_their_wider_file_dtypes(dfc_root, path):
    ds = SEN12MS(dfc_root, "dfc2020_test", checksum=False, stored=True)
    sample = ds[0]
    assert list(sample) == ["s1", "s2", "dfc", "stored"]
    assert sample["s1"].dtype == torch.float32 and sample["dfc"].dtype == torch.uint8  # files: float64, int32
    for split in ("dfc2020_validation", "dfc2020_test"):
        for band_set, scene_label in itertools.product(BAND_SETS, (None, "single", "multi")):
            for got, want in converted_batches(dfc_root, split, batch_size=4, bands=BAND_SETS[band_set],
                                               scene_label=scene_label, metadata=scene_label == "multi"):
                assert_same_batch(got, want, f"{split} {band_set} {scene_label}")


def _shadow_root(root, tmp_path, pids):
    """A folder linking ``root``'s seasons with both upstream lists naming ``pids``, for torchgeo's class."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    for season in facts.SEASONS:
        os.symlink(root / season, shadow / season)
    for name in ("train_list.txt", "test_list.txt"):
        write_patch_list(shadow / name, pids)
    return shadow


@pytest.mark.parametrize("band_set", BAND_SETS)
def test_equal_to_torchgeos_own_class_nan_included(real_layout_root, tmp_path, band_set, path):
    pids = [*SEN12MS(real_layout_root, "train", checksum=False).patch_ids[:7], PatchId(*facts.DAMAGED_PATCH)]
    shadow = _shadow_root(real_layout_root, tmp_path, pids)
    bands = BAND_SETS[band_set]
    want = next(iter(DataLoader(plugin.UpstreamSEN12MS(shadow, "train", bands=bands, checksum=False),
                                batch_size=len(pids))))
    got = torchgeo_batch(next(iter(DataLoader(SEN12MS(shadow, "train", bands=bands, checksum=False, stored=True),
                                              batch_size=len(pids)))))
    assert_same_batch(got, want, band_set)
    assert got["image"].isnan().any() == ("VV" in bands)  # the damaged patch's own NaN, kept


def test_the_real_bytes(tmp_path):
    lc = place_real_triplet(tmp_path)
    batch = next(iter(DataLoader(SEN12MS(tmp_path, "train", checksum=False, stored=True), batch_size=1)))
    got = torchgeo_batch(batch)
    with rasterio.open(real_file("s1")) as s1, rasterio.open(real_file("s2")) as s2:
        image = np.concatenate([s1.read(), s2.read().astype(np.float32)])
    assert got["image"][0].numpy().tobytes() == image.tobytes()
    assert np.array_equal(got["mask"][0].numpy(), lc[0].astype(np.int64))


# --- Files the batch's format does not fit -------------------------------------------------


def _rewrite(path, **profile_changes):
    with rasterio.open(path) as src:
        profile, values = src.profile, src.read()
    with rasterio.open(path, "w", **{**profile, **profile_changes}) as dst:
        dst.write(values.astype(profile_changes.get("dtype", values.dtype)))


def test_files_of_other_layouts_in_a_batch_are_converted_into_its_format(real_layout_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(real_layout_root, root)
    pids = SEN12MS(root, "train", checksum=False).patch_ids
    _rewrite(pids[1].path(root, "s2"), interleave="band")
    _rewrite(pids[2].path(root, "s1"), compress="deflate")
    _rewrite(pids[3].path(root, "lc"), dtype="uint16")  # values fit the batch's uint8
    for got, want in converted_batches(root, "train", batch_size=6, label="LCCS_LU"):
        assert_same_batch(got, want)


def test_a_land_cover_file_beyond_uint8_widens_the_batch(real_layout_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(real_layout_root, root)
    pid = SEN12MS(root, "train", checksum=False).patch_ids[2]
    path = pid.path(root, "lc")
    with rasterio.open(path) as src:
        profile, values = src.profile, src.read().astype(np.uint16)
    values[3, :4, :4] = 300  # an LCCS code uint8 cannot hold
    with rasterio.open(path, "w", **{**profile, "dtype": "uint16"}) as dst:
        dst.write(values)
    ds = SEN12MS(root, "train", checksum=False, stored=True)
    assert ds.__getitems__([0, 1])[0]["lc"].dtype == torch.uint8  # learnt from the first patch
    batch = default_collate(ds.__getitems__([0, 1, 2]))
    assert batch["lc"].dtype == torch.uint16 and int(batch["lc"][2, 3, 0, 0]) == 300
    for got, want in converted_batches(root, "train", batch_size=4, label="LCCS_SH"):
        assert_same_batch(got, want)


def test_a_bad_file_raises_what_getitem_raises(real_layout_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(real_layout_root, root)
    plain = SEN12MS(root, "train", checksum=False)
    stored = SEN12MS(root, "train", checksum=False, stored=True)
    stored.__getitems__([0, 1])  # the batch's format is learnt
    bad = plain.patch_ids[3].path(root, "s2")
    bad.write_bytes(bad.read_bytes()[:500])
    with pytest.raises(PatchFileError) as expected:
        plain[3]
    for read in (lambda: stored.__getitems__([1, 3, 2]), lambda: stored[3]):
        with pytest.raises(PatchFileError) as raised:
            read()
        assert str(raised.value) == str(expected.value) and bad.name in str(raised.value)


def test_a_patch_of_another_size_is_an_error_naming_its_file(real_layout_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(real_layout_root, root)
    small = tmp_path / "small"
    make_sample(small, patch_size=16, patches_per_scene=2, layout="real", lc_dtype="uint8")
    ds = SEN12MS(root, "train", checksum=False, stored=True)
    pid = ds.patch_ids[2]
    for sensor in ("s1", "s2", "lc"):
        shutil.copyfile(pid.path(small, sensor), pid.path(root, sensor))
    with pytest.raises(PatchFileError, match=r"_p\d+\.tif: is 16x16 pixels, not 32x32 as expected"):
        ds.__getitems__([1, 2])


# --- What stays as it was, and what is refused ------------------------------------------------


def test_by_default_samples_are_todays(real_layout_root):
    ds = SEN12MS(real_layout_root, "train", checksum=False)
    assert ds.stored is False and list(ds[0]) == ["image", "mask"]
    assert list(ds.__getitems__([0, 1])[0]) == ["image", "mask"]


def test_transforms_with_stored_samples_are_refused():
    with pytest.raises(ValueError, match="transforms take torchgeo samples, which stored=True does not give"):
        SEN12MS("/nonexistent", "train", transforms=lambda s: s, stored=True)


def test_torchgeo_batch_refuses_a_batch_that_is_not_stored(real_layout_root):
    batch = next(iter(DataLoader(SEN12MS(real_layout_root, "train", checksum=False), batch_size=2)))
    with pytest.raises(SEN12MSError, match="takes a batch of stored samples .* got a dict with keys 'image', 'mask'"):
        torchgeo_batch(batch)


def test_a_kept_stored_batch_is_never_overwritten(real_layout_root):
    ds = SEN12MS(real_layout_root, "train", checksum=False, stored=True)
    kept = default_collate(ds.__getitems__([0, 1, 2]))
    copy = {key: kept[key].clone() for key in ("s1", "s2", "lc")}
    for start in range(3, 12, 3):
        ds.__getitems__([start, start + 1, start + 2])
    for key, value in copy.items():
        assert torch.equal(kept[key], value), key


def test_the_spec_survives_pickling_lightnings_transfer_and_collation(real_layout_root):
    spec = StoredSpec(("VV", "B02"), "DFC", "multi", 0.2, -50.0)
    assert pickle.loads(pickle.dumps(spec)) == spec and hash(pickle.loads(pickle.dumps(spec))) == hash(spec)
    batch = next(iter(DataLoader(SEN12MS(real_layout_root, "train", checksum=False, stored=True), batch_size=2)))
    moved = move_data_to_device(batch, torch.device("cpu"))  # what Lightning does with a batch
    assert moved["stored"] is batch["stored"] and moved["s2"].stride() == batch["s2"].stride()
    other = StoredSpec(("VV",), "IGBP", None, 0.1, None)
    with pytest.raises(ValueError, match="samples stored for different torchgeo samples cannot make one batch"):
        default_collate([{"stored": spec}, {"stored": other}])


def test_torchgeo_batch_works_on_the_batchs_device(real_layout_root):
    # The meta device has shapes and dtypes, no values: every tensor, lookup tables included, must be made there.
    ds = SEN12MS(real_layout_root, "train", bands=BAND_SETS["s2-reduced"], label="DFC", checksum=False, stored=True)
    batch = next(iter(DataLoader(ds, batch_size=3)))
    on_meta = torchgeo_batch(batch, "meta", mask_mapping=torch.arange(18))
    assert {key: (value.device.type, value.dtype, tuple(value.shape)) for key, value in on_meta.items()} == {
        "image": ("meta", torch.float32, (3, 6, 32, 32)), "mask": ("meta", torch.int64, (3, 32, 32))}
    moved = {key: value.to("meta") if isinstance(value, torch.Tensor) else value for key, value in batch.items()}
    assert torchgeo_batch(moved)["image"].device.type == "meta"  # default: the batch's own device


def test_a_mask_mapping_raises_on_values_outside_it_as_torch_take_does(real_layout_root, path):
    batch = next(iter(DataLoader(SEN12MS(real_layout_root, "train", checksum=False, stored=True), batch_size=2)))
    mapping = torch.tensor([0, 1, 1, 1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 6, 8, 9, 10])
    igbp = torchgeo_batch(batch)["mask"]
    assert torch.equal(torchgeo_batch(batch, mask_mapping=mapping)["mask"], torch.take(mapping, igbp))
    with pytest.raises(IndexError):
        torchgeo_batch(batch, mask_mapping=mapping[:5])
    with pytest.raises(IndexError):
        torch.take(mapping[:5], igbp)


# --- SEN12MSLoader -------------------------------------------------------------------------


@pytest.mark.parametrize("workers, persistent", [(0, False), (2, False), (2, True)])
def test_the_loader_gives_what_a_dataloader_gives_and_draws_the_same_random_numbers(real_layout_root, workers,
                                                                                   persistent):
    stored = SEN12MS(real_layout_root, "train", checksum=False, stored=True, scene_label="single")
    for dataset in (stored, SEN12MS(real_layout_root, "train", checksum=False)):
        torch.manual_seed(7)
        reference = DataLoader(dataset, batch_size=3, shuffle=True, num_workers=workers, drop_last=True,
                               persistent_workers=persistent)
        want = [list(reference) for _ in range(3)], torch.rand(4)
        torch.manual_seed(7)
        loader = SEN12MSLoader(dataset, batch_size=3, shuffle=True, num_workers=workers, drop_last=True,
                               persistent_workers=persistent)
        got = [list(loader) for _ in range(3)], torch.rand(4)
        assert len(loader) == len(reference) and torch.equal(got[1], want[1])  # the same draws, in the same order
        for epoch_got, epoch_want in zip(got[0], want[0], strict=True):
            for a, b in zip(epoch_got, epoch_want, strict=True):
                assert_same_batch(torchgeo_batch(a) if dataset.stored else a, torchgeo_batch(b) if dataset.stored else b)


def test_an_error_is_raised_when_its_batch_comes(real_layout_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(real_layout_root, root)
    ds = SEN12MS(root, "train", checksum=False, stored=True)
    bad = ds.patch_ids[5].path(root, "s1")
    bad.write_bytes(b"not a tiff")
    seen = []
    with pytest.raises(PatchFileError, match=bad.name):
        seen.extend(SEN12MSLoader(ds, batch_size=2, num_workers=2))
    assert len(seen) == 2  # the batches before the bad one's (patches 0-3)


def test_leaving_an_epoch_early_stops_the_reading_threads(real_layout_root):
    before = {t for t in threading.enumerate() if t.name.startswith("sen12ms-loader")}
    loader = SEN12MSLoader(SEN12MS(real_layout_root, "train", checksum=False, stored=True), batch_size=2,
                           num_workers=2)
    iterator = iter(loader)
    next(iterator)
    assert len({t for t in threading.enumerate() if t.name.startswith("sen12ms-loader")} - before) == 2
    del iterator
    for thread in [t for t in threading.enumerate() if t.name.startswith("sen12ms-loader")]:
        if thread not in before:
            thread.join(timeout=30)
    assert {t for t in threading.enumerate() if t.name.startswith("sen12ms-loader")} <= before


def test_the_loader_refuses_an_iterable_dataset():
    class Stream(IterableDataset):
        def __iter__(self):
            yield 1

    with pytest.raises(ValueError, match="SEN12MSLoader reads map-style datasets"):
        iter(SEN12MSLoader(Stream()))


def test_reading_threads_read_alone_into_the_memory_the_loader_asks_for(monkeypatch):
    # No accelerator here to pin for: what a pinning loader's thread asks torch for is recorded instead.
    asked = []
    monkeypatch.setattr(torch, "empty", lambda *a, **k: asked.append(k) or torch.zeros(*a, dtype=k["dtype"]))
    with threads.reading_for_loader(pin=True, in_flight=4):
        assert threads.reading_threads() == 1
        memory.batch_tensor(None, (2, 3), torch.uint16)
    assert asked == [{"dtype": torch.uint16, "pin_memory": True}]
    pool = ArrayPool(keep=2)
    with threads.reading_for_loader(pin=False, in_flight=4):
        memory.batch_tensor(pool, (2, 3), torch.uint8)
    assert pool.keep == 6 and len(asked) == 1  # as many as the loader holds at once, and two


def test_a_patch_of_another_size_is_read_whatever_was_read_first(sample_root, copy_tree, tmp_path):
    """One triplet of the root at 16 px among 32 px ones: ``ds[i]`` as stored gives each patch
    at its own size, in either reading order, as ``stored=False`` does (a batch mixing sizes is
    an error naming the file: test_a_patch_of_another_size_is_an_error_naming_its_file)."""
    root = copy_tree(sample_root)
    small_root = tmp_path / "small"
    make_sample(small_root, patch_size=16, patches_per_scene=4)
    plain = SEN12MS(root, "train", checksum=False)
    small = plain.patch_ids[2]
    for sensor in facts.SENSORS:
        shutil.copyfile(small.path(small_root, sensor), small.path(root, sensor))
    plain = SEN12MS(root, "train", checksum=False)
    for order in ([1, 2], [2, 1]):
        stored = SEN12MS(root, "train", checksum=False, stored=True)
        for i in order:
            assert tuple(torchgeo_batch(default_collate([stored[i]]))["image"].shape[2:]) == \
                ((16, 16) if i == 2 else (32, 32))
            assert_same_batch(torchgeo_batch(default_collate([stored[i]])), default_collate([plain[i]]))


def test_a_loader_without_workers_reads_on_as_many_threads_as_outside_it():
    """``num_workers=0``: the calling thread is the loader's only reader and reads a batch's
    triplets on torch's intra-op threads, as outside a loader; with workers, each reads alone."""

    class Asks(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return threads.reading_threads()

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        outside = threads.reading_threads()
        alone = [int(n) for batch in SEN12MSLoader(Asks(), batch_size=2, num_workers=0) for n in batch]
        shared = [int(n) for batch in SEN12MSLoader(Asks(), batch_size=2, num_workers=2) for n in batch]
    finally:
        torch.set_num_threads(previous)
    assert alone == [outside] * 4 and shared == [1] * 4


def test_the_exit_waits_for_the_batches_threads_are_reading():
    """A loop left after its first batch leaves reading threads in the middle of a batch; the
    interpreter must not tear down under them (it aborted a script now and then: "terminate
    called without an active exception").  The exit hook waits until every one has ended."""
    import time

    from sen12ms_plugins.torchgeo import loader as loader_module

    class Slow(torch.utils.data.Dataset):
        def __len__(self):
            return 64

        def __getitem__(self, i):
            time.sleep(0.05)
            return i

    for batch in SEN12MSLoader(Slow(), batch_size=2, num_workers=2):
        break
    del batch
    readers = [t for t in threading.enumerate() if t.name.startswith("sen12ms-loader-")]
    assert readers and any(t.is_alive() for t in readers)  # still reading when the loop is left
    loader_module._finish_reading()  # what the interpreter runs at exit
    assert not any(t.is_alive() for t in readers)


def test_the_example_of_the_docs_runs_as_pasted(real_layout_root, tmp_path):
    docs = (Path(__file__).resolve().parents[1] / "docs" / "torchgeo.md").read_text()
    section = re.search(r"^## Batches as stored\n(.*?)(?=^## )", docs, re.DOTALL | re.MULTILINE).group(1)
    (code,) = re.findall(r"^```python\n(.*?)^```", section, re.DOTALL | re.MULTILINE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                                     os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-c", code.replace("/data/sen12ms", str(real_layout_root))], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[0] == "torch.Size([16, 15, 32, 32]) torch.int64"
