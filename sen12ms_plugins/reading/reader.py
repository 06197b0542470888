"""Read SEN12MS patches into numpy arrays, and their georeference.

Arrays keep the file's band order and dtype: s1 float32 [2, H, W], s2 uint16
[13, H, W], lc uint16 [4, H, W].  A file that is missing, unreadable, or not shaped
like its sensor's patches raises :class:`~sen12ms_plugins.errors.PatchFileError`
naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..dataset import facts
from ..dataset.ids import PatchId
from ..errors import PatchFileError
from . import fastread

#: GDAL settings for reading many small files: no sibling-file scans, no .aux.xml.
GDAL_OPTIONS: Mapping[str, str] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_PAM_ENABLED": "NO",
    "CPL_VSIL_CURL_USE_HEAD": "NO",
}


def band_indexes(sensor: str, bands: Sequence[str] | None) -> list[int]:
    """1-based file band indexes of the named bands (all bands when ``bands`` is None)."""
    names = facts.BANDS[sensor]
    if bands is None:
        return list(range(1, len(names) + 1))
    unknown = [b for b in bands if b not in names]
    if unknown:
        raise ValueError(f"unknown {sensor} band(s) {', '.join(map(repr, unknown))}; expected among {', '.join(names)}")
    return [names.index(b) + 1 for b in bands]


def _check_profile(path: str, sensor: str, src) -> None:
    expected_count = len(facts.BANDS[sensor])
    expected_dtype = facts.DTYPES[sensor]
    if src.count != expected_count:
        raise PatchFileError(path, f"has {src.count} bands, a {sensor} patch has {expected_count}")
    dtypes = set(src.dtypes)
    if dtypes != {expected_dtype}:
        raise PatchFileError(path, f"has data type {', '.join(sorted(dtypes))}, a {sensor} patch has {expected_dtype}")
    if src.width != src.height or src.width == 0:
        raise PatchFileError(path, f"is {src.width}x{src.height} pixels, a patch is square")


def read_file(
    path: str | os.PathLike[str],
    sensor: str,
    bands: Sequence[str] | None = None,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Read one patch file ([bands, H, W]), checking its band count, dtype and shape.

    With ``out``, an array of shape [bands, H, W] whose dtype holds the sensor's
    values exactly (float32 for every sensor, say), the bands are written into it,
    converted on the way, and ``out`` is returned: one pass instead of a read and
    a conversion.

    The dataset's own layout (uncompressed, striped GeoTIFF) is read by
    :mod:`~sen12ms_plugins.reading.fastread`, byte for byte what rasterio returns; any other
    layout, and any file that fails a check, is read by rasterio.
    """
    path = os.fspath(path)
    indexes = band_indexes(sensor, bands)
    if not indexes:
        raise ValueError(f"no {sensor} band asked for: bands is empty")  # as rasterio refuses to read none
    if out is not None:
        _check_out(out, sensor, len(indexes))
    try:
        array = fastread.read_bands(
            path, indexes, count=len(facts.BANDS[sensor]), dtype=facts.DTYPES[sensor], out=out
        )
    except FileNotFoundError:
        raise PatchFileError(path, "does not exist") from None
    except OSError:
        array = None  # rasterio's error message will say what is wrong
    if array is not None and array.shape[1] == array.shape[2]:
        return array
    array = _read_with_rasterio(path, sensor, indexes)
    if out is None:
        return array
    if out.shape != array.shape:
        raise PatchFileError(
            path, f"is {array.shape[2]}x{array.shape[1]} pixels, not {out.shape[2]}x{out.shape[1]} as expected"
        )
    np.copyto(out, array, casting="safe")
    return out


def _check_out(out: np.ndarray, sensor: str, count: int) -> None:
    if out.ndim != 3 or out.shape[0] != count:
        raise ValueError(f"out must have shape ({count}, H, W) for {count} {sensor} band(s), got {out.shape}")
    if not np.can_cast(facts.DTYPES[sensor], out.dtype, "safe"):
        raise ValueError(f"out has dtype {out.dtype}, which cannot hold {sensor} values ({facts.DTYPES[sensor]}) exactly")


