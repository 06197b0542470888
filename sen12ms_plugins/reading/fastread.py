"""Read the uncompressed, striped GeoTIFFs SEN12MS ships without going through GDAL.

Every SEN12MS patch is a small uncompressed GeoTIFF.  Opening one with GDAL costs
far more than reading its few hundred kilobytes, so for the layout the dataset
uses (:mod:`.tiffheader` parses and checks the header) this module reads the pixel
bytes straight into a numpy array: one ``open``, one header read and one data read
per file.  For any other layout :func:`read_bands` raises
:class:`~sen12ms_plugins.errors.UnsupportedLayoutError` whose message is the reason,
and the caller reads the file with rasterio.  On the layouts it handles the result
is the very array rasterio's ``DatasetReader.read(indexes)`` returns: same dtype,
shape and bytes (including NaN payloads), which the tests check file by file.

:func:`read_as_stored` copies a file's samples as the file lays them out (pixel- or
band-interleaved, the file's dtype) into a buffer, one read for its strips, and leaves
every file of another format to the caller.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import UnsupportedLayoutError
from .tiffheader import (
    Header,
    Interleave,
    Layout,
    opened,
    parse_layout,
    read_exactly,
    read_layout,
    tag_numbers,
    truncation,
)

__all__ = [
    "Convert",
    "Interleave",
    "Layout",
    "StoredFormat",
    "read_as_stored",
    "read_bands",
    "read_layout",
    "tag_numbers",
    "truncation",
]  # the header's names, re-exported


def _read_runs(header: Header, target: memoryview, runs: list[tuple[int, int]]) -> None:
    """Read runs of strips (``(offset, byte count)``) back to back into ``target``, one read
    per run; pixels already in the header's first read are copied from it."""
    at = 0
    head = header.head
    for first, size in runs:
        if first + size <= len(head):
            target[at : at + size] = head[first : first + size]
        else:
            read_exactly(header.fd, target[at : at + size], first)
        at += size


#: Writes its second array's values into its first (same shape) exactly, converting the dtype.
Convert = Callable[[np.ndarray, np.ndarray], None]

_local = threading.local()


def _scratch(nbytes: int) -> np.ndarray:
    """A per-thread buffer for strips whose samples are rearranged or converted on the way
    out, reused from file to file: a fresh megabyte-sized array per file costs more in
    page faults than reading the file."""
    buffer = getattr(_local, "buffer", None)
    if buffer is None or buffer.size < nbytes:
        buffer = _local.buffer = np.empty(nbytes, dtype=np.uint8)
    return buffer[:nbytes]


