"""Read the uncompressed, striped GeoTIFFs SEN12MS ships without going through GDAL.

Every SEN12MS patch is a small uncompressed GeoTIFF.  Opening one with GDAL costs
far more than reading its few hundred kilobytes, so for the layout the dataset
uses this module parses the TIFF header itself and reads the pixel bytes straight
into a numpy array: one ``open``, one header read and one data read per file.

Handled: classic little-endian TIFF, first image (IFD 0), no compression, strips
(pixel- or band-interleaved, any rows per strip, strips in any file order), equal
8/16/32/64-bit samples of unsigned, signed or floating-point type, photometric
MinIsBlack or RGB, default orientation and fill order.  For anything else
(compressed, tiled, big-endian, BigTIFF, sparse or short strips, a header this
module cannot make sense of) :func:`read_bands` returns None and the caller reads
the file with rasterio.  On the layouts it handles the result is the very array
rasterio's ``DatasetReader.read(indexes)`` returns: same dtype, shape and bytes
(including NaN payloads), which the tests check file by file.
"""

from __future__ import annotations

import io
import os
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from ..errors import UnsupportedLayoutError

# TIFF tag numbers used here (TIFF 6.0 specification).
_NEW_SUBFILE_TYPE = 254
_WIDTH = 256
_HEIGHT = 257
_BITS_PER_SAMPLE = 258
_COMPRESSION = 259
_PHOTOMETRIC = 262
_FILL_ORDER = 266
_STRIP_OFFSETS = 273
_ORIENTATION = 274
_SAMPLES_PER_PIXEL = 277
_ROWS_PER_STRIP = 278
_STRIP_BYTE_COUNTS = 279
_PLANAR_CONFIG = 284
_PREDICTOR = 317
_TILE_WIDTH = 322
_TILE_OFFSETS = 324
_TILE_BYTE_COUNTS = 325
_SAMPLE_FORMAT = 339

# The first read covers the header of every GDAL-written patch (its IFD sits at
# offset 8, its out-of-line values right behind it) and all the pixels of a small one.
_HEAD_BYTES = 16_384
# TIFF field types this module decodes: SHORT and LONG.
_FIELD_FORMATS = {3: "H", 4: "I"}
_FIELD_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
# (SampleFormat, bits per sample) -> numpy dtype of the little-endian samples.
_DTYPES = {
    (1, 8): "u1", (1, 16): "<u2", (1, 32): "<u4", (1, 64): "<u8",
    (2, 8): "i1", (2, 16): "<i2", (2, 32): "<i4", (2, 64): "<i8",
    (3, 32): "<f4", (3, 64): "<f8",
}
_PHOTOMETRIC_RAW = (1, 2)  # MinIsBlack, RGB: GDAL returns their samples unchanged


class Interleave(StrEnum):
    """How a striped TIFF orders its samples."""

    PIXEL = "pixel"  # chunky: all bands of a pixel side by side (PlanarConfiguration 1)
    BAND = "band"  # planar: one band after the other (PlanarConfiguration 2; also any single-band image)


@dataclass(frozen=True)
class Layout:
    """Where the pixels of one striped, uncompressed TIFF image lie."""

    width: int
    height: int
    count: int  # samples per pixel (bands)
    dtype: np.dtype
    interleave: Interleave
    rows_per_strip: int
    offsets: np.ndarray  # int64, one per strip, in strip order
    sizes: np.ndarray  # int64 byte counts, one per strip


class _Header:
    """Random access to a file's bytes, served from the first read when possible."""

    def __init__(self, file: io.RawIOBase):
        self.file = file
        self.size = os.fstat(file.fileno()).st_size
        self.head = file.read(_HEAD_BYTES) or b""

    def bytes(self, offset: int, size: int) -> bytes:
        if offset + size <= len(self.head):
            return self.head[offset : offset + size]
        data = bytearray(size)
        _read_exactly(self.file, memoryview(data), offset)
        return bytes(data)


