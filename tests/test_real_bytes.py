"""Real bytes, not only our sample: two real SEN12MS-CR patches (same group, same processing
chain as SEN12MS) in a SEN12MS tree, read by the core and by every ecosystem.

The expected values come from rasterio reading the files in the test, from the fixture's
README (georeference, layout) and from the land-cover values the test writes itself.
The real files alone would leave the hold-out and validation splits empty, which the
TFDS and Hugging Face builders refuse (they prepare every split); so the tree also
holds the built-in sample at the real size, in the real layout.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from sen12ms_plugins.acquisition.verify import verify_tree
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import compute_splits, holdout_scenes
from sen12ms_plugins.demo.sample import make_sample
from sen12ms_plugins.reading import fastread
from sen12ms_plugins.reading.reader import georeference, read_file, read_triplet

from .realdata import BOUNDS, CRS, PID, ROWS_PER_STRIP, TRANSFORM, place_real_triplet, rasterio_read, real_file


@pytest.fixture(scope="module")
def real_tree(tmp_path_factory):
    """The real triplet (lc uint8) beside the sample's 20 scenes at 256 px in the real layout (lc uint16)."""
    root = tmp_path_factory.mktemp("real") / "root"
    make_sample(root, patch_size=facts.PATCH_SIZE, patches_per_scene=1, layout="real", lc_dtype="uint16")
    lc = place_real_triplet(root, "uint8")
    truth = {"s1": rasterio_read(PID.path(root, "s1")), "s2": rasterio_read(PID.path(root, "s2")), "lc": lc}
    return root, truth


def test_the_fixture_is_what_its_readme_says():
    for sensor, count, dtype in (("s1", 2, "float32"), ("s2", 13, "uint16")):
        with rasterio.open(real_file(sensor)) as src:
            assert (src.count, src.width, src.height, src.dtypes[0]) == (count, 256, 256, dtype)
            assert src.crs.to_string() == CRS and src.nodata is None
            assert tuple(src.transform)[:6] == TRANSFORM
            assert tuple(src.bounds) == pytest.approx(BOUNDS, abs=1e-6)
        layout = fastread.read_layout(real_file(sensor))
        assert layout.interleave == "pixel" and layout.rows_per_strip == ROWS_PER_STRIP[sensor]


def test_the_scene_is_in_train(real_tree):
    root, _ = real_tree
    assert PID.scene_id not in holdout_scenes()
    splits = compute_splits(build_index(root))
    assert PID in splits["train"]
    assert all(len(splits[name]) > 0 for name in ("holdout", "validation", "train_minus_validation"))


def test_reader_and_fast_reader_equal_rasterio(real_tree):
    root, truth = real_tree
    for sensor in ("s1", "s2"):
        path = PID.path(root, sensor)
        fast = fastread.read_bands(path, range(1, len(facts.BANDS[sensor]) + 1))
        core = read_file(path, sensor)
        for array in (fast, core):
            assert array.dtype == truth[sensor].dtype and array.tobytes() == truth[sensor].tobytes()
    # Real S1: finite dB values, exact zeros among them (README: -34.6 … 0.0, no NaN).
    assert np.isfinite(truth["s1"]).all() and truth["s1"].min() < -30 and truth["s1"].max() == 0.0
    assert 17 <= truth["s2"].min() and truth["s2"].max() <= 3708
    # The uint8 land cover: the fast reader gives rasterio's uint8, the reader widens it to uint16.
    lc_path = PID.path(root, "lc")
    raw = fastread.read_bands(lc_path, [1, 2, 3, 4])
    assert raw.dtype == np.uint8 and raw.tobytes() == rasterio_read(lc_path).tobytes()
    lc = read_file(lc_path, "lc")
    assert lc.dtype == np.uint16 and np.array_equal(lc, truth["lc"])
    triplet = read_triplet(root, PID, {"s2": ["B04", "B03", "B02"], "lc": ["IGBP"]})
    assert np.array_equal(triplet["s2"], truth["s2"][[3, 2, 1]])
    assert triplet["lc"].dtype == np.uint16 and np.array_equal(triplet["lc"][0], truth["lc"][0])


def test_georeference_is_the_real_one(real_tree):
    root, _ = real_tree
    for sensor in ("s1", "s2", "lc"):
        geo = georeference(root, PID, sensor)
        assert geo.crs == CRS and (geo.width, geo.height) == (256, 256)
        assert geo.transform == TRANSFORM
        assert geo.bounds == pytest.approx(BOUNDS, abs=1e-6)
    # The centre lies in the north of UTM zone 50 (east China): 114-120 E, north of the equator.
    assert 114 < geo.center_lon < 120 and 0 < geo.center_lat < 84


