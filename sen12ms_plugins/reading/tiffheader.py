"""The strip layout of a TIFF file, parsed from its header without GDAL.

Handled: classic little-endian TIFF, first image (IFD 0), no compression, strips
(pixel- or band-interleaved, any rows per strip, strips in any file order), equal
8/16/32/64-bit samples of unsigned, signed or floating-point type, photometric
MinIsBlack or RGB, default orientation and fill order.  For anything else
:func:`read_layout` raises :class:`~sen12ms_plugins.errors.UnsupportedLayoutError`
whose message is the reason (``compressed (LZW)``, ``tiled``, ``big-endian TIFF`` …).
A header that contradicts itself or the file (tags cut off, strip tables of
different lengths, strips beyond the end of the file) raises its subclass
:class:`~sen12ms_plugins.errors.DamagedHeaderError`; every size is checked against
the file, so no header, however garbled, makes a reader read or allocate more than
the file holds.  Layouts are cached by the bytes they were parsed from, so the
thousands of patches that share a header are parsed once.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

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
    offsets: np.ndarray  # int64, one per strip, in strip order (read-only)
    sizes: np.ndarray  # int64 byte counts, one per strip (read-only)
    _window_runs: dict[tuple[int, int], list[tuple[int, int]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    @cached_property
    def dtype_name(self) -> str:
        """The samples' numpy dtype name (``uint16`` …)."""
        return self.dtype.name

    @cached_property
    def runs(self) -> list[tuple[int, int]]:
        """``(offset, byte count)`` of each run of strips that follow each other in the file,
        in strip order: all of the image's samples in as few reads as the file allows."""
        return strip_runs(self.offsets, self.sizes)

    def runs_of(self, first: int, stop: int) -> list[tuple[int, int]]:
        """:attr:`runs` of the strips ``first`` to ``stop`` (exclusive) of the strip table (a row
        block of a pixel-interleaved image, or of one band of a band-interleaved one), computed
        once per layout: a dataset reads the same few bands and row blocks of every file."""
        runs = self._window_runs.get((first, stop))
        if runs is None:
            runs = self._window_runs[(first, stop)] = strip_runs(self.offsets[first:stop], self.sizes[first:stop])
        return runs


def strip_runs(offsets: np.ndarray, sizes: np.ndarray) -> list[tuple[int, int]]:
    """``(offset, byte count)`` of each run of strips (taken in the order given) that follow
    each other in the file."""
    if len(offsets) == 0:
        return []
    ends = offsets + sizes
    breaks = np.flatnonzero(offsets[1:] != ends[:-1]) + 1
    starts = np.concatenate(([0], breaks)).tolist()
    stops = np.concatenate((breaks, [len(offsets)])).tolist()
    return [(int(offsets[i]), int(ends[j - 1] - offsets[i])) for i, j in zip(starts, stops)]


@contextlib.contextmanager
def opened(path: str | os.PathLike[str]) -> Iterator[int]:
    """A file descriptor of ``path`` open for reading while the block runs (positioned reads
    need no file object: one system call per read)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        yield fd
    finally:
        os.close(fd)


class Header:
    """Random access to a file's bytes (an open file descriptor), served from the first read when possible."""

    def __init__(self, fd: int):
        self.fd = fd
        self.size = os.fstat(fd).st_size
        self.head = os.pread(fd, _HEAD_BYTES, 0)

    def bytes(self, offset: int, size: int) -> bytes:
        if offset + size <= len(self.head):
            return self.head[offset : offset + size]
        if offset + size > self.size:  # checked before allocating: a garbled count cannot ask for gigabytes
            raise DamagedHeaderError("header points beyond the end of the file")
        data = bytearray(size)
        read_exactly(self.fd, memoryview(data), offset)
        return bytes(data)


def _name(tag: int) -> str:
    return _TAG_NAMES.get(tag, f"tag {tag}")


def _parse_ifd(header: Header) -> dict[int, tuple[int, int, bytes]]:
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


def _values(header: Header, tags: dict, tag: int, default: int | None = None) -> list[int]:
    """The SHORT/LONG values of a tag (``[default]`` when absent)."""
    if tag not in tags:
        if default is None:
            raise DamagedHeaderError(f"{_name(tag)} missing")
        return [default]
    count, fmt, data = _field(header, tags, tag, _FIELD_FORMATS)
    return list(struct.unpack(f"<{count}{fmt}", data))


def _field(header: Header, tags: dict, tag: int, formats: dict[int, str]) -> tuple[int, str, bytes]:
    """(count, the format of its field type in ``formats``, the bytes) of a present SHORT/LONG tag."""
    ftype, count, value = tags[tag]
    fmt = formats.get(ftype)
    if fmt is None or count == 0:
        raise DamagedHeaderError(f"{_name(tag)} has field type {ftype} and {count} values")
    size = _FIELD_SIZES[ftype] * count
    return count, fmt, value[:size] if size <= 4 else header.bytes(struct.unpack("<I", value)[0], size)


def _array(header: Header, tags: dict, tag: int) -> np.ndarray:
    """A SHORT/LONG array tag as int64 (strip offsets and byte counts can be long)."""
    if tag not in tags:
        raise DamagedHeaderError(f"{_name(tag)} missing")
    _, fmt, data = _field(header, tags, tag, {3: "<u2", 4: "<u4"})
    return np.frombuffer(data, dtype=fmt).astype(np.int64)


def _single(header: Header, tags: dict, tag: int, default: int | None = None) -> int:
    values = _values(header, tags, tag, default)
    if len(values) != 1:
        raise DamagedHeaderError(f"{_name(tag)} has {len(values)} values, not 1")
    return values[0]


