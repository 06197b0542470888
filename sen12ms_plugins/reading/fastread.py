"""Read the uncompressed, striped GeoTIFFs SEN12MS ships without going through GDAL.

Every SEN12MS patch is a small uncompressed GeoTIFF.  Opening one with GDAL costs
far more than reading its few hundred kilobytes, so for the layout the dataset
uses this module parses the TIFF header itself and reads the pixel bytes straight
into a numpy array: one ``open``, one header read and one data read per file.

Handled: classic little-endian TIFF, first image (IFD 0), no compression, strips
(pixel- or band-interleaved, any rows per strip, strips in any file order), equal
8/16/32/64-bit samples of unsigned, signed or floating-point type, photometric
MinIsBlack or RGB, default orientation and fill order.  For anything else
:func:`read_bands` raises :class:`~sen12ms_plugins.errors.UnsupportedLayoutError`
whose message is the reason (``compressed (LZW)``, ``tiled``, ``big-endian TIFF`` …),
and the caller reads the file with rasterio.  A header that contradicts itself or
the file (tags cut off, strip tables of different lengths, strips beyond the end of
the file) raises its subclass :class:`~sen12ms_plugins.errors.DamagedHeaderError`;
every size is checked against the file before anything is allocated, so no header,
however garbled, makes this module read or allocate more than the file holds.  On
the layouts it handles the result is the very array rasterio's
``DatasetReader.read(indexes)`` returns: same dtype, shape and bytes (including NaN
payloads), which the tests check file by file.
"""

from __future__ import annotations

import io
import os
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from ..errors import DamagedHeaderError, UnsupportedLayoutError

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
# Names for the reasons given to users (TIFF 6.0 and the registered extensions GDAL writes).
_TAG_NAMES = {
    _NEW_SUBFILE_TYPE: "NewSubfileType", _WIDTH: "ImageWidth", _HEIGHT: "ImageLength",
    _BITS_PER_SAMPLE: "BitsPerSample", _COMPRESSION: "Compression", _PHOTOMETRIC: "PhotometricInterpretation",
    _FILL_ORDER: "FillOrder", _STRIP_OFFSETS: "StripOffsets", _ORIENTATION: "Orientation",
    _SAMPLES_PER_PIXEL: "SamplesPerPixel", _ROWS_PER_STRIP: "RowsPerStrip", _STRIP_BYTE_COUNTS: "StripByteCounts",
    _PLANAR_CONFIG: "PlanarConfiguration", _PREDICTOR: "Predictor", _TILE_WIDTH: "TileWidth",
    _TILE_OFFSETS: "TileOffsets", _TILE_BYTE_COUNTS: "TileByteCounts", _SAMPLE_FORMAT: "SampleFormat",
}
_COMPRESSIONS = {2: "CCITT RLE", 3: "CCITT G3", 4: "CCITT G4", 5: "LZW", 6: "old JPEG", 7: "JPEG", 8: "Deflate",
                 32773: "PackBits", 32946: "Deflate", 34676: "SGILOG", 34887: "LERC", 34925: "LZMA",
                 50000: "ZSTD", 50001: "WEBP", 50002: "JPEG XL"}
_PHOTOMETRICS = {0: "MinIsWhite", 3: "palette", 4: "transparency mask", 5: "CMYK", 6: "YCbCr", 8: "CIELab"}


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
        if offset + size > self.size:  # checked before allocating: a garbled count cannot ask for gigabytes
            raise DamagedHeaderError("header points beyond the end of the file")
        data = bytearray(size)
        _read_exactly(self.file, memoryview(data), offset)
        return bytes(data)


def _name(tag: int) -> str:
    return _TAG_NAMES.get(tag, f"tag {tag}")


def _parse_ifd(header: _Header) -> dict[int, tuple[int, int, bytes]]:
    """The tags of IFD 0: ``{tag: (type, count, value-or-offset bytes)}``."""
    if header.size < 8:
        raise DamagedHeaderError("not a TIFF file (shorter than a TIFF header)")
    head = header.bytes(0, 8)
    if head[:4] != b"II*\x00":
        kinds = {b"MM\x00*": "big-endian TIFF", b"II+\x00": "BigTIFF", b"MM\x00+": "big-endian BigTIFF"}
        if head[:4] in kinds:
            raise UnsupportedLayoutError(kinds[head[:4]])
        raise DamagedHeaderError("not a TIFF file")
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
            raise DamagedHeaderError(f"{_name(tag)} missing")
        return [default]
    ftype, count, value = tags[tag]
    fmt = _FIELD_FORMATS.get(ftype)
    if fmt is None or count == 0:
        raise DamagedHeaderError(f"{_name(tag)} has field type {ftype} and {count} values")
    size = _FIELD_SIZES[ftype] * count
    data = value[:size] if size <= 4 else header.bytes(struct.unpack("<I", value)[0], size)
    return list(struct.unpack(f"<{count}{fmt}", data))


