"""A small SEN12MS tree, faithful to the real one, generated on the spot.

What makes it faithful (and what the tests therefore exercise):

* the real layout and names, all four seasons, 20 real scenes (``data/sample_scenes.csv``):
  hold-out and other scenes, non-contiguous scene and patch numbers taken from the
  upstream split lists, and the damaged patch (summer scene 146, patch 202) whose S1
  data holds NaNs;
* real GeoTIFFs written with rasterio: uncompressed, pixel-interleaved strips, no nodata,
  10 m pixels in the scene's UTM zone (north and south), placed at the scene's real
  location where the reference data knows it (column ``location`` says ``synthetic``
  where it does not); S1 float32 dB (about -25…0, with speckle), S2 uint16 TOA
  reflectance x10000 with land-cover dependent spectra, LC (uint16, or uint8:
  ``lc_dtype``) with valid IGBP and LCCS codes in spatially coherent regions;
* optionally the 12 ``ROIs<season>_<sensor>.tar.gz`` archives, byte-reproducible
  (sorted members, fixed times and owners, gzip time 0), and ``md5sums.txt``.

Two file layouts (:class:`SampleLayout`):

``compact`` (the default)
    patches side by side on a grid of whole patches (no overlap), origins on the 10 m
    grid, GDAL's default strips for the patch width (as many rows as fit 8 KiB: at
    256 px the real files' 1 row for S2 and 4 for S1, taller strips at smaller sizes).
``real``
    what the real files are (:data:`~sen12ms_plugins.dataset.facts.STRIP_BYTES`):
    S2 in strips of 1 row and S1 of 4 rows at every patch size, LC by the same 8 KiB
    rule at 256 px (4 rows in uint16, 8 in uint8); non-integer origins (a fraction
    of a pixel fixed per scene, as in 701879.91); neighbouring patches of a scene half
    a patch apart (:data:`~sen12ms_plugins.dataset.facts.PATCH_STRIDE`: 128 px,
    1,280 m at 256 px), so they overlap by half.  The patch size must be even.

Every pixel value is a function of the ground it shows (seed, scene and position on
the scene's pixel grid), so where two patches of a scene overlap they hold the same
values, except the damaged patch, whose NaNs are its own (as in the real one).  The
same arguments give the same bytes.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import rasterio
from affine import Affine
from rasterio.warp import transform as warp

from ..acquisition.checksums import write_manifest
from ..dataset import facts
from ..dataset.ids import PatchId
from ..errors import RootError
from ..fsutil import make_writable_dir
from . import SAMPLE_PATCHES_PER_SCENE, SampleLayout

SAMPLE_TABLE = Path(__file__).resolve().parent / "data" / "sample_scenes.csv"
MANIFEST_NAME = "md5sums.txt"
#: Modification time written into the sample archives (2019-01-01T00:00:00Z).
ARCHIVE_MTIME = 1_546_300_800
GRID_COLUMNS = 32  # patch-grid width used to place a scene's patches around its anchor
# Patch-grid offset keeping the seeds of noise tiles above (or left of) the anchor non-negative.
_TILE_KEY_OFFSET = 1 << 20


@dataclass(frozen=True)
class SampleScene:
    season: str
    scene: int
    holdout: bool
    anchor_patch: int
    lon: float
    lat: float
    location: str  # "reference" or "synthetic"
    patches: tuple[int, ...]  # real patch numbers, in pick order


def sample_scenes() -> list[SampleScene]:
    """The scenes of the built-in sample, as listed in ``data/sample_scenes.csv``."""
    with open(SAMPLE_TABLE, newline="") as f:
        return [
            SampleScene(
                season=row["season"],
                scene=int(row["scene"]),
                holdout=row["holdout"] == "1",
                anchor_patch=int(row["anchor_patch"]),
                lon=float(row["lon"]),
                lat=float(row["lat"]),
                location=row["location"],
                patches=tuple(int(p) for p in row["patches"].split()),
            )
            for row in csv.DictReader(f)
        ]


def _check_patches_per_scene(n: int) -> None:
    most = min(len(s.patches) for s in sample_scenes())
    if not 1 <= n <= most:
        raise ValueError(f"patches_per_scene must be between 1 and {most}, got {n}")


# --- Land cover -----------------------------------------------------------------------

# IGBP class -> surface type used for the spectra and backscatter below.
_SURFACE = {1: "forest", 2: "forest", 3: "forest", 4: "forest", 5: "forest", 6: "shrub", 7: "shrub",
            8: "savanna", 9: "savanna", 10: "grass", 11: "wetland", 12: "crop", 13: "urban",
            14: "crop", 15: "snow", 16: "barren", 17: "water"}
# IGBP class -> (LCCS land cover, LCCS land use, LCCS surface hydrology); 255 = unclassified.
_IGBP_TO_LCCS = {1: (11, 10, 10), 2: (12, 10, 10), 3: (13, 10, 10), 4: (14, 10, 10), 5: (15, 10, 10),
                 6: (41, 40, 40), 7: (43, 40, 40), 8: (21, 20, 20), 9: (22, 20, 20), 10: (31, 30, 30),
                 11: (31, 30, 50), 12: (31, 36, 30), 13: (32, 9, 255), 14: (31, 25, 30), 15: (2, 2, 2),
                 16: (1, 1, 1), 17: (3, 3, 3)}
# Typical TOA reflectance x10000 of B01…B12 (13 bands) per surface type.
_SPECTRA = {
    "water":   [1200, 1000, 800, 600, 500, 450, 400, 350, 330, 150, 10, 150, 100],
    "forest":  [1300, 1000, 900, 700, 1100, 2200, 2600, 2700, 2900, 900, 15, 1500, 800],
    "grass":   [1400, 1150, 1100, 1000, 1500, 2400, 2800, 2900, 3100, 1000, 18, 2200, 1400],
    "crop":    [1350, 1100, 1150, 1050, 1600, 2600, 3000, 3100, 3300, 1050, 18, 2400, 1600],
    "shrub":   [1500, 1300, 1350, 1500, 1800, 2300, 2500, 2600, 2750, 900, 20, 2900, 2100],
    "savanna": [1450, 1250, 1250, 1300, 1700, 2300, 2550, 2650, 2800, 950, 19, 2700, 1900],
    "wetland": [1250, 1050, 950, 750, 1000, 1800, 2100, 2200, 2300, 800, 12, 1100, 600],
    "urban":   [1700, 1600, 1550, 1600, 1800, 1900, 2000, 2050, 2100, 800, 20, 2300, 2000],
    "barren":  [2000, 2000, 2300, 2700, 2900, 3000, 3100, 3150, 3250, 1200, 25, 3900, 3400],
    "snow":    [8000, 8200, 8100, 8000, 7800, 7500, 7300, 7100, 6900, 2500, 80, 1200, 900],
}
# Typical sigma-nought (VV, VH) in dB per surface type.
_BACKSCATTER = {"water": (-20.0, -26.0), "forest": (-7.5, -13.0), "grass": (-11.0, -18.0),
                "crop": (-10.0, -17.0), "shrub": (-10.0, -17.0), "savanna": (-10.5, -17.5),
                "wetland": (-12.0, -19.0), "urban": (-4.0, -11.0), "barren": (-15.0, -23.0),
                "snow": (-13.0, -21.0)}


def _scene_palette(position: int) -> tuple[list[int], list[float]]:
    """IGBP classes of the ``position``-th sample scene and their weights; over the sample
    every one of the 17 classes is some scene's main class."""
    classes = [position % 17 + 1, (position * 7 + 3) % 17 + 1, (position * 11 + 5) % 17 + 1]
    unique = list(dict.fromkeys(classes))
    weights = [0.55, 0.3, 0.15][: len(unique)]
    return unique, [w / sum(weights) for w in weights]


