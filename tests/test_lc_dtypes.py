"""Land-cover files in uint8 and in uint16 are both valid everywhere, and give identical outputs.

The real files' land-cover dtype is unresolved (``facts.FILE_DTYPES``): the same sample is
written twice, once with uint8 and once with uint16 land cover (same values, same S1/S2
bytes), and every consumer must return the same thing for both, in one dtype per feature
(lc and igbp uint16).  Any other dtype is an error naming the file.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from sen12ms_plugins.acquisition.verify import verify_tree
from sen12ms_plugins.analysis.stats import compute_stats
from sen12ms_plugins.analysis.worldmap import make_map
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.demo.sample import make_sample
from sen12ms_plugins.errors import PatchFileError
from sen12ms_plugins.reading import fastread
from sen12ms_plugins.reading.reader import read_file, read_triplet

DTYPES = ("uint8", "uint16")


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    """dtype -> a sample root whose lc files have that dtype (20 triplets, 32 px)."""
    out = {}
    for dtype in DTYPES:
        root = tmp_path_factory.mktemp(f"lc-{dtype}") / "root"
        make_sample(root, patch_size=32, patches_per_scene=1, lc_dtype=dtype)
        out[dtype] = root
    return out


@pytest.fixture(scope="module")
def triplets(trees):
    ids = build_index(trees["uint8"]).triplets
    assert ids == build_index(trees["uint16"]).triplets and len(ids) == 20
    return ids


def test_the_two_trees_differ_only_in_the_lc_file_dtype(trees, triplets):
    for pid in triplets:
        for sensor in ("s1", "s2"):
            assert pid.path(trees["uint8"], sensor).read_bytes() == pid.path(trees["uint16"], sensor).read_bytes()
        arrays = {}
        for dtype in DTYPES:
            with rasterio.open(pid.path(trees[dtype], "lc")) as src:
                assert src.dtypes == (dtype,) * 4
                arrays[dtype] = src.read()
        assert np.array_equal(arrays["uint8"], arrays["uint16"])


def test_reader_and_fast_reader(trees, triplets):
    for pid in triplets:
        raw = {d: fastread.read_bands(pid.path(trees[d], "lc"), [1, 2, 3, 4]) for d in DTYPES}
        assert raw["uint8"].dtype == np.uint8 and raw["uint16"].dtype == np.uint16  # as rasterio reads them
        got = {d: read_triplet(trees[d], pid) for d in DTYPES}
        for sensor in facts.SENSORS:
            a, b = got["uint8"][sensor], got["uint16"][sensor]
            assert a.dtype == b.dtype == np.dtype(facts.DTYPES[sensor])
            assert a.tobytes() == b.tobytes()
        for d in DTYPES:  # band subsets and the one-pass conversion into float32
            igbp = read_file(pid.path(trees[d], "lc"), "lc", ["IGBP", "LCCS_SH"])
            assert igbp.dtype == np.uint16 and np.array_equal(igbp, raw["uint16"][[0, 3]])
            out = np.empty((4, 32, 32), np.float32)
            read_file(pid.path(trees[d], "lc"), "lc", out=out)
            assert np.array_equal(out, raw["uint16"].astype(np.float32))


def test_verify_deep_accepts_both(trees):
    for dtype in DTYPES:
        report = verify_tree(trees[dtype], deep=True, patch_size=32, quiet=True)
        assert report.ok and report.tree.bad_files == [], (dtype, report.problems)
        assert report.tree.files_checked == 60


def test_other_lc_dtypes_are_refused_naming_the_file(trees, triplets, copy_tree):
    root = copy_tree(trees["uint8"])
    pid = triplets[0]
    path = pid.path(root, "lc")
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read()
    for dtype in ("int16", "uint32", "float32"):
        profile.update(dtype=dtype)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data.astype(dtype))
        with pytest.raises(PatchFileError, match=rf"{path}: has data type {dtype}, a lc patch has uint8 or uint16"):
            read_file(path, "lc")
        bad = verify_tree(root, deep=True, patch_size=32, quiet=True).tree.bad_files
        assert bad == [{"path": pid.relpath("lc"), "problem": f"has data type {dtype}, a lc patch has uint8 or uint16"}]


def test_stats_and_map_are_the_same(trees, tmp_path):
    results = {}
    for dtype in DTYPES:
        stats = compute_stats(trees[dtype]).to_json()
        stats.pop("root")
        scenes = make_map(trees[dtype], tmp_path / dtype / "map.png")
        results[dtype] = (stats, scenes, (tmp_path / dtype / "map.geojson").read_bytes())
    assert results["uint8"] == results["uint16"]
    stats = results["uint8"][0]
    assert "IGBP" in str(stats) and stats["splits"]


def test_torchgeo_samples_are_the_same(trees):
    import torch

    from sen12ms_plugins.torchgeo import SEN12MS

    for split in ("train", "holdout"):
        for options in ({}, {"label": "LCCS_SH", "scene_label": "multi"}, {"label": "DFC", "scene_label": "single"}):
            a, b = (SEN12MS(str(trees[d]), split=split, checksum=False, **options) for d in DTYPES)
            assert len(a) == len(b) > 0
            for i in range(len(a)):
                x, y = a[i], b[i]
                assert set(x) == set(y)
                for key in x:
                    assert x[key].dtype == y[key].dtype and torch.equal(x[key], y[key]), (split, options, i, key)
                assert x["mask"].dtype == torch.int64


def test_tfds_examples_are_the_same(trees, tmp_path):
    import tensorflow_datasets as tfds

    import sen12ms_plugins.tfds  # noqa: F401  (registers the builder)

    for split in ("holdout", "train"):
        loaded = {}
        for d in DTYPES:
            ds = tfds.load("sen12ms", split=split, data_dir=str(tmp_path / d), builder_kwargs={"root": str(trees[d])})
            loaded[d] = sorted(tfds.as_numpy(ds), key=lambda e: e["id"])
        assert len(loaded["uint8"]) == len(loaded["uint16"]) > 0
        for x, y in zip(loaded["uint8"], loaded["uint16"]):
            assert set(x) == set(y)
            for key in x:
                assert np.asarray(x[key]).dtype == np.asarray(y[key]).dtype, key
                assert np.array_equal(x[key], y[key]), (x["id"], key)
            assert x["lc"].dtype == x["igbp"].dtype == np.uint16


def test_hf_builder_and_export_are_the_same(trees, tmp_path):
    import datasets

    from sen12ms_plugins.hf import Sen12ms
    from sen12ms_plugins.hf.export import export_hf

    built, exported = {}, {}
    for d in DTYPES:
        builder = Sen12ms(config_name="all", root=trees[d], cache_dir=str(tmp_path / d / "cache"))
        builder.download_and_prepare()
        built[d] = {s: builder.as_dataset(split=s) for s in ("train", "holdout")}
        export_hf(trees[d], tmp_path / d / "export", configs=["all"], quiet=True)
        exported[d] = {s: datasets.load_dataset(str(tmp_path / d / "export"), "all", split=s,
                                                cache_dir=str(tmp_path / d / "load-cache"))
                       for s in ("train", "holdout")}
    for result in (built, exported):
        for split in ("train", "holdout"):
            a, b = result["uint8"][split], result["uint16"][split]
            assert a.features == b.features
            assert a.features["lc"].dtype == a.features["igbp"].dtype == "uint16"
            assert len(a) == len(b) > 0
            assert a.with_format("arrow")[:].equals(b.with_format("arrow")[:]), split


def test_every_accepted_file_dtype_widens_without_loss():
    """The one conversion the readers make (``facts.FORMATS``) never changes a value."""
    assert set(facts.FORMATS) == set(facts.SENSORS)
    for sensor, fmt in facts.FORMATS.items():
        assert (fmt.bands, fmt.dtype, fmt.file_dtypes) == (facts.BANDS[sensor], facts.DTYPES[sensor],
                                                           facts.FILE_DTYPES[sensor])
        assert fmt.dtype in fmt.file_dtypes  # the returned dtype is itself a valid file dtype
        for dtype in fmt.file_dtypes:
            assert np.can_cast(dtype, fmt.dtype, "safe"), (sensor, dtype)
    assert facts.FILE_DTYPES["lc"] == ("uint8", "uint16")


def test_s1_with_any_finite_value_and_nan_is_valid(trees, triplets, copy_tree):
    """S1 values are not range-checked: extreme finite dB values, zeros of both signs and NaN are data."""
    root = copy_tree(trees["uint16"])
    path = triplets[0].path(root, "s1")
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read()
    data[0, 0, :6] = [-3.4e38, 3.4e38, 0.0, -0.0, np.nan, 1e-45]
    data[1, 5] = np.nan
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    got = read_file(path, "s1")
    assert got.dtype == np.float32 and got.tobytes() == data.tobytes()  # NaN payloads and -0.0 included
    report = verify_tree(root, deep=True, patch_size=32, quiet=True)
    assert report.ok and report.tree.bad_files == []
