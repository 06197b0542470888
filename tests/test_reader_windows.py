"""The reader's row windows, its dtype option and its cache of TIFF layouts, against rasterio."""

from __future__ import annotations

import shutil
import struct

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from sen12ms_plugins.dataset import facts
from sen12ms_plugins.demo.sample import make_sample
from sen12ms_plugins.errors import PatchFileError
from sen12ms_plugins.reading import fastread, tiffheader
from sen12ms_plugins.reading.reader import read_file

from .realdata import real_file
from .test_reader_fast import random_bands, write

ROW_WINDOWS = ((0, 1), (5, 9), (3, 16), (16, 32), (31, 32), (1, 31))


def rasterio_rows(path, first, stop, indexes=None):
    with rasterio.open(path) as src:
        return src.read(indexes, window=Window(0, first, src.width, stop - first))


@pytest.fixture(scope="module")
def real_layout_root(tmp_path_factory):
    """A small sample in the real files' layout: 1-row S2 strips, 4-row S1 strips, uint8 lc."""
    root = tmp_path_factory.mktemp("real-layout") / "root"
    make_sample(root, patch_size=32, patches_per_scene=1, layout="real", lc_dtype="uint8")
    return root


@pytest.mark.parametrize("interleave", ["pixel", "band"])
@pytest.mark.parametrize("rows_per_strip", [1, 3, 4, 32])
def test_row_windows_are_rasterios(tmp_path, interleave, rows_per_strip):
    path = write(tmp_path / "x.tif", random_bands("uint16", 13, 32, 32), interleave=interleave,
                 blockysize=rows_per_strip)
    assert fastread.read_layout(path).rows_per_strip == rows_per_strip
    for first, stop in ROW_WINDOWS:
        for indexes in (list(range(1, 14)), [13, 1], [4, 3, 2]):
            want = rasterio_rows(path, first, stop, indexes)
            got = fastread.read_bands(path, indexes, rows=(first, stop))
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes() and got.flags.c_contiguous
            names = [facts.BANDS["s2"][i - 1] for i in indexes]
            out = np.empty((len(indexes), stop - first, 32), np.float32)
            assert read_file(path, "s2", names, out=out, rows=(first, stop)) is out
            assert np.array_equal(out, want.astype(np.float32))
            # Into the rows of a larger array (as the torchgeo adapter reads row blocks), in the
            # file's dtype and converted: those rows change, the others do not.
            for dtype in (np.uint16, np.float32):
                whole = np.full((len(indexes), 32, 32), 7, dtype)
                read_file(path, "s2", names, out=whole[:, first:stop], rows=(first, stop))
                assert np.array_equal(whole[:, first:stop], want.astype(dtype))
                assert (np.delete(whole, np.s_[first:stop], axis=1) == 7).all()