def _array(header: _Header, tags: dict, tag: int) -> np.ndarray:
    """A SHORT/LONG array tag as int64 (strip offsets and byte counts can be long)."""
    if tag not in tags:
        raise DamagedHeaderError(f"{_name(tag)} missing")
    ftype, count, value = tags[tag]
    fmt = {3: "<u2", 4: "<u4"}.get(ftype)
    if fmt is None or count == 0:
        raise DamagedHeaderError(f"{_name(tag)} has field type {ftype} and {count} values")
    size = _FIELD_SIZES[ftype] * count
    data = value[:size] if size <= 4 else header.bytes(struct.unpack("<I", value)[0], size)
    return np.frombuffer(data, dtype=fmt).astype(np.int64)


def _single(header: _Header, tags: dict, tag: int, default: int | None = None) -> int:
    values = _values(header, tags, tag, default)
    if len(values) != 1:
        raise DamagedHeaderError(f"{_name(tag)} has {len(values)} values, not 1")
    return values[0]


def _uniform(header: _Header, tags: dict, tag: int, count: int, default: int) -> int:
    """A per-sample tag (BitsPerSample, SampleFormat) whose values must all agree."""
    values = _values(header, tags, tag, default)
    if len(values) not in (1, count):
        raise DamagedHeaderError(f"{_name(tag)} has {len(values)} values for {count} samples per pixel")
    if len(set(values)) != 1:
        raise UnsupportedLayoutError(f"{_name(tag)} differs between bands")
    return values[0]