def test_verify_deep_accepts_the_real_files(real_tree):
    root, _ = real_tree
    report = verify_tree(root, deep=True, quiet=True)
    assert report.ok, report.problems
    assert report.tree.files_checked == 3 * 21 and report.tree.bad_files == []
    assert not any("fast reader" in note for note in report.notes)


def _find(examples, key, name):
    found = [e for e in examples if e[key] == name]
    assert len(found) == 1, f"{name} found {len(found)} times"
    return found[0]


def test_torchgeo_sample_equals_the_files(real_tree):
    import torch

    from sen12ms_plugins.torchgeo import SEN12MS

    root, truth = real_tree
    dataset = SEN12MS(str(root), split="train", checksum=False, metadata=True)
    i = [pid.name for pid in dataset.patch_ids].index(PID.name)
    sample = dataset[i]
    image = sample["image"].numpy()
    assert image.dtype == np.float32 and image.shape == (15, 256, 256)
    assert image[:2].tobytes() == truth["s1"].tobytes()
    assert np.array_equal(image[2:], truth["s2"].astype(np.float32))
    assert sample["mask"].dtype == torch.int64  # upstream's mask dtype, whatever the file's
    assert np.array_equal(sample["mask"].numpy(), truth["lc"][0])
    assert sample["crs"] == CRS and sample["bounds"].tolist() == pytest.approx(BOUNDS, abs=1e-6)


def test_torchgeo_batches_as_stored_equal_the_files(real_tree):
    """The datamodule's path on the real bytes: batches as the files store them (the real lc
    uint8 in one batch with the sample's uint16), read in worker processes, made torchgeo's
    batch by ``torchgeo_batch``: the real triplet's image and mask are rasterio's values."""
    import torch
    from torch.utils.data import DataLoader

    from sen12ms_plugins.torchgeo import SEN12MS, torchgeo_batch

    root, truth = real_tree
    dataset = SEN12MS(str(root), split="train", checksum=False, stored=True, metadata=True)
    found = 0
    for stored in DataLoader(dataset, batch_size=8, num_workers=2):
        batch = torchgeo_batch(stored)
        assert batch["image"].dtype == torch.float32 and batch["mask"].dtype == torch.int64
        if PID.name in batch["patch_id"]:
            k = batch["patch_id"].index(PID.name)
            image = batch["image"][k].numpy()
            assert image[:2].tobytes() == truth["s1"].tobytes()
            assert np.array_equal(image[2:], truth["s2"].astype(np.float32))
            assert np.array_equal(batch["mask"][k].numpy(), truth["lc"][0])
            found += 1
    assert found == 1


def test_tfds_example_equals_the_files(real_tree, tmp_path):
    import tensorflow_datasets as tfds

    import sen12ms_plugins.tfds  # noqa: F401  (registers the builder)

    root, truth = real_tree
    ds = tfds.load("sen12ms", split="train", data_dir=str(tmp_path), builder_kwargs={"root": str(root)})
    example = _find(list(tfds.as_numpy(ds)), "id", PID.name.encode())
    for sensor in facts.SENSORS:
        got = np.moveaxis(example[sensor], -1, 0)
        assert got.dtype == np.dtype(facts.DTYPES[sensor]), sensor
        assert np.array_equal(got, truth[sensor]), sensor  # lc: the uint8 file as the feature's uint16
    assert example["igbp"].dtype == np.uint16 and np.array_equal(example["igbp"], truth["lc"][0])
    assert example["s1"].tobytes() == np.ascontiguousarray(np.moveaxis(truth["s1"], 0, -1)).tobytes()


def test_hf_example_equals_the_files(real_tree, tmp_path):
    from sen12ms_plugins.hf import Sen12ms, table_to_numpy

    root, truth = real_tree
    builder = Sen12ms(config_name="all", root=root, cache_dir=str(tmp_path / "hf-cache"))
    builder.download_and_prepare()
    ds = builder.as_dataset(split="train")
    row = [i for i, name in enumerate(ds["id"]) if name == PID.name]
    assert len(row) == 1
    columns = table_to_numpy(ds.with_format("arrow")[row[0]:row[0] + 1])
    for sensor in facts.SENSORS:
        got = columns[sensor][0]
        assert got.dtype == np.dtype(facts.DTYPES[sensor]), sensor
        assert np.array_equal(got, truth[sensor]), sensor
    assert columns["s1"][0].tobytes() == truth["s1"].tobytes()
    assert columns["igbp"][0].dtype == np.uint16 and np.array_equal(columns["igbp"][0], truth["lc"][0])
