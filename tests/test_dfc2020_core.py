"""DFC2020 in the core: names, index, splits, the reader's narrowing, stats and map.

The expected values are the DFC2020 facts and the files' own bytes (rasterio), never the
code under test.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import rasterio

from sen12ms_plugins.analysis.stats import compute_stats
from sen12ms_plugins.analysis.worldmap import make_map
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import PatchId, parse_filename, parse_patch_id
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import DFC2020_SPLITS, SPLITS, compute_splits
from sen12ms_plugins.demo.dfc2020_sample import make_dfc2020_sample
from sen12ms_plugins.errors import DFC2020NotAddedError, EmptySplitError, MalformedNameError, PatchFileError
from sen12ms_plugins.reading.configs import get_config
from sen12ms_plugins.reading.examples import read_example
from sen12ms_plugins.reading.reader import georeference, read_file

from .dfc2020_fixtures import COUNTS, PATCH_SIZE, as_uint8, zip_labels

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


def test_names_of_both_layouts():
    pid, sensor = parse_filename("ROIs0000_validation/s1_validation/ROIs0000_validation_s1_0_p5.tif")
    assert (pid, sensor) == (PatchId("ROIs0000_validation", 0, 5), "s1")
    assert pid.name == "ROIs0000_validation_0_p5" and pid.is_dfc2020
    assert pid.relpath("dfc") == "ROIs0000_validation/dfc_validation/ROIs0000_validation_dfc_0_p5.tif"
    test = parse_patch_id("ROIs0000_test_0_p17")
    assert test.relpath("s2") == "ROIs0000_test/s2_0/ROIs0000_test_s2_0_p17.tif"
    assert test.sensors == ("s1", "s2", "lc", "dfc") and parse_patch_id(test.filename("lc")) == test
    for bad in ("ROIs0000_validation_s1_1_p3.tif",  # the one scene is 0
                "ROIs0000_validation/s1_0/ROIs0000_validation_s1_0_p3.tif",  # the validation folder is s1_validation
                "ROIs0000_test_s1_0_p03.tif",
                "ROIs1158_spring_dfc_1_p3.tif"):  # SEN12MS has no dfc file
        with pytest.raises(MalformedNameError):
            parse_filename(bad)
    assert not PatchId("ROIs1158_spring", 1, 3).is_dfc2020


def test_the_index_keeps_dfc2020_apart_and_sen12ms_unchanged(dfc_root, plain_root):
    with_dfc, without = build_index(dfc_root), build_index(plain_root)
    assert with_dfc.triplets == without.triplets and len(with_dfc) == len(without) == 40
    assert with_dfc.dfc2020_counts() == COUNTS and not with_dfc.incomplete and not with_dfc.strays
    a, b = compute_splits(with_dfc), compute_splits(without)
    for name in SPLITS:  # the SEN12MS rules see SEN12MS triplets only
        assert a.members[name] == b.members[name]
        assert not any(pid.is_dfc2020 for pid in a.members[name])
    assert a.validation_scenes == b.validation_scenes
    assert a.names == (*SPLITS, *DFC2020_SPLITS) and b.names == SPLITS
    assert [p.name for p in a["dfc2020_validation"]] == [f"ROIs0000_validation_0_p{n}" for n in range(3)]
    assert len(a["dfc2020_test"]) == 11 and a.split_of(a["dfc2020_test"][0]) == "dfc2020_test"
    assert a.counts()["dfc2020_test"]["total"] == 11


def test_incomplete_and_stray_dfc2020_files_are_reported(dfc_root, copy_tree):
    root = copy_tree(dfc_root)
    (root / "ROIs0000_test" / "lc_0" / "ROIs0000_test_lc_0_p4.tif").unlink()
    (root / "ROIs0000_test" / "s1_0" / "notes.txt").write_text("x")
    (root / "ROIs0000_validation" / "s1_0").mkdir()  # the test set's name in the validation folder
    index = build_index(root)
    assert [str(i) for i in index.incomplete] == ["ROIs0000_test_0_p4 (missing lc)"]
    assert list(index.strays) == ["ROIs0000_test/s1_0/notes.txt", "ROIs0000_validation/s1_0/"]
    assert len(compute_splits(index)["dfc2020_test"]) == 10


def test_a_dfc2020_split_of_a_root_without_it_says_how_to_add_it(plain_root):
    splits = compute_splits(build_index(plain_root))
    with pytest.raises(DFC2020NotAddedError) as info:
        splits["dfc2020_test"]
    message = str(info.value)
    assert isinstance(info.value, EmptySplitError)
    assert "IEEE DataPort" in message and facts.DFC2020_URL in message
    assert f"sen12ms add-dfc2020 --root {plain_root} --from DIR" in message
    assert "s1_0.zip, s2_0.zip, lc_0.zip, dfc_0.zip" in message


def test_examples_of_dfc2020_patches(dfc_root, dfc_zips):
    labels = zip_labels(dfc_zips, "ROIs0000_test")
    for n in (0, 10):
        pid = PatchId("ROIs0000_test", 0, n)
        example = read_example(dfc_root, pid, get_config("all"))
        assert example["id"] == f"ROIs0000_test_0_p{n}" and example["season"] == -1  # ClassLabel's "no label"
        assert (example["scene"], example["patch"]) == (0, n)
        assert np.isnan(example["lon"]) and np.isnan(example["lat"])  # the stripped georeference
        assert example["dfc"].dtype == np.uint8
        np.testing.assert_array_equal(example["dfc"], as_uint8(labels[n]))
        with rasterio.open(pid.path(dfc_root, "lc")) as src:
            np.testing.assert_array_equal(example["igbp"], src.read(1))  # the MODIS layer of its lc file
        counts = np.bincount(labels[n].ravel(), minlength=11)[1:11]
        assert example["label"] == int(np.argmax(counts)) + 1  # from the 10 m label
        assert not georeference(dfc_root, pid).known


def test_the_validation_labels_have_no_savanna_and_no_snow(dfc_zips):
    values = set(np.unique(np.concatenate([a.ravel() for a in zip_labels(dfc_zips, "ROIs0000_validation").values()])))
    assert values <= set(range(1, 11)) - set(facts.DFC2020_ABSENT_CLASSES["ROIs0000_validation"])


def _write_like(path, values):
    with rasterio.open(path) as src:
        profile = src.profile
    profile["dtype"] = values.dtype.name
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values)


def test_narrowing_checks_every_value(dfc_root, copy_tree):
    root = copy_tree(dfc_root)
    label = PatchId("ROIs0000_test", 0, 2).path(root, "dfc")
    formats = facts.DFC2020_FORMATS
    with rasterio.open(label) as src:
        data = src.read()
    assert data.dtype == np.int32
    for bad in (256, -1, 2**31 - 1):
        changed = data.copy()
        changed[0, 1, 2] = bad
        _write_like(label, changed)
        with pytest.raises(PatchFileError, match=f"holds the value {bad}, which a dfc patch cannot have") as info:
            read_file(label, "dfc", formats=formats)
        assert info.value.path == str(label)
    edge = data.copy()
    edge[0, 0, :2] = [0, 255]
    _write_like(label, edge)
    np.testing.assert_array_equal(read_file(label, "dfc", formats=formats), edge.astype(np.uint8))
    s1 = PatchId("ROIs0000_test", 0, 2).path(root, "s1")
    with rasterio.open(s1) as src:
        values = src.read()
    assert values.dtype == np.float64
    values[0, 0, :4] = [np.nan, np.inf, -3.0e38, 1e-300]
    _write_like(s1, values)
    got = read_file(s1, "s1", formats=formats)
    assert got.dtype == np.float32 and np.isnan(got[0, 0, 0]) and got[0, 0, 1] == np.inf
    np.testing.assert_array_equal(got[:, 1:], values[:, 1:].astype(np.float32))
    values[1, 3, 3] = 1e300
    _write_like(s1, values)
    with pytest.raises(PatchFileError, match="beyond the float32 range"):
        read_file(s1, "s1", formats=formats)
    # into a float32 buffer, as torchgeo reads: the same values, the same check
    out = np.empty((2, PATCH_SIZE, PATCH_SIZE), np.float32)
    with pytest.raises(PatchFileError):
        read_file(s1, "s1", out=out, formats=formats)
    # SEN12MS's formats refuse what DFC2020 accepts
    with pytest.raises(PatchFileError, match="has data type float64, a s1 patch has float32"):
        read_file(s1, "s1")


def test_stats_count_the_10_m_labels(dfc_root, dfc_zips):
    stats = compute_stats(dfc_root)
    assert stats.splits == (*SPLITS, "all", *DFC2020_SPLITS)
    for split, folder in DFC2020_SPLITS.items():
        group = stats[split, "all"]
        assert group.patches == COUNTS[folder]
        expected = np.bincount(np.concatenate([a.ravel() for a in zip_labels(dfc_zips, folder).values()]),
                               minlength=11)
        assert group.class_pixels("DFC") == {code: int(expected[code]) for code in range(1, 11)}
        assert stats[split, "spring"].patches == 0  # no season
    assert stats["all", "all"].patches == 40  # all = SEN12MS's triplets


def test_map_skips_stripped_patches_and_places_georeferenced_ones(dfc_root, tmp_path, copy_tree):
    drawn = make_map(dfc_root, tmp_path / "map.png")
    assert drawn.dfc2020 == [] and drawn.dfc2020_unlocated == 14 and len(drawn.scenes) == 20
    root = copy_tree(dfc_root, "geo")
    shutil.rmtree(root / "ROIs0000_test")
    shutil.rmtree(root / "ROIs0000_validation")
    made = tmp_path / "geo-dfc"
    make_dfc2020_sample(made, patch_size=PATCH_SIZE, counts={"ROIs0000_test": 2}, zips=False, georeferenced=True)
    shutil.move(made / "ROIs0000_test", root / "ROIs0000_test")
    drawn = make_map(root, tmp_path / "geo.png")
    assert [p.id for p in drawn.dfc2020] == ["ROIs0000_test_0_p0", "ROIs0000_test_0_p1"]
    assert drawn.dfc2020_unlocated == 0
    for patch in drawn.dfc2020:
        geo = georeference(root, parse_patch_id(patch.id))
        assert geo.known and geo.crs.startswith("EPSG:32")
        assert (patch.lon, patch.lat) == (geo.center_lon, geo.center_lat)
    features = json.loads((tmp_path / "geo.geojson").read_text())["features"]
    dfc = [f for f in features if f["properties"]["id"].startswith("ROIs0000_")]
    assert len(dfc) == 4 and {f["properties"]["split"] for f in dfc} == {"dfc2020_test"}


def test_a_root_of_dfc2020_alone(dfc_zips, tmp_path):
    """add-dfc2020 into a new folder: the DFC2020 splits work, SEN12MS's are empty (and say so)."""
    from sen12ms_plugins.acquisition.dfc2020 import add_dfc2020
    from sen12ms_plugins.acquisition.verify import check_root

    root = tmp_path / "dfc2020-only"
    add_dfc2020(root, dfc_zips, quiet=True)
    splits = compute_splits(build_index(root))
    assert splits.names == (*SPLITS, *DFC2020_SPLITS) and len(splits["dfc2020_test"]) == 11
    with pytest.raises(EmptySplitError, match="the root holds no complete SEN12MS triplet"):
        splits["holdout"]
    assert check_root(root).ok
    with pytest.warns(UserWarning, match="the statistics cover none of them and dfc2020_validation and "
                                         "dfc2020_test only"):
        stats = compute_stats(root)
    assert stats.splits == tuple(DFC2020_SPLITS) and stats["dfc2020_validation", "all"].patches == 3