def _parse_ifd(header: _Header) -> dict[int, tuple[int, int, bytes]]:
    """The tags of IFD 0: ``{tag: (type, count, value-or-offset bytes)}``."""
    head = header.bytes(0, 8)
    if head[:4] != b"II*\x00":
        raise UnsupportedLayoutError("not a little-endian classic TIFF")
    (ifd,) = struct.unpack_from("<I", head, 4)
    (n,) = struct.unpack("<H", header.bytes(ifd, 2))
    raw = header.bytes(ifd + 2, 12 * n)
    tags = {}
    for i in range(n):
        tag, ftype, count, value = struct.unpack_from("<HHI4s", raw, 12 * i)
        tags[tag] = (ftype, count, value)
    return tags


def _values(header: _Header, tags: dict, tag: int, default: int | None = None) -> list[int]:
    """The SHORT/LONG values of a tag (``[default]`` when absent)."""
    if tag not in tags:
        if default is None:
            raise UnsupportedLayoutError(f"tag {tag} missing")
        return [default]
    ftype, count, value = tags[tag]
    fmt = _FIELD_FORMATS.get(ftype)
    if fmt is None or count == 0:
        raise UnsupportedLayoutError(f"tag {tag} has field type {ftype}")
    size = _FIELD_SIZES[ftype] * count
    data = value[:size] if size <= 4 else header.bytes(struct.unpack("<I", value)[0], size)
    return list(struct.unpack(f"<{count}{fmt}", data))


def _array(header: _Header, tags: dict, tag: int) -> np.ndarray:
    """A SHORT/LONG array tag as int64 (strip offsets and byte counts can be long)."""
    if tag not in tags:
        raise UnsupportedLayoutError(f"tag {tag} missing")
    ftype, count, value = tags[tag]
    fmt = {3: "<u2", 4: "<u4"}.get(ftype)
    if fmt is None or count == 0:
        raise UnsupportedLayoutError(f"tag {tag} has field type {ftype}")
    size = _FIELD_SIZES[ftype] * count
    data = value[:size] if size <= 4 else header.bytes(struct.unpack("<I", value)[0], size)
    return np.frombuffer(data, dtype=fmt).astype(np.int64)


def _single(header: _Header, tags: dict, tag: int, default: int | None = None) -> int:
    values = _values(header, tags, tag, default)
    if len(values) != 1:
        raise UnsupportedLayoutError(f"tag {tag} has {len(values)} values")
    return values[0]


def _uniform(header: _Header, tags: dict, tag: int, count: int, default: int) -> int:
    """A per-sample tag (BitsPerSample, SampleFormat) whose values must all agree."""
    values = _values(header, tags, tag, default)
    if len(values) not in (1, count) or len(set(values)) != 1:
        raise UnsupportedLayoutError(f"tag {tag} differs between samples")
    return values[0]