def _uniform(header: Header, tags: dict, tag: int, count: int, default: int) -> int:
    """A per-sample tag (BitsPerSample, SampleFormat) whose values must all agree."""
    values = _values(header, tags, tag, default)
    if len(values) not in (1, count):
        raise DamagedHeaderError(f"{_name(tag)} has {len(values)} values for {count} samples per pixel")
    if len(set(values)) != 1:
        raise UnsupportedLayoutError(f"{_name(tag)} differs between bands")
    return values[0]


def _layout(header: Header) -> Layout:
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
    offsets.flags.writeable = sizes.flags.writeable = False  # a cached layout serves many files
    return Layout(width, height, count, dtype, interleave, rows_per_strip, offsets, sizes)


def read_exactly(fd: int, buffer: memoryview, offset: int) -> None:
    """Fill ``buffer`` from the file at ``offset``; a file that ends early is left to rasterio."""
    done = 0
    while done < len(buffer):
        n = os.preadv(fd, [buffer[done:]], offset + done)
        if not n:
            raise DamagedHeaderError("file ends before the data its header points to")
        done += n


def read_layout(path: str | os.PathLike[str]) -> Layout:
    """The strip layout of a file; raises :class:`~sen12ms_plugins.errors.UnsupportedLayoutError`
    (the reason) when :func:`~sen12ms_plugins.reading.fastread.read_bands` would leave it to rasterio."""
    with opened(path) as fd:
        return parse_layout(Header(fd))


def tag_numbers(path: str | os.PathLike[str]) -> frozenset[int]:
    """The tag numbers of a file's first IFD (its GeoTIFF keys among them), from its header alone;
    :class:`~sen12ms_plugins.errors.UnsupportedLayoutError` for files this module cannot parse."""
    with opened(path) as fd:
        try:
            return frozenset(_parse_ifd(Header(fd)))
        except struct.error as exc:
            raise DamagedHeaderError(f"header cut short ({exc})") from None


class _Recorder(Header):
    """A header whose reads are kept: a layout is a function of the file size and the bytes read to parse it."""

    def __init__(self, header: Header):  # the file is already open and its head read
        self.fd, self.size, self.head = header.fd, header.size, header.head
        self.reads: list[tuple[int, bytes]] = []

    def bytes(self, offset: int, size: int) -> bytes:
        data = super().bytes(offset, size)
        self.reads.append((offset, data))
        return data


# Layouts parsed so far, keyed by the file size and the bytes of the first IFD's entries,
# with every read the parse made.  Patches of a sensor share a handful of headers (their
# georeference values differ, not their tags), so a file whose size, entries and recorded
# bytes all match has the cached layout without parsing it again (parsing costs as much
# as reading a small file).  Cleared when full: the real dataset needs a few dozen entries.
_layouts: dict[tuple[int, bytes], tuple[Layout, tuple[tuple[int, bytes], ...]]] = {}
_LAYOUTS_KEPT = 256


def _cache_key(header: Header) -> tuple[int, bytes] | None:
    """The file size and the bytes from the TIFF magic to the end of the first IFD's entries."""
    head = header.head
    if len(head) < 8 or head[:4] != b"II*\x00":
        return None
    (ifd,) = struct.unpack_from("<I", head, 4)
    if ifd + 2 > len(head):
        return None
    (n,) = struct.unpack_from("<H", head, ifd)
    end = ifd + 2 + 12 * n
    return (header.size, head[:4] + head[4:8] + head[ifd:end]) if end <= len(head) else None


def parse_layout(header: Header) -> Layout:
    """The layout of the file ``header`` reads (as :func:`read_layout`), from the cache when
    the bytes it would be parsed from are those of a file parsed before."""
    key = _cache_key(header)
    cached = _layouts.get(key) if key is not None else None
    if cached is not None and all(header.bytes(offset, len(data)) == data for offset, data in cached[1]):
        return cached[0]
    recorder = _Recorder(header)
    try:
        layout = _layout(recorder)
    except struct.error as exc:  # a field cut short: the header is damaged, whatever the tag
        raise DamagedHeaderError(f"header cut short ({exc})") from None
    if key is not None:
        if len(_layouts) >= _LAYOUTS_KEPT:
            _layouts.clear()
        (ifd,) = struct.unpack_from("<I", key[1], 4)
        # The reads of the header and the entries are the key; the values they point to are checked.
        outside = tuple((offset, data) for offset, data in recorder.reads
                        if not (offset + len(data) <= 8 or ifd <= offset and offset + len(data) <= ifd + len(key[1]) - 8))
        _layouts[key] = (layout, outside)
    return layout


#: The first word of what is said of a file cut short.
TRUNCATED = "truncated"


def truncation(path: str | os.PathLike[str]) -> str | None:
    """Why the image data the first IFD points to (strips or tiles, compressed or not) is not
    all in the file, or None.

    A header-only check (no pixel is read) that finds truncated patch files, which
    opening the header alone does not.  Data laid out back to back that runs past the
    end is a file cut short (``truncated: …``); data elsewhere beyond the end is a
    damaged header.  Files this module cannot parse (big-endian, BigTIFF, damaged tags)
    give None: :func:`read_layout` says what is wrong with those.
    """
    with opened(path) as fd:
        header = Header(fd)
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
        return f"{TRUNCATED}: its image data ends at byte {end:,}, the file has {header.size:,} bytes"
    return f"damaged TIFF header: image data placed beyond the end of the file (up to byte {end:,}, " \
           f"the file has {header.size:,} bytes)"
