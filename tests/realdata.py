"""Real SEN12MS-family bytes for the tests: two real patches (SEN12MS-CR, ``../shared/reference/real``)
placed into a SEN12MS tree, with a land-cover file the test writes (no real one exists).

Only the tests read the fixture; a missing fixture fails the test that needs it (it is
part of what CI provides), it is never skipped.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from sen12ms_plugins.dataset.ids import PatchId

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "reference" / "real"
#: The real patch, as SEN12MS names it (scene 139 of fall: not a hold-out scene).
PID = PatchId("ROIs1970_fall", 139, 839)
#: sha256 of the two files, from the fixture's README.md.
SHA256 = {
    "s1": "8f5e31db6115c838982a8e23f554a8d326b5c16a5a902d4a41f057ce0fde582b",
    "s2": "e59e4a60611bbdda794f3001e176500256eab9446e8e7ac829abd50e4b18a3a0",
}
#: Georeference of both files, from the fixture's README.md.
CRS = "EPSG:32650"
TRANSFORM = (10.0, 0.0, 701879.9106015414, 0.0, -10.0, 3710139.5406956286)
#: left, bottom, right, top: the origin, and 256 px of 10 m to the east and south.
BOUNDS = (701879.9106015414, 3707579.5406956286, 704439.9106015414, 3710139.5406956286)
#: Rows per strip the real files have (README.md): S1 4, S2 1.
ROWS_PER_STRIP = {"s1": 4, "s2": 1}


def real_file(sensor: str) -> Path:
    """One of the two real files; fails the test (never skips it) when the fixture is missing or altered."""
    path = REAL / f"{sensor}_ROIs1970_fall_139_p839.tif"
    if not path.is_file():
        pytest.fail(f"the real reference patches are missing: {path} not found (expected beside the repository "
                    f"in shared/reference/real/, as CI provides them)", pytrace=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256[sensor]:
        pytest.fail(f"{path}: sha256 {digest}, the fixture's README says {SHA256[sensor]}", pytrace=False)
    return path


def crafted_lc(dtype: str = "uint8") -> np.ndarray:
    """Known land-cover values [4, 256, 256]: every IGBP class 1-17 in bands of 16 rows and columns,
    valid LCCS codes, and 255 (unclassified) in the last 8 columns of the LCCS layers."""
    rows, cols = np.mgrid[0:256, 0:256]
    igbp = 1 + (rows // 16 + cols // 16) % 17
    lccs_lc = np.array([1, 2, 3, 11, 12, 13, 14, 15, 16, 21, 22, 31, 32, 41, 42, 43])[cols // 16]
    lccs_lu = np.array([1, 2, 3, 9, 10, 20, 25, 30, 35, 36, 40, 1, 2, 3, 9, 10])[rows // 16]
    lccs_sh = np.array([1, 2, 3, 10, 20, 27, 30, 40, 50, 51, 1, 2, 3, 10, 20, 27])[(rows + cols) // 32 % 16]
    lc = np.stack([igbp, lccs_lc, lccs_lu, lccs_sh])
    lc[1:, :, -8:] = 255
    return lc.astype(dtype)


def write_lc(path: Path, dtype: str = "uint8") -> np.ndarray:
    """Write :func:`crafted_lc` as the real patch's land-cover file: the real georeference and
    layout (pixel-interleaved, uncompressed, no nodata; 8 rows per strip in uint8, as many
    256 px rows as fit 8 KiB, the rule of the real S1 and S2 files)."""
    data = crafted_lc(dtype)
    with rasterio.open(real_file("s2")) as src:
        crs, transform = src.crs, src.transform
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 8192 // (256 * 4 * np.dtype(dtype).itemsize)
    with rasterio.open(path, "w", driver="GTiff", width=256, height=256, count=4, dtype=dtype, crs=crs,
                       transform=transform, interleave="pixel", blockysize=rows) as dst:
        dst.write(data)
    return data


def place_real_triplet(root: Path, lc_dtype: str = "uint8") -> np.ndarray:
    """Copy the two real files into ``root`` under their SEN12MS names and write the lc file; return the lc values."""
    for sensor in ("s1", "s2"):
        target = PID.path(root, sensor)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real_file(sensor), target)
    return write_lc(PID.path(root, "lc"), lc_dtype)


def rasterio_read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()