def _layout(header: _Header) -> Layout:
    tags = _parse_ifd(header)
    if _TILE_WIDTH in tags:
        raise UnsupportedLayoutError("tiled")
    if _single(header, tags, _COMPRESSION, 1) != 1 or _single(header, tags, _PREDICTOR, 1) != 1:
        raise UnsupportedLayoutError("compressed")
    if _single(header, tags, _NEW_SUBFILE_TYPE, 0) != 0:
        raise UnsupportedLayoutError("first image is not a full-resolution image")
    if _single(header, tags, _PHOTOMETRIC, 1) not in _PHOTOMETRIC_RAW:
        raise UnsupportedLayoutError("photometric interpretation GDAL may convert")
    if _single(header, tags, _ORIENTATION, 1) != 1 or _single(header, tags, _FILL_ORDER, 1) != 1:
        raise UnsupportedLayoutError("non-default orientation or fill order")
    width = _single(header, tags, _WIDTH)
    height = _single(header, tags, _HEIGHT)
    count = _single(header, tags, _SAMPLES_PER_PIXEL, 1)
    bits = _uniform(header, tags, _BITS_PER_SAMPLE, count, 1)
    fmt = _uniform(header, tags, _SAMPLE_FORMAT, count, 1)
    planar = _single(header, tags, _PLANAR_CONFIG, 1)
    if (fmt, bits) not in _DTYPES or planar not in (1, 2) or min(width, height, count) < 1:
        raise UnsupportedLayoutError("sample type or planar configuration")
    rows_per_strip = min(_single(header, tags, _ROWS_PER_STRIP, 2**32 - 1), height)
    if rows_per_strip < 1:
        raise UnsupportedLayoutError("zero rows per strip")
    offsets = _array(header, tags, _STRIP_OFFSETS)
    sizes = _array(header, tags, _STRIP_BYTE_COUNTS)
    dtype = np.dtype(_DTYPES[(fmt, bits)])
    interleave = Interleave.BAND if planar == 2 or count == 1 else Interleave.PIXEL
    strips_per_plane = -(-height // rows_per_strip)
    planes = count if interleave == Interleave.BAND else 1
    if len(offsets) != strips_per_plane * planes or len(sizes) != len(offsets):
        raise UnsupportedLayoutError("strip count does not match the image size")
    # Byte count each strip must have: full strips, then a shorter last one per plane.
    row_bytes = width * dtype.itemsize * (count if interleave == Interleave.PIXEL else 1)
    rows = np.full(strips_per_plane, rows_per_strip, dtype=np.int64)
    rows[-1] = height - rows_per_strip * (strips_per_plane - 1)
    if not np.array_equal(sizes, np.tile(rows * row_bytes, planes)) or np.any(offsets <= 0):
        raise UnsupportedLayoutError("sparse, short or padded strips")
    # Checked before any buffer is allocated: a damaged header cannot ask for gigabytes.
    if np.any(offsets + sizes > header.size):
        raise UnsupportedLayoutError("strips beyond the end of the file")
    return Layout(width, height, count, dtype, interleave, rows_per_strip, offsets, sizes)


def _read_exactly(file: io.RawIOBase, buffer: memoryview, offset: int) -> None:
    """Fill ``buffer`` from the file at ``offset``; a file that ends early is left to rasterio."""
    file.seek(offset)
    done = 0
    while done < len(buffer):
        n = file.readinto(buffer[done:])
        if not n:
            raise UnsupportedLayoutError("file ends before the data its header points to")
        done += n


def _read_strips(header: _Header, target: memoryview, offsets: np.ndarray, sizes: np.ndarray) -> None:
    """Read strips, in the order given, back to back into ``target`` (one read per run of
    strips that follow each other in the file; pixels already in the first read are copied)."""
    if len(offsets) == 0:
        return
    ends = offsets + sizes
    breaks = np.flatnonzero(offsets[1:] != ends[:-1]) + 1
    starts = np.concatenate(([0], breaks)).tolist()
    stops = np.concatenate((breaks, [len(offsets)])).tolist()
    at = 0
    for i, j in zip(starts, stops):
        first, last = int(offsets[i]), int(ends[j - 1])
        size = last - first
        if last <= len(header.head):
            target[at : at + size] = header.head[first:last]
        else:
            _read_exactly(header.file, target[at : at + size], first)
        at += size


_local = threading.local()


def _scratch(nbytes: int) -> np.ndarray:
    """A per-thread buffer for pixel-interleaved samples, reused from file to file: a fresh
    megabyte-sized array per file costs more in page faults than reading the file."""
    buffer = getattr(_local, "buffer", None)
    if buffer is None or buffer.size < nbytes:
        buffer = _local.buffer = np.empty(nbytes, dtype=np.uint8)
    return buffer[:nbytes]


def _runs(bands: list[int]) -> list[tuple[int, int, int]]:
    """``(first output row, first band, length)`` of each run of consecutive bands."""
    runs: list[tuple[int, int, int]] = []
    for row, band in enumerate(bands):
        if runs and band == runs[-1][1] + runs[-1][2]:
            runs[-1] = (runs[-1][0], runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((row, band, 1))
    return runs


def _read_band_interleaved(header: _Header, layout: Layout, bands: list[int], out: np.ndarray | None) -> np.ndarray:
    shape = (len(bands), layout.height, layout.width)
    direct = out is not None and out.dtype == layout.dtype and out.flags.c_contiguous
    target = out if direct else np.empty(shape, dtype=layout.dtype)
    # Each band is a run of strips: read the wanted ones straight into the target.
    per_band = len(layout.offsets) // layout.count
    pick = (np.asarray(bands, dtype=np.int64)[:, None] * per_band + np.arange(per_band)).ravel()
    _read_strips(header, memoryview(target.reshape(-1).view(np.uint8)), layout.offsets[pick], layout.sizes[pick])
    if out is None:
        native = target.dtype.newbyteorder("=")  # the samples are little-endian; rasterio's arrays native
        return target if target.dtype == native else target.astype(native)
    if not direct:
        np.copyto(out, target, casting="safe")
    return out


def _read_pixel_interleaved(header: _Header, layout: Layout, bands: list[int], out: np.ndarray | None) -> np.ndarray:
    buffer = _scratch(int(layout.sizes.sum()))
    _read_strips(header, memoryview(buffer), layout.offsets, layout.sizes)
    planes = buffer.view(layout.dtype).reshape(layout.height, layout.width, layout.count).transpose(2, 0, 1)
    if out is None:
        out = np.empty((len(bands), layout.height, layout.width), dtype=layout.dtype.newbyteorder("="))
    # De-interleave (and convert to out's dtype) in one pass per run of consecutive bands.
    for row, band, n in _runs(bands):
        np.copyto(out[row : row + n], planes[band : band + n], casting="safe")
    return out


def read_layout(path: str | os.PathLike[str]) -> Layout | None:
    """The strip layout of a file, or None when :func:`read_bands` would leave it to rasterio."""
    with open(path, "rb", buffering=0) as file:
        try:
            return _layout(_Header(file))
        except (UnsupportedLayoutError, struct.error):
            return None


def truncation(path: str | os.PathLike[str]) -> str | None:
    """Why the file is cut short, or None: whether the image data its first IFD points to
    (strips or tiles, compressed or not) lies within the file.

    A header-only check (no pixel is read) that finds truncated patch files, which
    opening the header alone does not.  Files this module cannot parse (big-endian,
    BigTIFF) give None.
    """
    with open(path, "rb", buffering=0) as file:
        header = _Header(file)
        try:
            tags = _parse_ifd(header)
            tiled = _TILE_WIDTH in tags
            offsets = _array(header, tags, _TILE_OFFSETS if tiled else _STRIP_OFFSETS)
            sizes = _array(header, tags, _TILE_BYTE_COUNTS if tiled else _STRIP_BYTE_COUNTS)
        except UnsupportedLayoutError as exc:
            return str(exc) if "ends before" in str(exc) else None
        except struct.error:
            return None
    end = int((offsets + sizes[: len(offsets)]).max(initial=0))
    if end > header.size:
        return f"truncated: its image data ends at byte {end:,}, the file has {header.size:,} bytes"
    return None


def read_bands(
    path: str | os.PathLike[str],
    indexes: Sequence[int],
    *,
    count: int | None = None,
    dtype: str | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray | None:
    """Read 1-based bands ``indexes`` of a file as ``[len(indexes), height, width]``.

    With ``out`` (an array of exactly that shape, of a dtype the samples cast to
    safely, e.g. float32 for uint16) the bands are written into it, converted on
    the way, and ``out`` is returned.

    Returns None when the file's layout is not one this module handles, when its
    band ``count`` or ``dtype`` (numpy name) differs from the one given, or when
    ``out`` does not have the file's shape, so the caller can read it with
    rasterio and report the problem in rasterio's words (what ``out`` then holds
    is undefined).  Raises :class:`FileNotFoundError` (and other :class:`OSError`)
    from opening it.
    """
    with open(path, "rb", buffering=0) as file:
        try:
            header = _Header(file)
            layout = _layout(header)
            if (count is not None and layout.count != count) or (dtype is not None and layout.dtype.name != dtype):
                return None
            if any(not 1 <= i <= layout.count for i in indexes):
                return None
            if out is not None and out.shape != (len(indexes), layout.height, layout.width):
                return None
            bands = [i - 1 for i in indexes]
            if layout.interleave == Interleave.BAND:
                return _read_band_interleaved(header, layout, bands, out)
            return _read_pixel_interleaved(header, layout, bands, out)
        except (UnsupportedLayoutError, struct.error):
            return None
