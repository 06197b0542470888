"""Reading patches: arrays, band selection, georeference, errors naming the file."""

import numpy as np
import pytest
import rasterio

from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import PatchId
from sen12ms_plugins.demo.sample import sample_scenes, utm_epsg
from sen12ms_plugins.errors import PatchFileError
from sen12ms_plugins.reading.reader import georeference, read_file, read_triplet

from .conftest import TEST_PATCH_SIZE

PID = PatchId("ROIs1158_spring", 124, 505)


def test_read_triplet_dtypes_and_shapes(sample_root):
    arrays = read_triplet(sample_root, PID)
    size = TEST_PATCH_SIZE
    assert arrays["s1"].dtype == np.float32 and arrays["s1"].shape == (2, size, size)
    assert arrays["s2"].dtype == np.uint16 and arrays["s2"].shape == (13, size, size)
    assert arrays["lc"].dtype == np.uint16 and arrays["lc"].shape == (4, size, size)
    with rasterio.open(PID.path(sample_root, "s2")) as src:
        np.testing.assert_array_equal(arrays["s2"], src.read())


def test_band_selection_keeps_the_order_asked(sample_root):
    full = read_triplet(sample_root, PID)
    part = read_triplet(sample_root, PID, bands={"s2": ["B04", "B03", "B02"], "s1": ["VH"]})
    assert set(part) == {"s1", "s2"}
    np.testing.assert_array_equal(part["s2"], full["s2"][[3, 2, 1]])
    np.testing.assert_array_equal(part["s1"], full["s1"][[1]])
    with pytest.raises(ValueError, match="unknown s2 band"):
        read_triplet(sample_root, PID, bands={"s2": ["B13"]})


def test_georeference_places_the_patch_at_its_scene(sample_root):
    scene = next(s for s in sample_scenes() if (s.season, s.scene) == (PID.season, PID.scene))
    geo = georeference(sample_root, PID)
    assert geo.crs == f"EPSG:{utm_epsg(scene.lon, scene.lat)}"
    assert geo.transform[0] == facts.GSD_METRES and geo.transform[4] == -facts.GSD_METRES
    assert (geo.width, geo.height) == (TEST_PATCH_SIZE, TEST_PATCH_SIZE)
    # patches lie on a grid around the scene's anchor: within a few km at 32 px
    assert abs(geo.center_lon - scene.lon) < 0.2 and abs(geo.center_lat - scene.lat) < 0.2


def _write(path, array, dtype):
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[2], height=array.shape[1],
                       count=array.shape[0], dtype=dtype, crs="EPSG:32633",
                       transform=rasterio.transform.from_origin(0, 0, 10, 10)) as dst:
        dst.write(array.astype(dtype))


def test_wrong_band_count_names_the_file(tmp_path):
    path = tmp_path / "ROIs1158_spring_s2_1_p1.tif"
    _write(path, np.zeros((12, 8, 8)), "uint16")
    with pytest.raises(PatchFileError, match=r"ROIs1158_spring_s2_1_p1.tif: has 12 bands, a s2 patch has 13"):
        read_file(path, "s2")


def test_wrong_dtype_names_the_file(tmp_path):
    path = tmp_path / "s1.tif"
    _write(path, np.zeros((2, 8, 8)), "float64")
    with pytest.raises(PatchFileError, match=r"s1.tif: has data type float64, a s1 patch has float32"):
        read_file(path, "s1")


def test_truncated_file_names_the_file(tmp_path, sample_root):
    data = PID.path(sample_root, "s2").read_bytes()
    path = tmp_path / "trunc.tif"
    path.write_bytes(data[: len(data) // 2])
    # the words verify --deep uses, not GDAL's "Read failed. See previous exception for details."
    with pytest.raises(PatchFileError, match=r"trunc.tif: truncated: its image data ends at byte [\d,]+, the file "
                                             rf"has {len(data) // 2:,} bytes$"):
        read_file(path, "s2")


def test_not_a_tiff_and_missing(tmp_path):
    path = tmp_path / "x.tif"
    path.write_text("hello")
    with pytest.raises(PatchFileError, match="x.tif: truncated: 5 bytes, too short for a TIFF header$"):
        read_file(path, "lc")
    with pytest.raises(PatchFileError, match="nope.tif: does not exist"):
        read_file(tmp_path / "nope.tif", "lc")


def test_triplet_with_mismatched_sizes(copy_tree, sample_root):
    root = copy_tree(sample_root)
    _write(PID.path(root, "lc"), np.ones((4, 16, 16)), "uint16")
    with pytest.raises(PatchFileError, match="differ in size"):
        read_triplet(root, PID)