def hash01(*keys: np.ndarray | int) -> np.ndarray:
    """Deterministic uniform [0, 1) values from integer keys (a splitmix64 mix, vectorised)."""
    h = np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        for k in keys:
            h = h ^ (np.asarray(k).astype(np.int64).astype(np.uint64) + np.uint64(0x632BE59BD9B4E019))
            h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            h = h ^ (h >> np.uint64(31))
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def value_noise(x: np.ndarray, y: np.ndarray, cell: float, *keys: int) -> np.ndarray:
    """Smooth noise in [0, 1) over world coordinates (bilinear lattice noise, smoothstep)."""
    gx, gy = x / cell, y / cell
    ix, iy = np.floor(gx), np.floor(gy)
    fx, fy = gx - ix, gy - iy
    fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    ix, iy = ix.astype(np.int64), iy.astype(np.int64)
    v00, v10 = hash01(*keys, ix, iy), hash01(*keys, ix + 1, iy)
    v01, v11 = hash01(*keys, ix, iy + 1), hash01(*keys, ix + 1, iy + 1)
    return (v00 * (1 - fx) + v10 * fx) * (1 - fy) + (v01 * (1 - fx) + v11 * fx) * fy


@dataclass(frozen=True)
class _Placement:
    crs: str
    transform: tuple[float, float, float, float, float, float]  # written to the file
    grid_left: float  # west edge on the scene's 10 m grid: where the ground's values are looked up
    grid_top: float
    tiles: tuple[tuple[int, ...], ...]  # seed keys of the noise tiles, row-major
    tile_size: int  # pixels a side of a noise tile


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 / UTM zone that contains (lon, lat)."""
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def _placement(scene: SampleScene, patch: int, size: int, layout: SampleLayout, seed: int) -> _Placement:
    epsg = utm_epsg(scene.lon, scene.lat)
    (x0,), (y0,) = warp("EPSG:4326", f"EPSG:{epsg}", [scene.lon], [scene.lat])
    gsd = facts.GSD_METRES
    # Snap the anchor to the 10 m grid: every pixel centre is then an exact multiple of 5 m,
    # so overlapping patches compute their values from the very same coordinates.
    x0, y0 = round(x0 / gsd) * gsd, round(y0 / gsd) * gsd
    row, col = divmod(patch - scene.anchor_patch, GRID_COLUMNS)
    if layout == SampleLayout.COMPACT:
        left, top = x0 + col * size * gsd, y0 - row * size * gsd
        # One noise tile per patch, seeded by the patch (patches do not overlap).
        return _Placement(f"EPSG:{epsg}", (gsd, 0.0, left, 0.0, -gsd, top), left, top, ((patch,),), size)
    stride = size // 2  # facts.PATCH_STRIDE at the real size
    left, top = x0 + col * stride * gsd, y0 - row * stride * gsd
    # The real origins are not on the 10 m grid: shift each scene by its own fraction of a pixel.
    dx, dy = (float(gsd * (0.05 + 0.9 * hash01(seed, facts.SEASONS.index(scene.season), scene.scene, k)))
              for k in (6, 7))
    tiles = tuple((row + i + _TILE_KEY_OFFSET, col + j + _TILE_KEY_OFFSET) for i in (0, 1) for j in (0, 1))
    return _Placement(f"EPSG:{epsg}", (gsd, 0.0, left + dx, 0.0, -gsd, top + dy), left, top, tiles, stride)


def _pixel_noise(place: _Placement, size: int, key: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel S2 noise [13, size, size] and S1 speckle [2, size, size], tile by tile: each tile
    is drawn from a generator seeded by the ground it covers, so overlapping patches agree."""
    looks = 4.4  # equivalent number of looks of the speckle
    n_s2, n_s1 = len(facts.BANDS["s2"]), len(facts.BANDS["s1"])
    noise = np.empty((n_s2, size, size))
    speckle = np.empty((n_s1, size, size))
    t = place.tile_size
    per_row = size // t
    for k, tile in enumerate(place.tiles):
        rng = np.random.default_rng([*key, *tile])
        r, c = divmod(k, per_row)
        noise[:, r * t:(r + 1) * t, c * t:(c + 1) * t] = rng.normal(0.0, 40.0, (n_s2, t, t))
        speckle[:, r * t:(r + 1) * t, c * t:(c + 1) * t] = rng.gamma(looks, 1.0 / looks, (n_s1, t, t))
    return noise, speckle


