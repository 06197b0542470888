"""The sample's two file layouts: ``compact`` (the default, as before) and ``real`` (what the
real files are: strips, interleave, no nodata, non-integer origins, UTM north and south,
neighbours half a patch apart whose overlapping pixels agree).

Every expectation is read back from the files with rasterio or from the TIFF tags; the
real figures are those of ``../shared/reference/real`` (tests/realdata.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio

from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import PatchId
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.demo.sample import GRID_COLUMNS, make_sample, sample_scenes
from sen12ms_plugins.reading import fastread

from .realdata import ROWS_PER_STRIP, real_file
from .test_bad_input import sen12ms


def _files(root):
    for pid in build_index(root).triplets:
        for sensor in facts.SENSORS:
            yield pid, sensor, pid.path(root, sensor)


def _read(path):
    with rasterio.open(path) as src:
        return src.read(), src.transform, src.crs.to_epsg(), src.nodata


@pytest.fixture(scope="module")
def real256(tmp_path_factory):
    """The real layout at the real size, uint8 land cover: three triplets per scene (east and south neighbours)."""
    root = tmp_path_factory.mktemp("real256") / "root"
    make_sample(root, patches_per_scene=3, layout="real", lc_dtype="uint8")
    return root


@pytest.fixture(scope="module")
def real32(tmp_path_factory):
    """``sen12ms sample --layout real`` at 32 px (made by the command), uint16 land cover, 4 per scene."""
    root = tmp_path_factory.mktemp("real32") / "root"
    sen12ms("sample", "--out", root, "--layout", "real", "--patch-size", 32, "--patches-per-scene", 4, "--quiet",
            check_exit=0)
    return root


def test_real_layout_has_the_real_files_structure(real256):
    expected_rows = {sensor: fastread.read_layout(real_file(sensor)).rows_per_strip for sensor in ("s1", "s2")}
    assert expected_rows == ROWS_PER_STRIP
    for pid, sensor, path in _files(real256):
        layout = fastread.read_layout(path)  # uncompressed and striped: no UnsupportedLayoutError
        assert layout.interleave == "pixel" and (layout.width, layout.height) == (256, 256)
        # lc: as many 256 px rows as fit the real files' 8 KiB strips (4 bands of 1 byte: 8 rows)
        assert layout.rows_per_strip == {**ROWS_PER_STRIP, "lc": 8}[sensor], (path, layout.rows_per_strip)
        assert layout.dtype == np.dtype({"s1": "float32", "s2": "uint16", "lc": "uint8"}[sensor])
        with rasterio.open(path) as src:
            assert src.nodata is None and src.compression is None
            assert src.transform.a == 10 and src.transform.e == -10
            # non-integer origins, as in the real 701879.91 / 3710139.54
            assert src.transform.c % 1 != 0 and src.transform.f % 1 != 0, (path, src.transform)


def test_real_layout_lc_in_uint16_has_4_row_strips(real32):
    for pid, sensor, path in _files(real32):
        layout = fastread.read_layout(path)
        assert layout.rows_per_strip == {**ROWS_PER_STRIP, "lc": 4}[sensor]
        assert layout.interleave == "pixel"


def test_both_hemispheres_occur(real32):
    zones = {epsg for _, _, path in _files(real32) for epsg in [_read(path)[2]]}
    assert any(32601 <= z <= 32660 for z in zones) and any(32701 <= z <= 32760 for z in zones), zones
    # a south zone's northings are above the false northing of 10,000 km at southern latitudes
    south = [path for _, _, path in _files(real32) if _read(path)[2] >= 32700]
    assert all(_read(path)[1].f > 5_000_000 for path in south)


def _neighbours(root):
    """Pairs (a, b) of triplets of one scene that are neighbours on the sample's patch grid
    (row-major, GRID_COLUMNS wide, counted from the scene's anchor patch)."""
    anchors = {(s.season, s.scene): s.anchor_patch for s in sample_scenes()}
    ids = set(build_index(root).triplets)
    for a in sorted(ids):
        column = (a.patch - anchors[a.season, a.scene]) % GRID_COLUMNS
        for step, axis in ((1, "east"), (GRID_COLUMNS, "south")):
            b = PatchId(a.season, a.scene, a.patch + step)
            if b in ids and (axis == "south" or column != GRID_COLUMNS - 1):
                yield a, b, axis


@pytest.mark.parametrize("fixture", ["real256", "real32"])
def test_neighbours_overlap_by_half_with_the_same_pixels(fixture, request):
    root = request.getfixturevalue(fixture)
    size = 256 if fixture == "real256" else 32
    half = size // 2
    pairs = list(_neighbours(root))
    assert {axis for _, _, axis in pairs} == {"east", "south"}, pairs  # the sample holds both kinds
    for a, b, axis in pairs:
        for sensor in facts.SENSORS:
            pa, ta, crs_a, _ = _read(a.path(root, sensor))
            pb, tb, crs_b, _ = _read(b.path(root, sensor))
            assert crs_a == crs_b
            if axis == "east":
                # 128 px (1,280 m) apart at the real size: half a patch
                assert math.isclose(tb.c - ta.c, half * 10, abs_tol=1e-6) and tb.f == ta.f
                overlap_a, overlap_b = pa[:, :, half:], pb[:, :, :half]
            else:
                assert math.isclose(ta.f - tb.f, half * 10, abs_tol=1e-6) and tb.c == ta.c
                overlap_a, overlap_b = pa[:, half:, :], pb[:, :half, :]
            if (a.season, a.scene) == facts.DAMAGED_PATCH[:2] and facts.DAMAGED_PATCH[2] in (a.patch, b.patch) \
                    and sensor == "s1":
                continue  # the damaged patch's NaNs are its own, as in the real one
            # the same ground, so the same values, to the bit (NaN payloads included)
            assert overlap_a.tobytes() == overlap_b.tobytes(), (a, b, sensor)
            if sensor != "lc":  # and not trivially: the images differ outside the overlap (lc may be one class)
                assert pa.tobytes() != pb.tobytes()


def test_compact_layout_is_the_default_and_does_not_overlap(sample_root):
    """``compact``: whole-patch grid, origins on the 10 m grid, GDAL's default strips for the width."""
    pairs = list(_neighbours(sample_root))
    assert pairs
    for a, b, axis in pairs:
        _, ta, _, _ = _read(a.path(sample_root, "s2"))
        _, tb, _, _ = _read(b.path(sample_root, "s2"))
        assert (tb.c - ta.c, tb.f - ta.f) == ((320.0, 0.0) if axis == "east" else (0.0, -320.0))  # 32 px of 10 m
    for pid, sensor, path in _files(sample_root):
        with rasterio.open(path) as src:
            assert src.transform.c % 10 == 0 and src.transform.f % 10 == 0 and src.nodata is None
            assert src.dtypes[0] == facts.DTYPES[sensor]  # lc uint16 by default
        layout = fastread.read_layout(path)
        row_bytes = 32 * len(facts.BANDS[sensor]) * layout.dtype.itemsize
        assert layout.interleave == "pixel" and layout.rows_per_strip == min(32, 8192 // row_bytes)


def test_options_are_checked_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="the real layout needs an even patch size"):
        make_sample(tmp_path / "a", patch_size=33, layout="real")
    with pytest.raises(ValueError, match="unknown layout 'tiled'; expected one of compact, real"):
        make_sample(tmp_path / "b", layout="tiled")
    with pytest.raises(ValueError, match="unknown lc_dtype 'int16'; expected one of uint8, uint16"):
        make_sample(tmp_path / "c", lc_dtype="int16")
    assert list(tmp_path.iterdir()) == []
    done = sen12ms("sample", "--out", tmp_path / "d", "--layout", "real", "--patch-size", 33, check_exit=2)
    assert "the real layout needs an even patch size" in done.stderr
    done = sen12ms("demo", "--workdir", tmp_path / "e", "--layout", "real", "--patch-size", 15, check_exit=2)
    assert "the real layout needs an even patch size" in done.stderr
    done = sen12ms("sample", "--out", tmp_path / "f", "--lc-dtype", "int16", check_exit=2)
    assert "invalid choice: 'int16'" in done.stderr
    assert list(tmp_path.iterdir()) == []
