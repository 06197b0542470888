"""The fast reader: bit-identical to rasterio on the layouts it handles, rasterio for the rest."""

from __future__ import annotations

import re
import struct
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import rasterio

from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import PatchId
from sen12ms_plugins.errors import DamagedHeaderError, PatchFileError, UnsupportedLayoutError
from sen12ms_plugins.reading import fastread
from sen12ms_plugins.reading.reader import read_file

DAMAGED = PatchId(*facts.DAMAGED_PATCH)


def rasterio_read(path, indexes=None) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(indexes) if indexes is not None else src.read()


def assert_identical(a: np.ndarray, b: np.ndarray) -> None:
    """Same dtype, shape and bytes (NaN payloads included), C-ordered and writable like rasterio's."""
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()
    assert a.flags.c_contiguous and a.flags.writeable


def sample_files(root):
    return sorted(root.glob("ROIs*/*/*.tif"))


def write(path, array, **options):
    profile = {"driver": "GTiff", "width": array.shape[2], "height": array.shape[1], "count": array.shape[0],
               "dtype": array.dtype, "crs": "EPSG:32633", "transform": rasterio.transform.from_origin(0, 0, 10, 10)}
    with rasterio.open(path, "w", **profile, **options) as dst:
        dst.write(array)
    return path


def random_bands(dtype, count, height=20, width=20, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.normal(0, 100, (count, height, width)).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, (count, height, width), endpoint=True, dtype=dtype)


def test_every_sample_file_is_read_fast_and_identical(sample_root):
    files = sample_files(sample_root)
    assert len(files) == 3 * 80
    for path in files:
        sensor = path.parent.name.split("_")[0]
        assert fastread.read_layout(path) is not None, f"{path} left to rasterio"
        assert_identical(read_file(path, sensor), rasterio_read(path))


def test_band_subsets_orders_and_repeats_are_identical(sample_root):
    for sensor in facts.SENSORS:
        path = next(iter(sample_root.glob(f"ROIs1970_fall/{sensor}_*/*.tif")))
        names = facts.BANDS[sensor]
        for bands in ([names[-1]], list(reversed(names)), [names[0], names[-1], names[0]]):
            indexes = [names.index(b) + 1 for b in bands]
            assert_identical(read_file(path, sensor, bands), rasterio_read(path, indexes))
        with pytest.raises(ValueError, match=f"no {sensor} band asked for"):
            read_file(path, sensor, [])


def test_damaged_patch_nans_are_kept_bit_for_bit(sample_root):
    path = DAMAGED.path(sample_root, "s1")
    fast = read_file(path, "s1")
    assert np.isnan(fast).any() and not np.isnan(fast).all()
    assert_identical(fast, rasterio_read(path))


@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"])
@pytest.mark.parametrize("interleave", ["pixel", "band"])
def test_rasterio_layouts_of_any_sample_type(tmp_path, dtype, interleave):
    # 20 rows in strips of 3: the last strip of every band is shorter than the others.
    data = random_bands(dtype, 3, seed=len(dtype))
    path = write(tmp_path / "x.tif", data, interleave=interleave, blockysize=3)
    layout = fastread.read_layout(path)
    assert layout is not None and layout.interleave == interleave and layout.rows_per_strip == 3
    for indexes in ([1, 2, 3], [3, 1], [2]):
        assert_identical(fastread.read_bands(path, indexes), rasterio_read(path, indexes))


def test_single_band_file(tmp_path):
    path = write(tmp_path / "one.tif", random_bands("uint16", 1))
    assert_identical(fastread.read_bands(path, [1]), rasterio_read(path))


def _rewrite_strips_reversed(src, dst):
    """Copy a striped TIFF with its strips stored in reverse order (offsets patched)."""
    data = bytearray(src.read_bytes())
    layout = fastread.read_layout(src)
    first = int(layout.offsets.min())
    strips = [bytes(data[o : o + s]) for o, s in zip(layout.offsets.tolist(), layout.sizes.tolist())]
    new_offsets, at = [0] * len(strips), first
    for i in reversed(range(len(strips))):
        data[at : at + len(strips[i])] = strips[i]
        new_offsets[i] = at
        at += len(strips[i])
    (ifd,) = struct.unpack_from("<I", data, 4)
    (n,) = struct.unpack_from("<H", data, ifd)
    for k in range(n):
        tag, ftype, count, value = struct.unpack_from("<HHII", data, ifd + 2 + 12 * k)
        if tag == 273:  # StripOffsets, LONG, stored out of line
            assert ftype == 4 and count == len(strips) > 1
            struct.pack_into(f"<{count}I", data, value, *new_offsets)
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize("interleave", ["pixel", "band"])
def test_strips_in_any_file_order(tmp_path, interleave):
    data = random_bands("uint16", 4)
    src = write(tmp_path / "in_order.tif", data, interleave=interleave, blockysize=4)
    path = _rewrite_strips_reversed(src, tmp_path / "reversed.tif")
    assert_identical(rasterio_read(path), data)  # rasterio agrees the file holds the same image
    assert_identical(fastread.read_bands(path, [1, 2, 3, 4]), data)
    assert_identical(fastread.read_bands(path, [4, 2]), data[[3, 1]])


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"compress": "deflate"}, "compressed (Deflate)"),
        ({"compress": "lzw", "predictor": 2}, "compressed (LZW)"),
        ({"tiled": True, "blockxsize": 16, "blockysize": 16}, "tiled"),
        ({"BIGTIFF": "YES"}, "BigTIFF"),
        ({"ENDIANNESS": "BIG"}, "big-endian TIFF"),
    ],
    ids=["deflate", "lzw-predictor", "tiled", "bigtiff", "big-endian"],
)
def test_other_layouts_fall_back_to_rasterio(tmp_path, options, reason):
    data = random_bands("uint16", 13, 32, 32)
    path = write(tmp_path / "ROIs1158_spring_s2_1_p1.tif", data, **options)
    with pytest.raises(UnsupportedLayoutError, match=rf"^{re.escape(reason)}$"):
        fastread.read_layout(path)
    with pytest.raises(UnsupportedLayoutError, match=rf"^{re.escape(reason)}$"):
        fastread.read_bands(path, [1])
    assert_identical(read_file(path, "s2"), data)
    assert_identical(read_file(path, "s2", ["B04", "B03", "B02"]), data[[3, 2, 1]])


