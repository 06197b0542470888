"""``verify --deep``: every GeoTIFF header of a tree, checked against what its sensor's patches must be.

Each file is parsed twice, once by the fast reader's TIFF parser
(:func:`~sen12ms_plugins.reading.fastread.read_layout`: a header that contradicts itself
or the file is *damaged*, even where GDAL would repair it) and once by rasterio (band
count, data type, size, CRS).  Whatever a header holds, the outcome for the file is
either nothing (a valid patch) or a problem naming it; a file in a valid layout the
fast reader leaves to rasterio (compressed, tiled …) is no problem, but is counted by
reason, because such a dataset reads several times slower.  A DFC2020 file whose dtype the
readers narrow (s1 float64, dfc int32) is also read whole, so that a value that does not
fit is found; its CRS is not required (the release's georeference is reported stripped).
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from ..console import LockedCounter, Progress
from ..dataset import facts
from ..errors import DamagedHeaderError, PatchFileError, UnsupportedLayoutError
from ..reading.fastread import read_layout, truncation
from ..reading.reader import GDAL_OPTIONS, read_file

#: Files handed to one deep-check task (one GDAL environment per task).
_DEEP_BATCH = 256
_UNREADABLE = "cannot be read as a GeoTIFF"


@dataclass
class DeepCheck:
    """What ``verify --deep`` found: the bad files, and the valid files the fast reader leaves to rasterio."""

    #: ``{"path": <root-relative path>, "problem": <what is wrong>}`` per bad file
    bad: list[dict[str, str]] = field(default_factory=list)
    #: reason (``compressed (LZW)``) -> number of valid files in that layout
    slow: Counter[str] = field(default_factory=Counter)


def _layout_problem(path: str) -> tuple[str | None, str | None]:
    """(problem, reason the file is read by rasterio) from the TIFF structure alone."""
    cut = truncation(path)  # the header can be intact in a file cut short
    if cut is not None:
        return cut, None
    try:
        read_layout(path)
    except DamagedHeaderError as exc:
        return f"damaged TIFF header: {exc}", None
    except UnsupportedLayoutError as exc:
        return None, str(exc)
    return None, None


def _profile_problems(path: str, sensor: str, patch_size: int | None, formats=facts.FORMATS) -> list[str]:
    fmt = formats[sensor]
    try:
        with rasterio.open(path) as src:
            count, dtypes, width, height, crs = src.count, set(src.dtypes), src.width, src.height, src.crs
    except (RasterioError, ValueError) as exc:  # rasterio's CRSError (garbled GeoKeys) is a ValueError
        return [f"{_UNREADABLE} ({exc})"]
    problems = []
    if count != len(fmt.bands):
        problems.append(f"{count} bands, expected {len(fmt.bands)}")
    if len(dtypes) != 1 or not dtypes <= set(fmt.file_dtypes):
        problems.append(f"data type {','.join(sorted(dtypes))}, expected {fmt.describe_file_dtypes()}")
    if patch_size is not None and (width, height) != (patch_size, patch_size):
        problems.append(f"{width}x{height} px, expected {patch_size}x{patch_size}")
    elif width != height:
        problems.append(f"{width}x{height} px, not square")
    if crs is None and formats is facts.FORMATS:  # DFC2020's georeference is not relied on (it is reported stripped)
        problems.append("no CRS")
    return problems


def _value_problem(path: str, sensor: str, formats) -> str | None:
    """What the reader says of the values of a file whose dtype it narrows (DFC2020's float64
    s1, int32 dfc): those are read whole; files of other dtypes need no value check."""
    fmt = formats[sensor]
    try:
        with rasterio.open(path) as src:
            dtype = src.dtypes[0]
    except (RasterioError, ValueError):
        return None  # said by the profile check
    if np.can_cast(dtype, fmt.dtype, "safe"):
        return None
    try:
        read_file(path, sensor, formats=formats)
    except PatchFileError as exc:
        return exc.problem
    return None


def header_problem(path: str, sensor: str, patch_size: int | None,
                   formats=facts.FORMATS) -> tuple[str | None, str | None]:
    """(what is wrong with one file or None, the reason it is read by rasterio or None); the
    file's ``formats`` are its collection's (``facts.formats_of``)."""
    try:
        problem, slow = _layout_problem(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})", None
    profile = _profile_problems(path, sensor, patch_size, formats)
    if profile and profile[0].startswith(_UNREADABLE):
        return profile[0], None  # GDAL's own words say why; the TIFF parser's would repeat it
    problems = profile + ([problem] if problem else [])
    if not problems and formats is not facts.FORMATS:
        values = _value_problem(path, sensor, formats)
        problems += [values] if values else []
    return "; ".join(problems) or None, slow


def deep_check(root: Path, paths: list[tuple[str, str]], patch_size: int | None, jobs: int | None,
               quiet: bool) -> DeepCheck:
    """Check every (root-relative path, sensor) in ``jobs`` threads."""
    result = DeepCheck()
    with Progress(len(paths), "GeoTIFF headers", unit="file", quiet=quiet) as bar:
        counter = LockedCounter(bar)

        def _batch(batch: list[tuple[str, str]]) -> DeepCheck:
            found = DeepCheck()
            with rasterio.Env(**GDAL_OPTIONS):
                for rel, sensor in batch:
                    formats = facts.formats_of(rel.split("/", 1)[0])
                    problem, slow = header_problem(str(root / rel), sensor, patch_size, formats)
                    if problem:
                        found.bad.append({"path": rel, "problem": problem})
                    elif slow:
                        found.slow[slow] += 1
            counter(len(batch))
            return found

        batches = [paths[i:i + _DEEP_BATCH] for i in range(0, len(paths), _DEEP_BATCH)]
        with warnings.catch_warnings(), ThreadPoolExecutor(max(1, jobs or os.cpu_count() or 1),
                                                            thread_name_prefix="sen12ms-deep") as pool:
            # a file without georeference is reported as "no CRS", not warned about
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            for found in pool.map(_batch, batches):
                result.bad.extend(found.bad)
                result.slow.update(found.slow)
    return result