def _read_with_rasterio(path: str, sensor: str, indexes: list[int]) -> np.ndarray:
    # rasterio is imported where it is used: loading GDAL costs ~0.1 s, and the fast path never needs it.
    import rasterio
    from rasterio.errors import RasterioError

    if not os.path.exists(path):
        raise PatchFileError(path, "does not exist")
    try:
        with rasterio.Env(**GDAL_OPTIONS), rasterio.open(path) as src:
            _check_profile(path, sensor, src)
            return src.read(indexes)
    except RasterioError as exc:
        raise PatchFileError(path, f"cannot be read as a GeoTIFF ({exc})") from None


def read_triplet(
    root: str | os.PathLike[str],
    pid: PatchId,
    bands: Mapping[str, Sequence[str] | None] | None = None,
) -> dict[str, np.ndarray]:
    """Read the sensors of one triplet: ``{"s1": …, "s2": …, "lc": …}``.

    ``bands`` maps a sensor to the bands wanted (None = all); sensors left out of
    the mapping are not read.  Without ``bands`` all three sensors are read whole.
    """
    wanted = {s: None for s in facts.SENSORS} if bands is None else dict(bands)
    for sensor in wanted:
        if sensor not in facts.SENSORS:
            raise ValueError(f"unknown sensor {sensor!r}; expected one of {', '.join(facts.SENSORS)}")
    arrays = {s: read_file(pid.path(root, s), s, b) for s, b in wanted.items()}
    shapes = {a.shape[1:] for a in arrays.values()}
    if len(shapes) > 1:
        detail = ", ".join(f"{s} {a.shape[2]}x{a.shape[1]}" for s, a in arrays.items())
        raise PatchFileError(pid.path(root, "s2"), f"files of triplet {pid.name} differ in size: {detail}")
    return arrays


@dataclass(frozen=True)
class GeoReference:
    """Where a patch lies: its CRS, affine transform, bounds and centre."""

    crs: str  # e.g. "EPSG:32650"
    transform: tuple[float, float, float, float, float, float]  # (a, b, c, d, e, f) of the affine
    width: int
    height: int
    bounds: tuple[float, float, float, float]  # left, bottom, right, top in the CRS
    center_lon: float
    center_lat: float

    def footprint_lonlat(self) -> list[tuple[float, float]]:
        """The patch outline in lon/lat (closed ring, counter-clockwise)."""
        from rasterio.warp import transform as warp  # deferred, as in _read_with_rasterio

        left, bottom, right, top = self.bounds
        xs, ys = [left, right, right, left, left], [bottom, bottom, top, top, bottom]
        lons, lats = warp(self.crs, "EPSG:4326", xs, ys)
        return list(zip(lons, lats))


def georeference(root: str | os.PathLike[str], pid: PatchId, sensor: str = "s2") -> GeoReference:
    """The georeference of one patch (read from one sensor's file header)."""
    import rasterio  # deferred, as in _read_with_rasterio
    from rasterio.errors import RasterioError
    from rasterio.warp import transform as warp

    path = os.fspath(pid.path(root, sensor))
    try:
        with rasterio.Env(**GDAL_OPTIONS), rasterio.open(path) as src:
            if src.crs is None:
                raise PatchFileError(path, "has no coordinate reference system")
            crs = src.crs.to_string()
            t = src.transform
            bounds = tuple(src.bounds)
            width, height = src.width, src.height
    except RasterioError as exc:
        raise PatchFileError(path, f"cannot be read as a GeoTIFF ({exc})") from None
    cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    (lon,), (lat,) = warp(crs, "EPSG:4326", [cx], [cy])
    return GeoReference(crs, (t.a, t.b, t.c, t.d, t.e, t.f), width, height, bounds, lon, lat)