def test_read_into_float32_converts_in_one_pass(sample_root):
    for sensor in facts.SENSORS:
        path = next(iter(sample_root.glob(f"ROIs2017_winter/{sensor}_*/*.tif")))
        bands = list(facts.BANDS[sensor])[::-1]
        expected = rasterio_read(path, [facts.BANDS[sensor].index(b) + 1 for b in bands]).astype(np.float32)
        image = np.full((len(bands) + 2, 32, 32), -1.0, dtype=np.float32)
        result = read_file(path, sensor, bands, out=image[1:-1])
        assert np.shares_memory(result, image)
        assert_identical(image[1:-1].copy(), expected)
        assert (image[0] == -1).all() and (image[-1] == -1).all()  # nothing written outside


def test_read_into_checks_the_target(sample_root, tmp_path):
    path = next(iter(sample_root.glob("ROIs1158_spring/s2_*/*.tif")))
    with pytest.raises(ValueError, match=r"out must have shape \(3, H, W\)"):
        read_file(path, "s2", ["B04", "B03", "B02"], out=np.empty((2, 32, 32), np.float32))
    with pytest.raises(ValueError, match="cannot hold s2 values"):
        read_file(path, "s2", out=np.empty((13, 32, 32), np.uint8))
    with pytest.raises(PatchFileError, match=r"is 32x32 pixels, not 16x16"):
        read_file(path, "s2", out=np.empty((13, 16, 16), np.float32))


def test_read_into_with_the_rasterio_fallback(tmp_path):
    data = random_bands("uint16", 13, 16, 16)
    path = write(tmp_path / "packed.tif", data, compress="deflate")
    out = np.empty((13, 16, 16), np.float32)
    read_file(path, "s2", out=out)
    assert_identical(out, data.astype(np.float32))


def test_profile_errors_come_from_the_checks_not_the_fast_path(tmp_path):
    path = write(tmp_path / "wide.tif", random_bands("uint16", 13, 16, 24))
    with pytest.raises(PatchFileError, match=r"wide.tif: is 24x16 pixels, a patch is square"):
        read_file(path, "s2")
    path = write(tmp_path / "int16.tif", random_bands("int16", 4, 16, 16))
    with pytest.raises(PatchFileError, match=r"int16.tif: has data type int16, a lc patch has uint8 or uint16"):
        read_file(path, "lc")


def test_a_header_pointing_past_the_end_is_left_to_rasterio(tmp_path, sample_root):
    # Cut inside the pixel data: the header is whole, the strips are not.
    data = next(iter(sample_root.glob("ROIs1158_spring/s2_*/*.tif"))).read_bytes()
    path = tmp_path / "cut.tif"
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(DamagedHeaderError, match="strips beyond the end of the file"):
        fastread.read_bands(path, [1])
    with pytest.raises(PatchFileError, match=rf"cut.tif: truncated: .* the file has {len(data) - 100:,} bytes$"):
        read_file(path, "s2")


def test_threads_read_independently(sample_root):
    files = [p for p in sample_files(sample_root) if p.parent.name.startswith("s2_")]
    expected = [rasterio_read(p) for p in files]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: read_file(p, "s2"), files * 3))
    for got, want in zip(results, expected * 3):
        assert_identical(got, want)


def test_a_header_claiming_a_huge_image_allocates_nothing(tmp_path, monkeypatch):
    # One strip of 8 rows; the header is edited to claim 60000 columns and the bytes they need.
    path = write(tmp_path / "x.tif", random_bands("uint16", 13, 8, 8), blockysize=8)
    assert len(fastread.read_layout(path).offsets) == 1
    data = bytearray(path.read_bytes())
    (ifd,) = struct.unpack_from("<I", data, 4)
    (n,) = struct.unpack_from("<H", data, ifd)
    for k in range(n):
        at = ifd + 2 + 12 * k
        (tag,) = struct.unpack_from("<H", data, at)
        if tag == 256:  # ImageWidth
            struct.pack_into("<HHII", data, at, tag, 4, 1, 60000)
        if tag == 279:  # StripByteCounts
            struct.pack_into("<HHII", data, at, tag, 4, 1, 60000 * 8 * 13 * 2)
    path.write_bytes(bytes(data))

    def no_allocation(*args, **kwargs):
        raise AssertionError("fastread allocated a buffer for a file it cannot read")

    monkeypatch.setattr(fastread, "_scratch", no_allocation)
    with pytest.raises(DamagedHeaderError, match="strips beyond the end of the file"):
        fastread.read_bands(path, [1])