def make_patch_arrays(
    scene: SampleScene, position: int, patch: int, size: int, seed: int,
    layout: SampleLayout = SampleLayout.COMPACT, lc_dtype: str = "uint16",
) -> tuple[dict[str, np.ndarray], _Placement]:
    """The s1, s2 and lc arrays ([bands, size, size]) of one sample patch, and where it lies."""
    layout = check_sample_options(size, layout, lc_dtype)
    place = _placement(scene, patch, size, layout, seed)
    gsd, left, top = facts.GSD_METRES, place.grid_left, place.grid_top
    cols = left + (np.arange(size) + 0.5) * gsd
    rows = top - (np.arange(size) + 0.5) * gsd
    x, y = np.meshgrid(cols, rows)
    season_no = facts.SEASONS.index(scene.season)
    key = (seed, season_no, scene.scene)

    # Land cover: regions of about a third of a patch, with wiggly borders.
    extent = size * gsd
    warp_x = (value_noise(x, y, extent / 2, *key, 1) - 0.5) * extent / 3
    warp_y = (value_noise(x, y, extent / 2, *key, 2) - 0.5) * extent / 3
    cell = extent / 3
    region = hash01(*key, 3, np.floor((x + warp_x) / cell), np.floor((y + warp_y) / cell))
    classes, weights = _scene_palette(position)
    igbp = np.asarray(classes, dtype=np.uint16)[np.searchsorted(np.cumsum(weights)[:-1], region, side="right")]
    lccs = np.array([(0, 0, 0)] + [_IGBP_TO_LCCS[c] for c in range(1, 18)], dtype=np.uint16)
    lc = np.concatenate([igbp[None], np.moveaxis(lccs[igbp], -1, 0)], axis=0)

    surfaces = sorted(set(_SURFACE.values()))
    surface_index = np.array([0] + [surfaces.index(_SURFACE[c]) for c in range(1, 18)])[igbp]
    texture = value_noise(x, y, extent / 8, *key, 4) - 0.5  # within-class variation
    noise, speckle = _pixel_noise(place, size, key)

    spectra = np.array([_SPECTRA[s] for s in surfaces], dtype=np.float64)  # [surface, 13]
    s2 = spectra[surface_index].transpose(2, 0, 1) * (1 + 0.25 * texture) + noise
    s2 = np.clip(np.rint(s2), 1, 15000).astype(np.uint16)

    sigma = np.array([_BACKSCATTER[s] for s in surfaces], dtype=np.float64)  # [surface, 2]
    s1_db = sigma[surface_index].transpose(2, 0, 1) + 3.0 * texture
    s1 = np.clip(s1_db + 10 * np.log10(speckle), -32.0, 5.0).astype(np.float32)
    if (scene.season, scene.scene, patch) == facts.DAMAGED_PATCH:
        s1[:, size // 3 : size // 2, :] = np.nan  # the real patch's S1 holds NaNs
    return {"s1": s1, "s2": s2, "lc": lc.astype(lc_dtype)}, place


def real_rows_per_strip(sensor: str, dtype: str) -> int:
    """Rows per strip of a real file: as many 256 px rows as fit :data:`~facts.STRIP_BYTES`."""
    row_bytes = facts.PATCH_SIZE * len(facts.BANDS[sensor]) * np.dtype(dtype).itemsize
    return max(1, facts.STRIP_BYTES // row_bytes)


def _write_geotiff(path: Path, sensor: str, array: np.ndarray, place: _Placement, layout: SampleLayout) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    options = {}
    if layout == SampleLayout.REAL:
        rows = min(real_rows_per_strip(sensor, array.dtype.name), array.shape[1])
        options = {"interleave": "pixel", "blockysize": rows}
    with rasterio.open(
        tmp, "w", driver="GTiff", width=array.shape[2], height=array.shape[1], count=array.shape[0],
        dtype=array.dtype, crs=place.crs, transform=Affine(*place.transform), **options,
    ) as dst:
        dst.write(array)
    os.replace(tmp, path)


def check_sample_options(patch_size: int, layout: SampleLayout | str, lc_dtype: str) -> SampleLayout:
    """The layout as a :class:`SampleLayout`; ValueError for options :func:`make_sample` refuses."""
    if patch_size < 8:
        raise ValueError(f"patch_size must be at least 8 pixels, got {patch_size}")
    try:
        layout = SampleLayout(layout)
    except ValueError:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(SampleLayout)}") from None
    if layout == SampleLayout.REAL and patch_size % 2:
        raise ValueError(f"the real layout needs an even patch size (neighbours overlap by half), got {patch_size}")
    if lc_dtype not in facts.FILE_DTYPES["lc"]:
        raise ValueError(f"unknown lc_dtype {lc_dtype!r}; expected one of {', '.join(facts.FILE_DTYPES['lc'])}")
    return layout


def make_sample(
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    patch_size: int = facts.PATCH_SIZE,
    patches_per_scene: int = SAMPLE_PATCHES_PER_SCENE,
    layout: SampleLayout | str = SampleLayout.COMPACT,
    lc_dtype: str = "uint16",
    archives: bool = False,
    tree: bool = True,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> list[PatchId]:
    """Write the sample into ``out`` (missing or empty); return the triplets written.

    ``layout`` is ``compact`` or ``real`` (:class:`SampleLayout`), ``lc_dtype`` the
    land-cover files' dtype, ``uint16`` or ``uint8`` (the same values either way).
    With ``archives`` the 12 archives and ``md5sums.txt`` are written into ``out`` too;
    with ``tree=False`` only those (the tree is then built in a temporary folder).
    """
    layout = check_sample_options(patch_size, layout, lc_dtype)
    _check_patches_per_scene(patches_per_scene)
    if not tree and not archives:
        raise ValueError("nothing to write: tree=False needs archives=True")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RootError(f"{out}: sample output folder must be missing or empty")
    make_writable_dir(out, "sample output folder")

    tree_root = out if tree else out / ".sample-tree.tmp"
    jobs = [
        (scene, position, patch)
        for position, scene in enumerate(sample_scenes())
        for patch in scene.patches[:patches_per_scene]
    ]
    written: list[PatchId] = []
    for scene, position, patch in (progress(jobs) if progress else jobs):
        arrays, place = make_patch_arrays(scene, position, patch, patch_size, seed, layout, lc_dtype)
        pid = PatchId(scene.season, scene.scene, patch)
        for sensor in facts.SENSORS:
            _write_geotiff(pid.path(tree_root, sensor), sensor, arrays[sensor], place, layout)
        written.append(pid)
    if archives:
        write_archives(tree_root, out)
    if not tree:
        shutil.rmtree(tree_root)
    return sorted(written)


def write_archives(tree_root: str | os.PathLike[str], out: str | os.PathLike[str]) -> dict[str, str]:
    """Pack a tree into the 12 archives, as the real ones are laid out, and write their md5s.

    Byte-reproducible: members sorted, directories before their contents, mtime
    :data:`ARCHIVE_MTIME`, owner 0/0 without names, modes 755/644, gzip header time 0.
    """
    tree_root, out = Path(tree_root), Path(out)
    md5s: dict[str, str] = {}
    for season in facts.SEASONS:
        for sensor in facts.SENSORS:
            name = facts.archive_name(season, sensor)
            data = _tar_gz(tree_root, season, sensor)
            tmp = out / f"{name}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, out / name)
            md5s[name] = hashlib.md5(data).hexdigest()
    write_manifest(out / MANIFEST_NAME, md5s)
    return md5s


def _tar_gz(tree_root: Path, season: str, sensor: str) -> bytes:
    members: list[tuple[str, Path]] = []
    season_dir = tree_root / season
    if season_dir.is_dir():
        for scene_dir in sorted(season_dir.glob(f"{sensor}_*")):
            members.append((f"{season}/{scene_dir.name}", scene_dir))
            members.extend((f"{season}/{scene_dir.name}/{f.name}", f) for f in sorted(scene_dir.iterdir()))
    members.insert(0, (season, season_dir))
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=6) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for arcname, path in members:
                info = tarfile.TarInfo(arcname)
                info.mtime = ARCHIVE_MTIME
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if path.is_dir() or arcname == season:
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                else:
                    info.mode, info.size = 0o644, path.stat().st_size
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
    return buffer.getvalue()