@functools.lru_cache(maxsize=256)
def _runs(bands: tuple[int, ...]) -> tuple[tuple[int, int, int], ...]:
    """``(first output row, first band, length)`` of each run of consecutive bands (a
    dataset asks for the same few band lists again and again)."""
    runs: list[tuple[int, int, int]] = []
    for row, band in enumerate(bands):
        if runs and band == runs[-1][1] + runs[-1][2]:
            runs[-1] = (runs[-1][0], runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((row, band, 1))
    return tuple(runs)


@dataclass(frozen=True)
class _Window:
    """Rows ``first`` to ``stop`` (exclusive) of an image, and the strips holding them."""

    first: int
    stop: int
    strips: slice  # of each plane's strips
    skip: int  # rows of the first strip above ``first``
    rows_read: int  # rows the strips hold

    @classmethod
    def of(cls, layout: Layout, first: int, stop: int) -> _Window:
        return _window(layout.rows_per_strip, layout.height, first, stop)

    def is_whole(self, layout: Layout) -> bool:
        return self.first == 0 and self.stop == layout.height


@functools.lru_cache(maxsize=256)
def _window(rows_per_strip: int, height: int, first: int, stop: int) -> _Window:
    # Cached: every file of a dataset asks for the same few windows.
    strips = slice(first // rows_per_strip, -(-stop // rows_per_strip))
    top = strips.start * rows_per_strip
    return _Window(first, stop, strips, first - top, min(strips.stop * rows_per_strip, height) - top)


def _read_band_interleaved(header: Header, layout: Layout, bands: list[int], window: _Window,
                           out: np.ndarray | None) -> np.ndarray:
    wanted = window.stop - window.first
    if out is None:
        out = np.empty((len(bands), wanted, layout.width), dtype=layout.dtype.newbyteorder("="))
    aligned = window.skip == 0 and window.rows_read == wanted
    plane = (layout.width * layout.dtype.itemsize, layout.dtype.itemsize)  # strides of a C-ordered band
    direct = out.dtype == layout.dtype and aligned and out.strides[1:] == plane
    # Each band is a run of strips: read the wanted ones straight into out's band when it has
    # the file's dtype, else into a scratch band converted into out's.
    per_band = len(layout.offsets) // layout.count
    for k, band in enumerate(bands):
        runs = layout.runs_of(band * per_band + window.strips.start, band * per_band + window.strips.stop)
        if direct:
            _read_runs(header, memoryview(out[k]).cast("B"), runs)
            continue
        buffer = _scratch(window.rows_read * plane[0])
        _read_runs(header, memoryview(buffer), runs)
        rows = buffer.view(layout.dtype).reshape(window.rows_read, layout.width)
        np.copyto(out[k], rows[window.skip : window.skip + wanted], casting="safe")
    return out


def _copy_safe(dst: np.ndarray, src: np.ndarray) -> None:
    np.copyto(dst, src, casting="safe")


def _read_pixel_interleaved(header: Header, layout: Layout, bands: list[int], window: _Window,
                            out: np.ndarray | None, convert: Convert | None) -> np.ndarray:
    if window.is_whole(layout):
        runs = layout.runs
    else:
        runs = layout.runs_of(window.strips.start, window.strips.stop)
    buffer = _scratch(sum(size for _, size in runs))
    _read_runs(header, memoryview(buffer), runs)
    pixels = buffer.view(layout.dtype).reshape(window.rows_read, layout.width, layout.count)
    planes = pixels[window.skip : window.skip + window.stop - window.first].transpose(2, 0, 1)
    if out is None:
        out = np.empty((len(bands), *planes.shape[1:]), dtype=layout.dtype.newbyteorder("="))
    # De-interleave (and convert to out's dtype) in one pass per run of consecutive bands.
    copy = _copy_safe if convert is None else convert
    for row, band, n in _runs(tuple(bands)):
        copy(out[row : row + n], planes[band : band + n])
    return out


def read_bands(
    path: str | os.PathLike[str],
    indexes: Sequence[int],
    *,
    check: Callable[[Layout], None] | None = None,
    out: np.ndarray | None = None,
    dtype: np.dtype | str | None = None,
    rows: tuple[int, int] | None = None,
    convert: Convert | None = None,
) -> np.ndarray:
    """Read 1-based bands ``indexes`` of a file as ``[len(indexes), height, width]``.

    With ``rows`` (``(first, stop)``, 0-based, ``stop`` exclusive) only those rows are
    read, as ``[len(indexes), stop - first, width]``: only the strips that hold them.

    ``check`` is called with the file's layout before any pixel is read; it raises to
    refuse the file (a band count, dtype or size the caller does not accept).  With
    ``out`` (an array of exactly that shape, of a dtype the samples cast to safely,
    e.g. float32 for uint16) the bands are written into it, converted on the way, and
    ``out`` is returned.  Without it the array has the file's dtype (in native byte
    order), or ``dtype``, a dtype the samples cast to safely, converted on the way.

    ``convert(dst, src)`` does the de-interleaving pass of a pixel-interleaved file, the
    one costly step of reading one: it must write ``src`` (a strided view of the file's
    samples) into ``dst`` exactly, as ``np.copyto(dst, src, casting="safe")``, the
    default, does (torch's multi-threaded copy, say).

    Raises :class:`~sen12ms_plugins.errors.UnsupportedLayoutError` (its message the
    reason; :class:`~sen12ms_plugins.errors.DamagedHeaderError` for a damaged header)
    when the file's layout is not one this module reads, so that the caller can read
    it with rasterio; ValueError for an index outside the file's bands or an ``out`` of
    another shape; :class:`FileNotFoundError` (and other :class:`OSError`) from opening it.
    """
    with opened(path) as fd:
        header = Header(fd)
        layout = parse_layout(header)
        if check is not None:
            check(layout)
        if indexes and (min(indexes) < 1 or max(indexes) > layout.count):
            raise ValueError(f"{os.fspath(path)}: band indexes {list(indexes)} outside 1-{layout.count}")
        first, stop = (0, layout.height) if rows is None else rows
        if not 0 <= first < stop <= layout.height:
            raise ValueError(f"{os.fspath(path)}: rows {first}-{stop} outside the image's 0-{layout.height}")
        shape = (len(indexes), stop - first, layout.width)
        if out is not None and out.shape != shape:
            raise ValueError(f"out has shape {out.shape}, the bands read have {shape}")
        bands = [i - 1 for i in indexes]
        if out is None and dtype is not None:
            out = np.empty(shape, dtype=dtype)
        window = _Window.of(layout, first, stop)
        if layout.interleave == Interleave.BAND:
            return _read_band_interleaved(header, layout, bands, window, out)
        return _read_pixel_interleaved(header, layout, bands, window, out, convert)


@dataclass(frozen=True)
class StoredFormat:
    """How a file stores its pixels, which is what :func:`read_as_stored` copies: the samples'
    dtype (native byte order), the band count, the interleaving and the image size."""

    dtype: np.dtype
    count: int
    interleave: Interleave
    height: int
    width: int

    @classmethod
    def of(cls, layout: Layout) -> StoredFormat:
        """The format of a file of ``layout``."""
        return cls(layout.dtype.newbyteorder("="), layout.count, layout.interleave, layout.height, layout.width)

    def matches(self, layout: Layout) -> bool:
        """Whether a file of ``layout`` stores its samples in this format, byte order included."""
        return (layout.dtype == self.dtype and layout.count == self.count and layout.interleave == self.interleave
                and layout.height == self.height and layout.width == self.width)

    @property
    def shape(self) -> tuple[int, int, int]:
        """The samples in the order the file stores them: ``(height, width, bands)`` when
        pixel-interleaved, ``(bands, height, width)`` when band-interleaved."""
        if self.interleave == Interleave.PIXEL:
            return self.height, self.width, self.count
        return self.count, self.height, self.width

    @property
    def nbytes(self) -> int:
        """Bytes of all the samples."""
        return self.count * self.height * self.width * self.dtype.itemsize


def read_as_stored(path: str | os.PathLike[str], out: np.ndarray, expected: StoredFormat) -> bool:
    """Copy all of a file's samples, as the file stores them (no de-interleaving, no
    conversion), into ``out``, a C-contiguous array of ``expected.nbytes`` bytes.

    True when done: the file has the ``expected`` format and a layout this module reads
    (the strips are read back to back, one read per run of strips that follow each other
    in the file; little-endian samples on a little-endian machine).  False, with ``out``
    left undefined, for any other file: another format, a layout left to rasterio, a
    damaged header, or a file that cannot be opened or ends early.  The caller then reads
    it with :func:`~sen12ms_plugins.reading.reader.read_file`, which converts what it can
    and raises the error that says what is wrong with the rest.
    """
    if not out.flags.c_contiguous or out.nbytes != expected.nbytes:
        raise ValueError(f"out must be a C-contiguous array of {expected.nbytes} bytes, got {out.nbytes} "
                         f"({'' if out.flags.c_contiguous else 'not '}C-contiguous)")
    try:
        with opened(path) as fd:
            header = Header(fd)
            layout = parse_layout(header)
            if not expected.matches(layout):
                return False
            _read_runs(header, memoryview(out).cast("B"), layout.runs)
    except (UnsupportedLayoutError, OSError):  # DamagedHeaderError among the former
        return False
    return True
