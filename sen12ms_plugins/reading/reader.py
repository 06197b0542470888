"""Read SEN12MS patches into numpy arrays, and their georeference.

Arrays keep the file's band order and have one dtype per sensor whatever the file
holds (:data:`~sen12ms_plugins.dataset.facts.DTYPES`): s1 float32 [2, H, W], s2 uint16
[13, H, W], lc uint16 [4, H, W]; a land-cover file in uint8 (the other data type the
real files are reported to have: :data:`~sen12ms_plugins.dataset.facts.FILE_DTYPES`)
is widened without loss.  A file that is missing, unreadable, or not shaped like its
sensor's patches raises :class:`~sen12ms_plugins.errors.PatchFileError` naming the file.

DFC2020 patches have their own formats (:data:`~sen12ms_plugins.dataset.facts.DFC2020_FORMATS`,
chosen by the patch's folder): a fourth file, ``dfc`` (uint8 [1, H, W], the 10 m label), and
file dtypes wider than what is returned (s1 float64, dfc int32).  Those are narrowed at the
one conversion point of :func:`read_file`, every value checked: one the returned dtype cannot
hold is a ``PatchFileError`` naming the file and the value.

Files in SEN12MS's own layout are read by :mod:`.fastread`; any other layout is read
by rasterio, and the first such file of each reason is logged at WARNING level on the
``sen12ms_plugins.reading.reader`` logger (see :func:`announce_fallback`); so is a damaged
header that rasterio reads anyway (one it cannot read is an error naming the damage).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..dataset import facts
from ..dataset.facts import SensorFormat
from ..dataset.ids import PatchId
from ..errors import DamagedHeaderError, PatchFileError, UnsupportedLayoutError
from . import fastread
from .tiffheader import TRUNCATED

#: GDAL settings for reading many small files: no sibling-file scans, no .aux.xml.
GDAL_OPTIONS: Mapping[str, str] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_PAM_ENABLED": "NO",
    "CPL_VSIL_CURL_USE_HEAD": "NO",
}

log = logging.getLogger(__name__)
_announced: set[str] = set()
_announced_lock = threading.Lock()


def announce_fallback(path: str | os.PathLike[str], reason: UnsupportedLayoutError) -> None:
    """Log, once per process and reason, that a file was read by rasterio instead of the fast reader.

    A whole dataset in another layout (re-compressed, say) reads several times slower;
    this says so at the first such file, with the reason (``compressed (LZW)``), and
    stays quiet for the next files with the same reason.  A damaged header that rasterio
    read anyway is announced the same way.  Python ``logging`` rather than ``warnings``:
    the message is one clean line on stderr without configuration (the logging module's
    last-resort handler), it works the same in worker processes, and it is silenced the
    usual way (``logging.getLogger("sen12ms_plugins").setLevel(logging.ERROR)``).
    """
    key = str(reason)
    with _announced_lock:
        if key in _announced:
            return
        _announced.add(key)
    if isinstance(reason, DamagedHeaderError):
        log.warning("%s: damaged TIFF header (%s), read by rasterio anyway; check such files with "
                    "'sen12ms verify --deep'", os.fspath(path), key)
    else:
        log.warning("%s: read with rasterio, not the fast reader (%s); further files like it are read the same "
                    "way without this message, several times slower", os.fspath(path), key)


def mark_announced(reasons: Iterable[str]) -> None:
    """Treat ``reasons`` as already announced in this process (a worker whose parent announced them)."""
    with _announced_lock:
        _announced.update(reasons)


def announced() -> frozenset[str]:
    """The fallback reasons announced (or marked) in this process so far."""
    with _announced_lock:
        return frozenset(_announced)


def probe_layouts(root: str | os.PathLike[str], pid: PatchId, sensors: Iterable[str] | None = None) -> frozenset[str]:
    """Announce now (:func:`announce_fallback`) what reading ``pid``'s files would announce; only
    their headers are read.  Returns every reason announced in this process so far.

    A parent process calls it on a dataset's first triplet before starting workers, and
    hands the result to them (:func:`mark_announced`): a dataset in another layout is
    then announced once, not once per worker.
    """
    for sensor in pid.sensors if sensors is None else sensors:
        path = pid.path(root, sensor)
        try:
            fastread.read_layout(path)
        except DamagedHeaderError:
            pass  # said when the file is read: rasterio may read it anyway, or fail saying why
        except UnsupportedLayoutError as exc:
            announce_fallback(path, exc)
        except OSError:
            pass  # a missing or unreadable file is reported when it is read
    return announced()


def band_indexes(sensor: str, bands: Sequence[str] | None,
                 formats: Mapping[str, SensorFormat] = facts.FORMATS) -> list[int]:
    """1-based file band indexes of the named bands (all bands when ``bands`` is None)."""
    return list(_band_indexes(sensor, formats[sensor].bands, None if bands is None else tuple(bands)))


@functools.lru_cache(maxsize=256)
def _band_indexes(sensor: str, names: tuple[str, ...], bands: tuple[str, ...] | None) -> tuple[int, ...]:
    # Cached: readers ask for the same few band lists for every file.
    if bands is None:
        return tuple(range(1, len(names) + 1))
    unknown = [b for b in bands if b not in names]
    if unknown:
        raise ValueError(f"unknown {sensor} band(s) {', '.join(map(repr, unknown))}; expected among {', '.join(names)}")
    return tuple(names.index(b) + 1 for b in bands)


# --- What is wrong with a file: the words of the reader's errors and of ``verify --deep`` ----------

#: A file GDAL cannot open or read, when its TIFF structure does not say why: GDAL's reason follows.
UNREADABLE = "cannot be read as a GeoTIFF"
#: A SEN12MS file without a georeference.
NO_CRS = "has no coordinate reference system"


def profile_problems(fmt: SensorFormat, count: int, dtypes: Iterable[str], width: int, height: int,
                     patch_size: int | None = None) -> list[str]:
    """What keeps a file of this band count, data types and size from being a ``fmt`` patch
    (of ``patch_size`` pixels a side, when given; square in any case), in the words the reader's
    errors and ``verify --deep`` both use; empty when nothing does."""
    problems = []
    if count != len(fmt.bands):
        problems.append(f"has {count} bands, a {fmt.sensor} patch has {len(fmt.bands)}")
    found = sorted(set(dtypes))
    if len(found) != 1 or found[0] not in fmt.file_dtypes:
        problems.append(f"has data type {', '.join(found)}, a {fmt.sensor} patch has {fmt.describe_file_dtypes()}")
    if width != height or width == 0:
        problems.append(f"is {width}x{height} pixels, a patch is square")
    elif patch_size is not None and width != patch_size:
        problems.append(f"is {width}x{height} pixels, a patch is {patch_size}x{patch_size}")
    return problems


#: Bytes every TIFF starts with: byte order, magic number, offset of the first directory.
TIFF_HEADER_BYTES = 8


def cut_short(path: str | os.PathLike[str], size: int | None = None) -> str | None:
    """``truncated: …`` when the file (of ``size`` bytes, stat'ed when not given) is shorter than
    its header says: too short for a TIFF header, or image data (strips or tiles) laid out back
    to back running past its end (:func:`~.tiffheader.truncation`); None otherwise (image data
    placed elsewhere beyond the end is a damaged header, :func:`structure_problem`'s).  Reads the header only; OSError when the
    file cannot be opened.  The check plain ``verify`` makes; ``verify --deep`` and the readers
    say the same of such a file."""
    size = os.stat(path).st_size if size is None else size
    if size < TIFF_HEADER_BYTES:
        return f"{TRUNCATED}: {size} bytes, too short for a TIFF header"
    found = fastread.truncation(path)
    return found if found is not None and found.startswith(TRUNCATED) else None  # not a damaged header


def structure_problem(path: str | os.PathLike[str]) -> tuple[str | None, str | None]:
    """(what is wrong with the file's TIFF structure, why the fast reader leaves it to rasterio),
    from its header alone: ``truncated: …`` for a file cut short (:func:`cut_short`),
    ``damaged TIFF header: …`` for a header that contradicts itself or the file; (None, None) for a
    file the fast reader reads.  OSError when the file cannot be opened."""
    size = os.stat(path).st_size
    # the header can be intact in a file cut short; data placed beyond the end is a damaged header
    cut = cut_short(path, size) if size < TIFF_HEADER_BYTES else fastread.truncation(path)
    if cut is not None:
        return cut, None
    try:
        fastread.read_layout(path)
    except DamagedHeaderError as exc:
        return f"damaged TIFF header: {exc}", None
    except UnsupportedLayoutError as exc:
        return None, str(exc)
    return None, None


def gdal_reason(exc: BaseException) -> str:
    """GDAL's own words for a failed open or read: rasterio raises "Read failed. See previous
    exception for details." with GDAL's error as its cause, which a message would otherwise lose."""
    reason, seen = str(exc), set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:  # the innermost of rasterio's errors with words of its own
        seen.add(id(cause))
        words = str(cause).strip()
        if words and "See previous exception" not in words:
            reason = words
        # the cause rasterio names; not what was being handled when it was raised (the fast reader's refusal)
        cause = cause.__cause__
    return reason


def unreadable(path: str | os.PathLike[str], exc: BaseException, *, opened: bool) -> str:
    """What to say of a file GDAL failed on (``exc``), as ``verify --deep`` says it of the same file:
    a file cut short is said to be (:func:`cut_short`); one GDAL ``opened`` but could not read,
    its damaged header if it has one; else :data:`UNREADABLE` with GDAL's reason."""
    try:
        problem = structure_problem(path)[0] if opened else cut_short(path)
    except OSError:
        problem = None
    return problem if problem is not None else f"{UNREADABLE} ({gdal_reason(exc)})"


def _check_profile(path: str, fmt: SensorFormat, count: int, dtypes: Iterable[str], width: int, height: int) -> None:
    """Raise :class:`PatchFileError` unless a file of this band count, dtypes and size is a ``fmt`` patch."""
    problems = profile_problems(fmt, count, dtypes, width, height)
    if problems:
        raise PatchFileError(path, "; ".join(problems))


def check_size(path: str, width: int, height: int, out: np.ndarray | None, rows: tuple[int, int] | None = None) -> None:
    """Raise :class:`PatchFileError` unless the file has the size ``out`` expects (square when rows are read)."""
    if out is None:
        return
    expected = out.shape[1:] if rows is None else (out.shape[2], out.shape[2])
    if (height, width) != expected:
        raise PatchFileError(path, f"is {width}x{height} pixels, not {expected[1]}x{expected[0]} as expected")


def read_file(
    path: str | os.PathLike[str],
    sensor: str,
    bands: Sequence[str] | None = None,
    *,
    out: np.ndarray | None = None,
    dtype: np.dtype | str | None = None,
    rows: tuple[int, int] | None = None,
    formats: Mapping[str, SensorFormat] = facts.FORMATS,
    convert: fastread.Convert | None = None,
) -> np.ndarray:
    """Read one patch file ([bands, H, W]) as the sensor's dtype, checking its band count, dtype and shape.

    With ``out``, an array of shape [bands, H, W] whose dtype holds the sensor's
    values exactly (float32 for every sensor, say), the bands are written into it,
    converted on the way, and ``out`` is returned: one pass instead of a read and
    a conversion.  Without ``out``, ``dtype`` (one that holds the sensor's values
    exactly, e.g. int64 for land cover) is the dtype of the array returned, converted
    in the same pass; the default is the sensor's.  With ``rows`` (``(first, stop)``,
    0-based, ``stop`` exclusive) only those rows are read: [bands, stop - first, W]
    (with ``out``, the patch must be as wide, and as tall, as ``out`` is wide).
    ``formats`` are the file formats of the patch's collection
    (``facts.formats_of(pid.season)``: SEN12MS's, or DFC2020's with its ``dfc`` file and
    the dtypes it narrows, each value checked).  ``convert`` does the de-interleaving
    pass of a pixel-interleaved file (:func:`~.fastread.read_bands`).

    The dataset's own layout (uncompressed, striped GeoTIFF) is read by
    :mod:`~sen12ms_plugins.reading.fastread`, byte for byte what rasterio returns; any other
    layout is read by rasterio (and announced once: :func:`announce_fallback`).
    """
    path = os.fspath(path)
    fmt = formats[sensor]
    indexes = band_indexes(sensor, bands, formats)
    if not indexes:
        raise ValueError(f"no {sensor} band asked for: bands is empty")  # as rasterio refuses to read none
    if out is not None:
        if dtype is not None:
            raise ValueError("give out or dtype, not both: out's dtype is the dtype read into")
        _check_out(out, fmt, len(indexes))
    else:
        dtype = np.dtype(fmt.dtype if dtype is None else dtype)
        if not np.can_cast(fmt.dtype, dtype, "safe"):
            raise ValueError(f"dtype {dtype} cannot hold {fmt.sensor} values ({fmt.dtype}) exactly")
    # A file dtype that narrows is read as it is and converted after its values are checked.
    narrowing = _narrows(fmt)
    target, read_dtype = (None, None) if narrowing else (out, dtype)

    def check(layout: fastread.Layout) -> None:
        _check_profile(path, fmt, layout.count, [layout.dtype_name], layout.width, layout.height)
        check_size(path, layout.width, layout.height, out, rows)

    try:
        array = fastread.read_bands(path, indexes, check=check, out=target, dtype=read_dtype, rows=rows,
                                    convert=convert)
    except FileNotFoundError:
        raise PatchFileError(path, "does not exist") from None
    except UnsupportedLayoutError as exc:
        array = _read_with_rasterio(path, fmt, indexes, target, rows)
        announce_fallback(path, exc)
    except OSError:
        array = _read_with_rasterio(path, fmt, indexes, target, rows)  # rasterio's error message will say what is wrong
    if narrowing and not np.can_cast(array.dtype, fmt.dtype, "safe"):
        array = narrow(path, array, fmt)
    if out is not None:
        if array is not out:
            np.copyto(out, array, casting="safe")
        return out
    if array.dtype != dtype:
        return array.astype(dtype, casting="safe")  # rasterio's array of a narrower file dtype (uint8 lc), widened
    return array


@functools.lru_cache(maxsize=64)
def _narrows(fmt: SensorFormat) -> bool:
    """True when some file dtype of ``fmt`` does not cast to its returned dtype without loss."""
    return any(not np.can_cast(dtype, fmt.dtype, "safe") for dtype in fmt.file_dtypes)


def narrow(path: str | os.PathLike[str], array: np.ndarray, fmt: SensorFormat) -> np.ndarray:
    """``array`` (a file's values, wider than ``fmt.dtype``) as ``fmt.dtype``, after checking that
    each value fits: integers within the range of ``fmt.dtype``, floats finite within its
    range (NaN and infinities stay what they are; other values are rounded to the nearest).
    A value that does not fit is a :class:`PatchFileError` naming the file and the value."""
    target = np.dtype(fmt.dtype)
    if target.kind in "ui":
        info = np.iinfo(target)
        if array.dtype.kind not in "ui":
            raise PatchFileError(path, f"holds {array.dtype} values, a {fmt.sensor} patch holds integers")
        low, high = (int(array.min()), int(array.max())) if array.size else (0, 0)
        if low < info.min or high > info.max:
            bad = low if low < info.min else high
            raise PatchFileError(path, f"holds the value {bad}, which a {fmt.sensor} patch cannot have: its "
                                       f"{array.dtype} values are read as {target} ({info.min}-{info.max})")
        return array.astype(target)
    limit = float(np.finfo(target).max)  # a Python float: compared with float32 the value would overflow
    finite = array[np.isfinite(array)]
    if finite.size and float(np.abs(finite).max()) > limit:
        bad = finite[np.argmax(np.abs(finite))]
        raise PatchFileError(path, f"holds the value {bad!r}, beyond the {target} range a {fmt.sensor} patch is "
                                   f"read as (its {array.dtype} values become {target})")
    return array.astype(target)


def _check_out(out: np.ndarray, fmt: SensorFormat, count: int) -> None:
    if out.ndim != 3 or out.shape[0] != count:
        raise ValueError(f"out must have shape ({count}, H, W) for {count} {fmt.sensor} band(s), got {out.shape}")
    if not np.can_cast(fmt.dtype, out.dtype, "safe"):
        raise ValueError(f"out has dtype {out.dtype}, which cannot hold {fmt.sensor} values ({fmt.dtype}) exactly")


def _read_with_rasterio(path: str, fmt: SensorFormat, indexes: list[int], out: np.ndarray | None,
                        rows: tuple[int, int] | None) -> np.ndarray:
    # rasterio is imported where it is used: loading GDAL costs ~0.1 s, and the fast path never needs it.
    import rasterio
    from rasterio.errors import RasterioError
    from rasterio.windows import Window

    if not os.path.exists(path):
        raise PatchFileError(path, "does not exist")
    opened = False
    try:
        with rasterio.Env(**GDAL_OPTIONS), rasterio.open(path) as src:
            opened = True
            _check_profile(path, fmt, src.count, src.dtypes, src.width, src.height)
            check_size(path, src.width, src.height, out, rows)
            if rows is None:
                array = src.read(indexes)
            elif not 0 <= rows[0] < rows[1] <= src.height:
                raise ValueError(f"{path}: rows {rows[0]}-{rows[1]} outside the image's 0-{src.height}")
            else:
                array = src.read(indexes, window=Window(0, rows[0], src.width, rows[1] - rows[0]))
    except RasterioError as exc:
        raise PatchFileError(path, unreadable(path, exc, opened=opened)) from None
    if out is None:
        return array
    np.copyto(out, array, casting="safe")
    return out


def read_triplet(
    root: str | os.PathLike[str],
    pid: PatchId,
    bands: Mapping[str, Sequence[str] | None] | None = None,
) -> dict[str, np.ndarray]:
    """Read the sensors of one triplet: ``{"s1": …, "s2": …, "lc": …}`` (and ``"dfc"``, uint8
    [1, H, W], for a DFC2020 patch).

    ``bands`` maps a sensor to the bands wanted (None = all); sensors left out of
    the mapping are not read.  Without ``bands`` every sensor of the patch is read whole.
    """
    wanted = {s: None for s in pid.sensors} if bands is None else dict(bands)
    for sensor in wanted:
        if sensor not in pid.sensors:
            raise ValueError(f"unknown sensor {sensor!r} for {pid.name}; expected one of {', '.join(pid.sensors)}")
    formats = facts.formats_of(pid.season)
    arrays = {s: read_file(pid.path(root, s), s, b, formats=formats) for s, b in wanted.items()}
    shapes = {a.shape[1:] for a in arrays.values()}
    if len(shapes) > 1:
        detail = ", ".join(f"{s} {a.shape[2]}x{a.shape[1]}" for s, a in arrays.items())
        raise PatchFileError(pid.path(root, "s2"), f"files of triplet {pid.name} differ in size: {detail}")
    return arrays


@dataclass(frozen=True)
class GeoReference:
    """Where a patch lies: its CRS, affine transform, bounds and centre.

    ``known`` is False for a DFC2020 patch whose header holds no usable georeference (the
    released files are reported stripped: an identity transform in a geographic CRS); its
    ``crs`` is then ``""`` and its bounds and centre NaN.
    """

    crs: str  # e.g. "EPSG:32650"
    transform: tuple[float, float, float, float, float, float]  # (a, b, c, d, e, f) of the affine
    width: int
    height: int
    bounds: tuple[float, float, float, float]  # left, bottom, right, top in the CRS
    center_lon: float
    center_lat: float
    known: bool = True

#: The affine GDAL gives a file without a georeference (and the stripped DFC2020 files hold).
_IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
#: GeoTIFF tags that place a raster: ModelPixelScale, ModelTiepoint, ModelTransformation.
_PLACING_TAGS = frozenset({33550, 33922, 34264})


def _unplaced(path: str) -> bool:
    """True when a file's header holds none of :data:`_PLACING_TAGS` (so it has no transform):
    told without GDAL, which would warn about it (and a warning filter set to silence it would
    re-arm every once-only warning of the process)."""
    try:
        return not fastread.tag_numbers(path) & _PLACING_TAGS
    except (UnsupportedLayoutError, OSError):
        return False  # rasterio decides


def georeference(root: str | os.PathLike[str], pid: PatchId, sensor: str = "s2") -> GeoReference:
    """The georeference of one patch (read from one sensor's file header).

    A SEN12MS file without a CRS is a :class:`PatchFileError`.  A DFC2020 patch may have none
    that can be used (no CRS, the identity transform, a centre off the globe): it gets
    ``known=False`` and NaN coordinates instead (:class:`GeoReference`).
    """
    import rasterio  # deferred, as in _read_with_rasterio
    from rasterio.errors import RasterioError
    from rasterio.warp import transform as warp

    path = os.fspath(pid.path(root, sensor))
    nan = float("nan")
    if pid.is_dfc2020 and _unplaced(path):
        try:
            layout = fastread.read_layout(path)
        except UnsupportedLayoutError:
            layout = None  # rasterio below gives the size (and may warn that the file is not placed)
        if layout is not None:
            return GeoReference("", _IDENTITY, layout.width, layout.height, (nan,) * 4, nan, nan, known=False)
    try:
        with rasterio.Env(**GDAL_OPTIONS), rasterio.open(path) as src:
            if src.crs is None and not pid.is_dfc2020:
                raise PatchFileError(path, NO_CRS)
            crs = "" if src.crs is None else src.crs.to_string()
            t = src.transform
            bounds = tuple(src.bounds)
            width, height = src.width, src.height
    except RasterioError as exc:
        raise PatchFileError(path, unreadable(path, exc, opened=False)) from None
    affine = (t.a, t.b, t.c, t.d, t.e, t.f)
    lon = lat = nan
    if crs and (not pid.is_dfc2020 or (affine != _IDENTITY and t.a * t.e - t.b * t.d != 0)):
        cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
        (lon,), (lat,) = warp(crs, "EPSG:4326", [cx], [cy])
    if not pid.is_dfc2020 or (np.isfinite(lon) and np.isfinite(lat) and abs(lat) <= 90 and abs(lon) <= 540):
        return GeoReference(crs, affine, width, height, bounds, lon, lat)
    return GeoReference("", affine, width, height, (nan, nan, nan, nan), nan, nan, known=False)
