"""``verify --deep``: every GeoTIFF header of a tree, checked against what its sensor's patches must be."""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from ..console import LockedCounter, Progress
from ..dataset import facts
from ..reading.fastread import truncation
from ..reading.reader import GDAL_OPTIONS

#: Files handed to one deep-check task (one GDAL environment per task).
_DEEP_BATCH = 256


def _header_problem(path: str, sensor: str, patch_size: int | None) -> str | None:
    try:
        with rasterio.open(path) as src:
            problems = []
            if src.count != len(facts.BANDS[sensor]):
                problems.append(f"{src.count} bands, expected {len(facts.BANDS[sensor])}")
            if set(src.dtypes) != {facts.DTYPES[sensor]}:
                problems.append(f"data type {','.join(sorted(set(src.dtypes)))}, expected {facts.DTYPES[sensor]}")
            if patch_size is not None and (src.width, src.height) != (patch_size, patch_size):
                problems.append(f"{src.width}x{src.height} px, expected {patch_size}x{patch_size}")
            elif src.width != src.height:
                problems.append(f"{src.width}x{src.height} px, not square")
            if src.crs is None:
                problems.append("no CRS")
        cut = truncation(path)  # the header can be intact in a file cut short
        if cut is not None:
            problems.append(cut)
        return "; ".join(problems) or None
    except RasterioError as exc:
        return f"cannot be read as a GeoTIFF ({exc})"


def deep_check(root: Path, paths: list[tuple[str, str]], patch_size: int | None, jobs: int | None,
                quiet: bool) -> list[dict[str, str]]:
    bad: list[dict[str, str]] = []
    with Progress(len(paths), "GeoTIFF headers", unit="file", quiet=quiet) as bar:
        counter = LockedCounter(bar)

        def _batch(batch: list[tuple[str, str]]) -> list[dict[str, str]]:
            found = []
            with rasterio.Env(**GDAL_OPTIONS):
                for rel, sensor in batch:
                    problem = _header_problem(str(root / rel), sensor, patch_size)
                    if problem:
                        found.append({"path": rel, "problem": problem})
            counter(len(batch))
            return found

        batches = [paths[i:i + _DEEP_BATCH] for i in range(0, len(paths), _DEEP_BATCH)]
        with warnings.catch_warnings(), ThreadPoolExecutor(max(1, jobs or os.cpu_count() or 1),
                                                            thread_name_prefix="sen12ms-deep") as pool:
            # a file without georeference is reported as "no CRS", not warned about
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            for found in pool.map(_batch, batches):
                bad.extend(found)
    return bad


