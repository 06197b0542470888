"""DFC2020-like zips (or folders extracted from them), generated on the spot, with the variants the release may have.

The real data cannot be fetched (IEEE DataPort, login), so the tests, the demo and users
trying ``sen12ms add-dfc2020`` use these.  What they hold, per set (``ROIs0000_validation``,
``ROIs0000_test``) and sensor (s1, s2, lc, dfc), follows what is known of the release
(:mod:`sen12ms_plugins.dataset.facts`, DFC2020 section):

* the official zip names (``s1_validation.zip`` … ``dfc_0.zip``), one sensor of one set each,
  and the file names ``ROIs0000_validation_s1_0_p<N>.tif`` numbered from p0;
* both structures a zip may have (``structure``): with the set's folder
  (``ROIs0000_validation/s1_validation/…``) or with the sensor folder only (``s1_validation/…``);
  or, with ``zips=False``, the folders those zips extract to;
* the reported dtype variants: s1 float32 or float64 (``s1_dtype``), dfc uint8 or int32
  (``dfc_dtype``); s2 uint16, lc uint16 or uint8 (``lc_dtype``);
* the georeference reported for the release: stripped (an identity transform in EPSG:4326),
  unless ``georeferenced`` (each patch then in the UTM zone of a real place, 10 m pixels);
* the same two file layouts as the SEN12MS sample (:class:`~sen12ms_plugins.demo.SampleLayout`:
  GDAL's default strips, or the real files' 8 KiB strips, pixel-interleaved);
* S1, S2 and MODIS land cover like the SEN12MS sample's, and a ``dfc`` label of its own:
  the simplified class of the land cover with finer, 10 m detail that often differs from it
  (so that a mask taken from the wrong file is caught), never Savanna (3) or Snow/Ice (8) in
  the validation set.

Deterministic: the same arguments give the same bytes (zip members sorted, fixed times).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning

from ..dataset import facts, labels
from ..dataset.ids import PatchId
from ..errors import RootError
from ..fsutil import make_writable_dir
from . import SampleLayout, ZipStructure
from .sample import check_sample_options, hash01, make_patch_arrays, sample_scenes, value_noise

#: Patches per set of the DFC2020 sample (the release: 986 and 5,128): test past p10, so that
#: text and number order differ.
DFC2020_SAMPLE_PATCHES: Mapping[str, int] = {"ROIs0000_validation": 5, "ROIs0000_test": 12}
#: Date written into the zip members (2020-01-01, the contest's year).
ZIP_DATE = (2020, 1, 1, 0, 0, 0)
_STRIPPED = Affine(1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def check_dfc2020_options(s1_dtype: str, dfc_dtype: str, structure: ZipStructure | str) -> ZipStructure:
    """The structure as a :class:`ZipStructure`; ValueError for dtypes the release is not reported to have."""
    for sensor, dtype in (("s1", s1_dtype), ("dfc", dfc_dtype)):
        if dtype not in facts.DFC2020_FILE_DTYPES[sensor]:
            choices = ", ".join(facts.DFC2020_FILE_DTYPES[sensor])
            raise ValueError(f"unknown DFC2020 {sensor} dtype {dtype!r}; expected one of {choices}")
    try:
        return ZipStructure(structure)
    except ValueError:
        raise ValueError(f"unknown zip structure {structure!r}; expected one of {', '.join(ZipStructure)}") from None


def dfc2020_sample_ids(counts: Mapping[str, int] = DFC2020_SAMPLE_PATCHES) -> list[PatchId]:
    """The patches a DFC2020 sample with these counts per set holds, in dataset order."""
    return sorted(PatchId(folder, facts.DFC2020_SCENE, p) for folder, n in counts.items() for p in range(n))


def _dfc_label(igbp: np.ndarray, folder: str, patch: int, seed: int) -> np.ndarray:
    """A 10 m label: the simplified class of ``igbp`` with finer regions of other classes."""
    size = igbp.shape[0]
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    key = (seed, facts.DFC2020_FOLDERS.index(folder), patch)
    detail = value_noise(x, y, max(2.0, size / 10), *key, 11)
    other = 1 + np.floor(hash01(*key, 12, np.floor(x / max(1, size // 6)), np.floor(y / max(1, size // 6))) * 10)
    dfc = np.where(detail > 0.6, other, labels.igbp_to_dfc(igbp)).astype(np.uint8)
    for absent, instead in zip(facts.DFC2020_ABSENT_CLASSES[folder], (4, 9)):  # Savanna -> Grassland, Snow -> Barren
        dfc[dfc == absent] = instead
    dfc[dfc == 0] = 10  # every pixel labelled
    return dfc


def dfc2020_patch_arrays(folder: str, patch: int, size: int, seed: int, layout: SampleLayout, lc_dtype: str,
                         georeferenced: bool) -> tuple[dict[str, np.ndarray], str, Affine]:
    """The s1, s2, lc and dfc arrays of one sample patch (SEN12MS dtypes; dfc uint8), its CRS and transform."""
    scenes = sample_scenes()
    number = patch + (0 if folder == facts.DFC2020_FOLDERS[0] else 1000)
    base = scenes[number % len(scenes)]
    # A scene of its own near a real place, so that no value repeats the SEN12MS sample's.
    scene = replace(base, scene=base.scene + 2000 + number, anchor_patch=0)
    arrays, place = make_patch_arrays(scene, number, number // len(scenes), size, seed, layout, lc_dtype)
    arrays["dfc"] = _dfc_label(arrays["lc"][0], folder, patch, seed)[None]
    if georeferenced:
        return arrays, place.crs, Affine(*place.transform)
    return arrays, "EPSG:4326", _STRIPPED


def _write_tif(path: Path, array: np.ndarray, crs: str, transform: Affine, layout: SampleLayout) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {}
    if layout == SampleLayout.REAL:
        row_bytes = facts.PATCH_SIZE * array.shape[0] * array.dtype.itemsize
        options = {"interleave": "pixel", "blockysize": min(array.shape[1], max(1, facts.STRIP_BYTES // row_bytes))}
    with warnings.catch_warnings():
        # The stripped georeference is the identity on purpose; rasterio warns about it.
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", width=array.shape[2], height=array.shape[1],
                           count=array.shape[0], dtype=array.dtype, crs=crs, transform=transform, **options) as dst:
            dst.write(array)


def _zip_folder(tree: Path, folder: str, sensor: str, structure: ZipStructure, out: Path) -> None:
    """One zip of the release from the extracted ``tree``, members sorted, times fixed."""
    sensor_dir = facts.dfc2020_sensor_dir(folder, sensor)
    prefix = f"{folder}/{sensor_dir}" if structure == ZipStructure.SET else sensor_dir
    members = [f"{folder}/"] if structure == ZipStructure.SET else []
    members.append(f"{prefix}/")
    files = sorted((tree / folder / sensor_dir).iterdir(), key=lambda p: p.name)
    tmp = out / f".{facts.dfc2020_zip_name(folder, sensor)}.tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in members:
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.external_attr = (0o40755 << 16) | 0x10
            archive.writestr(info, b"")
        for path in files:
            info = zipfile.ZipInfo(f"{prefix}/{path.name}", ZIP_DATE)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    os.replace(tmp, out / facts.dfc2020_zip_name(folder, sensor))


def make_dfc2020_sample(
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    patch_size: int = facts.PATCH_SIZE,
    counts: Mapping[str, int] = DFC2020_SAMPLE_PATCHES,
    layout: SampleLayout | str = SampleLayout.COMPACT,
    lc_dtype: str = "uint16",
    s1_dtype: str = "float32",
    dfc_dtype: str = "uint8",
    structure: ZipStructure | str = ZipStructure.SET,
    zips: bool = True,
    georeferenced: bool = False,
) -> list[PatchId]:
    """Write DFC2020-like zips (``zips=False``: the folders they extract to) into ``out``
    (missing or empty); return the patches written (see the module docstring for the options).

    ``counts`` gives the patches per set folder (a set left out, or 0, is not written).
    """
    layout = check_sample_options(patch_size, layout, lc_dtype)
    structure = check_dfc2020_options(s1_dtype, dfc_dtype, structure)
    unknown = set(counts) - set(facts.DFC2020_FOLDERS)
    if unknown or any(n < 0 for n in counts.values()) or not any(counts.values()):
        raise ValueError(f"counts must give patches per DFC2020 folder ({', '.join(facts.DFC2020_FOLDERS)}), "
                         f"at least one, got {dict(counts)}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RootError(f"{out}: DFC2020 sample output folder must be missing or empty")
    make_writable_dir(out, "DFC2020 sample output folder")
    dtypes = {"s1": s1_dtype, "s2": "uint16", "lc": lc_dtype, "dfc": dfc_dtype}
    ids = dfc2020_sample_ids(counts)
    tree = Path(tempfile.mkdtemp(prefix=".dfc2020-tree-", dir=out)) if zips else out
    try:
        for pid in ids:
            arrays, crs, transform = dfc2020_patch_arrays(pid.season, pid.patch, patch_size, seed, layout, lc_dtype,
                                                          georeferenced)
            for sensor in facts.DFC2020_SENSORS:
                array = arrays[sensor].astype(dtypes[sensor])
                path = tree / pid.relpath(sensor) if zips or structure == ZipStructure.SET else \
                    tree / facts.dfc2020_sensor_dir(pid.season, sensor) / pid.filename(sensor)
                _write_tif(path, array, crs, transform, layout)
        if zips:
            for folder in sorted({pid.season for pid in ids}):
                for sensor in facts.DFC2020_SENSORS:
                    _zip_folder(tree, folder, sensor, structure, out)
    finally:
        if zips:
            shutil.rmtree(tree, ignore_errors=True)
    return ids