def _layout(header: _Header) -> Layout:
    tags = _parse_ifd(header)
    if _TILE_WIDTH in tags:
        raise UnsupportedLayoutError("tiled")
    compression = _single(header, tags, _COMPRESSION, 1)
    if compression != 1:
        raise UnsupportedLayoutError(f"compressed ({_COMPRESSIONS.get(compression, f'method {compression}')})")
    predictor = _single(header, tags, _PREDICTOR, 1)
    if predictor != 1:
        raise UnsupportedLayoutError(f"predictor {predictor}")
    if _single(header, tags, _NEW_SUBFILE_TYPE, 0) != 0:
        raise UnsupportedLayoutError("first image is not a full-resolution image")
    photometric = _single(header, tags, _PHOTOMETRIC, 1)
    if photometric not in _PHOTOMETRIC_RAW:
        raise UnsupportedLayoutError(f"photometric interpretation {_PHOTOMETRICS.get(photometric, photometric)}")
    if _single(header, tags, _ORIENTATION, 1) != 1 or _single(header, tags, _FILL_ORDER, 1) != 1:
        raise UnsupportedLayoutError("non-default orientation or fill order")
    width = _single(header, tags, _WIDTH)
    height = _single(header, tags, _HEIGHT)
    count = _single(header, tags, _SAMPLES_PER_PIXEL, 1)
    if min(width, height, count) < 1:
        raise DamagedHeaderError(f"image of {width}x{height} pixels and {count} samples per pixel")
    bits = _uniform(header, tags, _BITS_PER_SAMPLE, count, 1)
    fmt = _uniform(header, tags, _SAMPLE_FORMAT, count, 1)
    if (fmt, bits) not in _DTYPES:
        raise UnsupportedLayoutError(f"{bits}-bit samples of SampleFormat {fmt}")
    planar = _single(header, tags, _PLANAR_CONFIG, 1)
    if planar not in (1, 2):
        raise DamagedHeaderError(f"PlanarConfiguration {planar}")
    rows_per_strip = min(_single(header, tags, _ROWS_PER_STRIP, 2**32 - 1), height)
    if rows_per_strip < 1:
        raise DamagedHeaderError("RowsPerStrip is 0")
    offsets = _array(header, tags, _STRIP_OFFSETS)
    sizes = _array(header, tags, _STRIP_BYTE_COUNTS)
    dtype = np.dtype(_DTYPES[(fmt, bits)])
    interleave = Interleave.BAND if planar == 2 or count == 1 else Interleave.PIXEL
    strips_per_plane = -(-height // rows_per_strip)
    planes = count if interleave == Interleave.BAND else 1
    if len(sizes) != len(offsets):
        raise DamagedHeaderError(f"StripByteCounts has {len(sizes)} entries, StripOffsets {len(offsets)}")
    if len(offsets) != strips_per_plane * planes:
        raise DamagedHeaderError(f"{len(offsets)} strips, the image needs {strips_per_plane * planes}")
    # Byte count each strip must have: full strips, then a shorter last one per plane.
    row_bytes = width * dtype.itemsize * (count if interleave == Interleave.PIXEL else 1)
    rows = np.full(strips_per_plane, rows_per_strip, dtype=np.int64)
    rows[-1] = height - rows_per_strip * (strips_per_plane - 1)
    expected = np.tile(rows * row_bytes, planes)
    if np.any(offsets == 0) or np.any(sizes == 0):
        raise UnsupportedLayoutError("sparse strips")  # GDAL's SPARSE_OK: missing strips read as zeros
    if np.any(sizes < expected):
        raise DamagedHeaderError("strips shorter than their rows")
    if np.any(sizes != expected):
        raise UnsupportedLayoutError("padded strips")
    # Checked before any buffer is allocated: a damaged header cannot ask for gigabytes.
    if np.any(offsets + sizes > header.size):
        raise DamagedHeaderError("strips beyond the end of the file")
    return Layout(width, height, count, dtype, interleave, rows_per_strip, offsets, sizes)


def _read_exactly(file: io.RawIOBase, buffer: memoryview, offset: int) -> None:
    """Fill ``buffer`` from the file at ``offset``; a file that ends early is left to rasterio."""
    file.seek(offset)
    done = 0
    while done < len(buffer):
        n = file.readinto(buffer[done:])
        if not n:
            raise DamagedHeaderError("file ends before the data its header points to")
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


def tag_numbers(path: str | os.PathLike[str]) -> frozenset[int]:
    """The tag numbers of a file's first IFD (its GeoTIFF keys among them), from its header alone;
    :class:`~sen12ms_plugins.errors.UnsupportedLayoutError` for files this module cannot parse."""
    with open(path, "rb", buffering=0) as file:
        try:
            return frozenset(_parse_ifd(_Header(file)))
        except struct.error as exc:
            raise DamagedHeaderError(f"header cut short ({exc})") from None


def read_layout(path: str | os.PathLike[str]) -> Layout:
    """The strip layout of a file; raises :class:`~sen12ms_plugins.errors.UnsupportedLayoutError`
    (the reason) when :func:`read_bands` would leave it to rasterio."""
    with open(path, "rb", buffering=0) as file:
        return _parse(_Header(file))


def _parse(header: _Header) -> Layout:
    try:
        return _layout(header)
    except struct.error as exc:  # a field cut short: the header is damaged, whatever the tag
        raise DamagedHeaderError(f"header cut short ({exc})") from None


def truncation(path: str | os.PathLike[str]) -> str | None:
    """Why the image data the first IFD points to (strips or tiles, compressed or not) is not
    all in the file, or None.

    A header-only check (no pixel is read) that finds truncated patch files, which
    opening the header alone does not.  Data laid out back to back that runs past the
    end is a file cut short (``truncated: …``); data elsewhere beyond the end is a
    damaged header.  Files this module cannot parse (big-endian, BigTIFF, damaged tags)
    give None: :func:`read_layout` says what is wrong with those.
    """
    with open(path, "rb", buffering=0) as file:
        header = _Header(file)
        try:
            tags = _parse_ifd(header)
            tiled = _TILE_WIDTH in tags
            offsets = _array(header, tags, _TILE_OFFSETS if tiled else _STRIP_OFFSETS)
            sizes = _array(header, tags, _TILE_BYTE_COUNTS if tiled else _STRIP_BYTE_COUNTS)
        except (UnsupportedLayoutError, struct.error):
            return None
    n = min(len(offsets), len(sizes))  # tables of different lengths are a damaged header, not a truncation
    order = np.argsort(offsets[:n], kind="stable")
    starts, ends = offsets[:n][order], offsets[:n][order] + sizes[:n][order]
    end = int(ends.max(initial=0))
    if end <= header.size:
        return None
    if np.array_equal(starts[1:], ends[:-1]):
        return f"truncated: its image data ends at byte {end:,}, the file has {header.size:,} bytes"
    return f"damaged TIFF header: image data placed beyond the end of the file (up to byte {end:,}, " \
           f"the file has {header.size:,} bytes)"


def read_bands(
    path: str | os.PathLike[str],
    indexes: Sequence[int],
    *,
    check: Callable[[Layout], None] | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Read 1-based bands ``indexes`` of a file as ``[len(indexes), height, width]``.

    ``check`` is called with the file's layout before any pixel is read; it raises to
    refuse the file (a band count, dtype or size the caller does not accept).  With
    ``out`` (an array of exactly that shape, of a dtype the samples cast to safely,
    e.g. float32 for uint16) the bands are written into it, converted on the way, and
    ``out`` is returned.

    Raises :class:`~sen12ms_plugins.errors.UnsupportedLayoutError` (its message the
    reason; :class:`~sen12ms_plugins.errors.DamagedHeaderError` for a damaged header)
    when the file's layout is not one this module reads, so that the caller can read
    it with rasterio; ValueError for an index outside the file's bands or an ``out`` of
    another shape; :class:`FileNotFoundError` (and other :class:`OSError`) from opening it.
    """
    with open(path, "rb", buffering=0) as file:
        header = _Header(file)
        layout = _parse(header)
        if check is not None:
            check(layout)
        if any(not 1 <= i <= layout.count for i in indexes):
            raise ValueError(f"{os.fspath(path)}: band indexes {list(indexes)} outside 1-{layout.count}")
        if out is not None and out.shape != (len(indexes), layout.height, layout.width):
            raise ValueError(f"out has shape {out.shape}, the bands read have {(len(indexes), layout.height, layout.width)}")
        bands = [i - 1 for i in indexes]
        if layout.interleave == Interleave.BAND:
            return _read_band_interleaved(header, layout, bands, out)
        return _read_pixel_interleaved(header, layout, bands, out)