def test_row_windows_of_the_real_files_and_layout(real_layout_root):
    paths = [real_file("s1"), real_file("s2"), *sorted(real_layout_root.glob("ROIs1970_fall/*/*.tif"))]
    for path in paths:
        sensor = path.name.split("_")[0] if path.parent == real_file("s1").parent else path.parent.name.split("_")[0]
        with rasterio.open(path) as src:
            height = src.height
        for first, stop in ((0, height), (0, height // 2), (height // 2, height), (3, 7)):
            want = rasterio_rows(path, first, stop)
            got = read_file(path, sensor, rows=(first, stop))
            assert got.tobytes() == want.astype(facts.DTYPES[sensor]).tobytes()


def test_row_windows_through_the_rasterio_fallback(tmp_path):
    path = write(tmp_path / "lzw.tif", random_bands("uint16", 13, 32, 32), compress="lzw")
    out = np.empty((13, 6, 32), np.float64)
    read_file(path, "s2", out=out, rows=(10, 16))
    assert np.array_equal(out, rasterio_rows(path, 10, 16))


def test_bad_row_windows_are_refused(tmp_path):
    path = write(tmp_path / "x.tif", random_bands("uint16", 13, 32, 32))
    for rows in ((5, 5), (-1, 3), (0, 33), (7, 2)):
        with pytest.raises(ValueError, match="outside the image's 0-32"):
            read_file(path, "s2", rows=rows)
    with pytest.raises(ValueError, match="out has shape"):
        fastread.read_bands(path, range(1, 14), out=np.empty((13, 4, 32), np.float32), rows=(0, 5))
    # A window of a patch of another width than the batch it is read for names the file.
    with pytest.raises(PatchFileError, match=r"x.tif: is 32x32 pixels, not 16x16 as expected"):
        read_file(path, "s2", out=np.empty((13, 4, 16), np.float32), rows=(0, 4))


def test_dtype_converts_in_the_read(real_layout_root):
    for path in sorted(real_layout_root.glob("ROIs1970_fall/*/*.tif")):
        sensor = path.parent.name.split("_")[0]
        with rasterio.open(path) as src:
            want = src.read()
        for dtype in ("float32", "float64", "int64") if sensor != "s1" else ("float32", "float64"):
            got = read_file(path, sensor, dtype=dtype)
            assert got.dtype == np.dtype(dtype) and np.array_equal(got, want.astype(dtype), equal_nan=True)
    lc = next(real_layout_root.glob("ROIs1970_fall/lc_*/*.tif"))
    assert read_file(lc, "lc").dtype == np.uint16  # the sensor's dtype by default, widened from the uint8 file
    with pytest.raises(ValueError, match="dtype uint8 cannot hold lc values"):
        read_file(lc, "lc", dtype="uint8")
    with pytest.raises(ValueError, match="give out or dtype, not both"):
        read_file(lc, "lc", out=np.empty((4, 32, 32), np.int64), dtype="int64")


@pytest.mark.parametrize("interleave", ["pixel", "band"])
def test_convert_does_the_deinterleaving_pass_of_pixel_interleaved_files(tmp_path, interleave):
    rng = np.random.default_rng(7)
    data = rng.integers(0, 10_000, (13, 32, 32), dtype=np.uint16)
    path = tmp_path / "s2.tif"
    write(path, data, interleave=interleave)
    calls = []

    def convert(dst, src):
        calls.append((dst.shape, src.dtype.name))
        np.copyto(dst, src)

    bands = [facts.BANDS["s2"][i] for i in (3, 4, 5, 0)]
    out = np.empty((4, 32, 32), np.float32)
    read_file(path, "s2", bands, out=out, convert=convert)
    assert np.array_equal(out, data[[3, 4, 5, 0]].astype(np.float32))
    # one call per run of consecutive bands, for pixel-interleaved files only
    assert calls == ([((3, 32, 32), "uint16"), ((1, 32, 32), "uint16")] if interleave == "pixel" else [])


def test_headers_parsed_once_serve_every_file_that_has_them(tmp_path):
    root = tmp_path / "root"
    make_sample(root, patch_size=32, patches_per_scene=3, layout="real", lc_dtype="uint8")
    s2 = sorted(root.glob("*/s2_*/*.tif"))
    layouts = {path: fastread.read_layout(path) for path in s2}
    for folder in {path.parent for path in s2}:  # the patches of a scene have one header layout
        assert len({id(layouts[path]) for path in s2 if path.parent == folder}) == 1
    # The CRS name is the only header bytes that differ in length: zones 10-60 share one header, zone 9 has its own.
    assert len({id(layout) for layout in layouts.values()}) == 2
    assert not layouts[s2[0]].offsets.flags.writeable and not layouts[s2[0]].sizes.flags.writeable


def _rewrite_strip_table(src, dst, shift: int) -> None:
    """Copy ``src`` with its pixel data moved ``shift`` bytes further and the strip offsets
    changed to match: the IFD entries stay byte for byte the same, only the values they point to differ."""
    data = bytearray(src.read_bytes())
    layout = fastread.read_layout(src)
    (ifd,) = struct.unpack_from("<I", data, 4)
    (n,) = struct.unpack_from("<H", data, ifd)
    for k in range(n):
        tag, ftype, count, value = struct.unpack_from("<HHII", data, ifd + 2 + 12 * k)
        if tag == 273:
            assert ftype == 4 and count == len(layout.offsets) > 1
            struct.pack_into(f"<{count}I", data, value, *(layout.offsets + shift).tolist())
    first = int(layout.offsets[0])
    data[first:first] = bytes(shift)
    dst.write_bytes(bytes(data[: first + shift + int(layout.sizes.sum())]))


def test_a_cached_layout_is_only_used_where_the_bytes_it_was_parsed_from_match(tmp_path):
    src = write(tmp_path / "a.tif", random_bands("uint16", 13, 32, 32), blockysize=1)
    moved = tmp_path / "b.tif"
    _rewrite_strip_table(src, moved, 4)
    assert src.stat().st_size + 4 == moved.stat().st_size
    a, b = fastread.read_layout(src), fastread.read_layout(moved)
    assert b is not a and np.array_equal(b.offsets, a.offsets + 4)
    assert fastread.read_bands(moved, range(1, 14)).tobytes() == rasterio_rows(moved, 0, 32).tobytes()
    # Same size, same entries, other strip offsets: rewritten in place, the file is parsed again.
    same_size = tmp_path / "c.tif"
    shutil.copyfile(moved, same_size)
    data = bytearray(same_size.read_bytes())
    layout = fastread.read_layout(same_size)
    pointer = next(value for k in range(struct.unpack_from("<H", data, 8)[0])
                   for tag, _, _, value in [struct.unpack_from("<HHII", data, 8 + 2 + 12 * k)] if tag == 273)
    struct.pack_into("<2I", data, pointer, int(layout.offsets[1]), int(layout.offsets[0]))  # two strips swapped
    same_size.write_bytes(bytes(data))
    swapped = fastread.read_layout(same_size)
    assert swapped is not layout and swapped.offsets[0] == layout.offsets[1]
    assert fastread.read_bands(same_size, range(1, 14)).tobytes() == rasterio_rows(same_size, 0, 32).tobytes()


def test_the_layout_cache_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(tiffheader, "_LAYOUTS_KEPT", 2)
    monkeypatch.setattr(tiffheader, "_layouts", {})
    paths = [write(tmp_path / f"{rows}.tif", random_bands("uint16", 2, 8, 8), blockysize=rows) for rows in (1, 2, 4, 8)]
    for path in paths:
        fastread.read_layout(path)
        assert len(tiffheader._layouts) <= 2
    assert [fastread.read_layout(p).rows_per_strip for p in paths] == [1, 2, 4, 8]
