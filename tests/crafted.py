"""A tiny SEN12MS root whose every value was chosen by hand, and what it must give, worked out by hand.

The tests that check labels, georeference, split membership and order against this
root compare with the literals below, never with values computed by the package.
The files are real GeoTIFFs written with rasterio (uncompressed, as the dataset's),
32 x 32 px (1,024 pixels), in the real layout and names.  This module uses only
numpy and rasterio: nothing of ``sen12ms_plugins``.

Triplets (season, scene, patch), and why they are there:

* hold-out scene ``ROIs1158_spring/s1_124`` (line 4 of upstream's hold-out list):
  patches 5, 7, 30, 100 -- crafted land cover, one case each (``PATCHES`` below);
* ``ROIs1158_spring`` scenes 9 (patch 3) and 45 (patches 1, 2), not hold-out: ``train``.
  Validation rule: spring's ``train`` scenes in order of
  ``sha256("sen12ms-plugins/validation/v1:ROIs1158_spring/<scene>")``:
  45 -> e2c0732c..., 9 -> ed804189... (``sha256sum``); scene 45 comes first and the
  first scene is always taken; with it the running count (2) passes the target
  (10% of 3 = 0.3), so the walk stops: ``validation`` = scene 45;
* ``ROIs1868_summer/s1_146``: patch 202 (the damaged patch: NaN in S1, in no split) and
  patch 203 (``train``; summer has a single ``train`` scene, so no validation scene).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = 32
PIXELS = SIZE * SIZE

SPRING, SUMMER = "ROIs1158_spring", "ROIs1868_summer"


def runs(*pairs: tuple[int, int]) -> np.ndarray:
    """A 32 x 32 layer filled row by row with (value, count) runs; the counts add up to 1,024."""
    values, counts = zip(*pairs)
    assert sum(counts) == PIXELS, counts
    return np.repeat(np.array(values, dtype=np.int64), counts).reshape(SIZE, SIZE)


def by_rows(values: list[int]) -> np.ndarray:
    """A 32 x 32 layer whose row r holds values[r] in every column."""
    assert len(values) == SIZE
    return np.repeat(np.array(values, dtype=np.int64)[:, None], SIZE, axis=1)


#: Row r of patch p7's IGBP layer holds the value r for r = 0 ... 17 (0: no data), rows 18-31 hold 0.
_P7_IGBP_ROWS = list(range(18)) + [0] * 14
#: ... so, by the DFC table (1-5 -> 1, 6-7 -> 2, 8-9 -> 3, 10 -> 4, 11 -> 5, 12 and 14 -> 6,
#: 13 -> 7, 15 -> 8, 16 -> 9, 17 -> 10, 0 stays 0), its DFC rows are:
_P7_DFC_ROWS = [0, 1, 1, 1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 6, 8, 9, 10] + [0] * 14

#: One entry per triplet: the lc bands written (IGBP, LCCS_LC, LCCS_LU, LCCS_SH), where the
#: patch lies (CRS, affine origin x/y and pixel size), and what it must give, by hand:
#: ``dfc`` (the simplified mask), ``single`` (the most frequent DFC class, ties to the
#: lower number, no-data pixels ignored), ``multi`` (DFC classes covering >= 10% of the
#: labelled pixels), ``multi_20`` (the same at 20%), ``bounds`` (left, bottom, right, top)
#: and ``lonlat`` (the centre in WGS 84).
PATCHES: dict[tuple[str, int, int], dict] = {
    # 600 px grassland, 300 cropland, 100 cropland mosaic, 24 water.  DFC: 600 x 4, 400 x 6
    # (12 and 14 are both croplands), 24 x 10.  Shares 58.6%, 39.1%, 2.3%.  Centre on the
    # central meridian of UTM 50N (117 E) at the equator (northing 0).
    (SPRING, 124, 5): dict(
        igbp=runs((10, 600), (12, 300), (14, 100), (17, 24)),
        lccs_lc=runs((31, 512), (255, 512)), lccs_lu=runs((36, 1024)), lccs_sh=runs((30, 1000), (50, 24)),
        crs="EPSG:32650", origin=(499_840.0, 160.0), pixel=10.0,
        dfc=runs((4, 600), (6, 400), (10, 24)), single=4, multi=[4, 6], multi_20=[4, 6],
        bounds=(499_840.0, -160.0, 500_160.0, 160.0), lonlat=(117.0, 0.0),
    ),
    # Rows by IGBP value: every IGBP class once.  Labelled: rows 1-17 = 544 px; DFC 1: 160 px
    # (29.4%), DFC 2, 3, 6: 64 px each (11.8%), the others 32 px (5.9%).  Centre on the central
    # meridian of UTM 33N (15 E) at the equator.
    (SPRING, 124, 7): dict(
        igbp=by_rows(_P7_IGBP_ROWS),
        lccs_lc=runs((43, 1024)), lccs_lu=runs((40, 1024)), lccs_sh=runs((40, 1024)),
        crs="EPSG:32633", origin=(499_840.0, 160.0), pixel=10.0,
        dfc=by_rows(_P7_DFC_ROWS), single=1, multi=[1, 2, 3, 6], multi_20=[1],
        bounds=(499_840.0, -160.0, 500_160.0, 160.0), lonlat=(15.0, 0.0),
    ),
    # A tie: 300 + 212 forest (IGBP 1, 5 -> DFC 1), 256 + 256 savanna (8, 9 -> DFC 3): 512 each,
    # the single label is the lower class.  UTM 50S: the equator is northing 10,000,000.
    (SPRING, 124, 30): dict(
        igbp=runs((1, 300), (5, 212), (8, 256), (9, 256)),
        lccs_lc=runs((11, 300), (15, 212), (21, 256), (22, 256)), lccs_lu=runs((10, 512), (20, 512)),
        lccs_sh=runs((10, 512), (20, 512)),
        crs="EPSG:32750", origin=(499_840.0, 10_000_160.0), pixel=10.0,
        dfc=runs((1, 512), (3, 512)), single=1, multi=[1, 3], multi_20=[1, 3],
        bounds=(499_840.0, 9_999_840.0, 500_160.0, 10_000_160.0), lonlat=(117.0, 0.0),
    ),
    # Mostly no data: 1,000 px IGBP 0, 20 px urban (13 -> DFC 7), 4 px of the invalid value 18
    # (-> 0).  Only 20 px are labelled, all urban: single 7, multi [7].  In lon/lat degrees,
    # 1/1024 degree pixels: every coordinate is exact in binary.
    (SPRING, 124, 100): dict(
        igbp=runs((0, 1000), (13, 20), (18, 4)),
        lccs_lc=runs((255, 1000), (32, 20), (255, 4)), lccs_lu=runs((255, 1000), (9, 24)),
        lccs_sh=runs((255, 1024)),
        crs="EPSG:4326", origin=(10.0, 50.0), pixel=1 / 1024,
        dfc=runs((0, 1000), (7, 20), (0, 4)), single=7, multi=[7], multi_20=[7],
        bounds=(10.0, 49.96875, 10.03125, 50.0), lonlat=(10.015625, 49.984375),
    ),
    # train: barren (16 -> 9).  UTM 34N: 21 E.
    (SPRING, 9, 3): dict(
        igbp=runs((16, 1024)), lccs_lc=runs((1, 1024)), lccs_lu=runs((1, 1024)), lccs_sh=runs((1, 1024)),
        crs="EPSG:32634", origin=(499_840.0, 160.0), pixel=10.0,
        dfc=runs((9, 1024)), single=9, multi=[9], multi_20=[9],
        bounds=(499_840.0, -160.0, 500_160.0, 160.0), lonlat=(21.0, 0.0),
    ),
    # validation: evergreen broadleaf (2 -> 1).  UTM 35N: 27 E.
    (SPRING, 45, 1): dict(
        igbp=runs((2, 1024)), lccs_lc=runs((12, 1024)), lccs_lu=runs((10, 1024)), lccs_sh=runs((10, 1024)),
        crs="EPSG:32635", origin=(499_840.0, 160.0), pixel=10.0,
        dfc=runs((1, 1024)), single=1, multi=[1], multi_20=[1],
        bounds=(499_840.0, -160.0, 500_160.0, 160.0), lonlat=(27.0, 0.0),
    ),
    # validation: 512 snow (15 -> 8), 512 wetland (11 -> 5): a tie, the lower class (5) wins.
    (SPRING, 45, 2): dict(
        igbp=runs((15, 512), (11, 512)), lccs_lc=runs((2, 512), (31, 512)), lccs_lu=runs((2, 512), (30, 512)),
        lccs_sh=runs((2, 512), (50, 512)),
        crs="EPSG:32635", origin=(499_840.0, 160.0), pixel=10.0,
        dfc=runs((8, 512), (5, 512)), single=5, multi=[5, 8], multi_20=[5, 8],
        bounds=(499_840.0, -160.0, 500_160.0, 160.0), lonlat=(27.0, 0.0),
    ),
    # the damaged patch (in no split): water, NaN in S1.  UTM 32N: 9 E.
    (SUMMER, 146, 202): dict(
        igbp=runs((17, 1024)), lccs_lc=runs((3, 1024)), lccs_lu=runs((3, 1024)), lccs_sh=runs((3, 1024)),
        crs="EPSG:32632", origin=(499_840.0, 160.0), pixel=10.0,
        dfc=runs((10, 1024)), single=10, multi=[10], multi_20=[10],
        bounds=(499_840.0, -160.0, 500_160.0, 160.0), lonlat=(9.0, 0.0),
    ),
    # train: deciduous broadleaf (4 -> 1).
    (SUMMER, 146, 203): dict(
        igbp=runs((4, 1024)), lccs_lc=runs((14, 1024)), lccs_lu=runs((10, 1024)), lccs_sh=runs((10, 1024)),
        crs="EPSG:32632", origin=(499_840.0, 160.0), pixel=10.0,
        dfc=runs((1, 1024)), single=1, multi=[1], multi_20=[1],
        bounds=(499_840.0, -160.0, 500_160.0, 160.0), lonlat=(9.0, 0.0),
    ),
}

DAMAGED = (SUMMER, 146, 202)
#: The S1 pixels of the damaged patch that hold NaN (both bands): rows 0-3, columns 0-3.
DAMAGED_NAN = (slice(0, 4), slice(0, 4))


def name(key: tuple[str, int, int]) -> str:
    """The canonical patch id, written out: ``<season>_<scene>_p<patch>``."""
    season, scene, patch = key
    return f"{season}_{scene}_p{patch}"


def s2_name(key: tuple[str, int, int]) -> str:
    """The S2 file name, as upstream's lists and torchgeo's ``ids`` give it."""
    season, scene, patch = key
    return f"{season}_s2_{scene}_p{patch}.tif"


#: Split members in dataset order (season, then scene number, then patch number), by hand.
SPLIT_MEMBERS = {
    "holdout": ["ROIs1158_spring_124_p5", "ROIs1158_spring_124_p7", "ROIs1158_spring_124_p30",
                "ROIs1158_spring_124_p100"],
    "train": ["ROIs1158_spring_9_p3", "ROIs1158_spring_45_p1", "ROIs1158_spring_45_p2", "ROIs1868_summer_146_p203"],
    "validation": ["ROIs1158_spring_45_p1", "ROIs1158_spring_45_p2"],
    "train_minus_validation": ["ROIs1158_spring_9_p3", "ROIs1868_summer_146_p203"],
}
#: The same members in torchgeo's order: by S2 file name, as strings ("p100" < "p30" < "p5" < "p7";
#: scene "45" < "9").
S2_NAME_ORDER = {
    "holdout": ["ROIs1158_spring_s2_124_p100.tif", "ROIs1158_spring_s2_124_p30.tif",
                "ROIs1158_spring_s2_124_p5.tif", "ROIs1158_spring_s2_124_p7.tif"],
    "train": ["ROIs1158_spring_s2_45_p1.tif", "ROIs1158_spring_s2_45_p2.tif", "ROIs1158_spring_s2_9_p3.tif",
              "ROIs1868_summer_s2_146_p203.tif"],
    "validation": ["ROIs1158_spring_s2_45_p1.tif", "ROIs1158_spring_s2_45_p2.tif"],
    "train_minus_validation": ["ROIs1158_spring_s2_9_p3.tif", "ROIs1868_summer_s2_146_p203.tif"],
}


def key_of(patch_id: str) -> tuple[str, int, int]:
    """``ROIs1158_spring_124_p5`` -> ``("ROIs1158_spring", 124, 5)``."""
    season_scene, patch = patch_id.rsplit("_p", 1)
    season, scene = season_scene.rsplit("_", 1)
    return season, int(scene), int(patch)


def s2_pixels(key: tuple[str, int, int]) -> np.ndarray:
    """S2 [13, 32, 32] uint16: band b (0-based), row y, column x holds 1000 (b + 1) + 32 y + x + patch."""
    b, y, x = np.meshgrid(np.arange(13), np.arange(SIZE), np.arange(SIZE), indexing="ij")
    return (1000 * (b + 1) + SIZE * y + x + key[2]).astype(np.uint16)


def s1_pixels(key: tuple[str, int, int]) -> np.ndarray:
    """S1 [2, 32, 32] float32: VV = -5 - y/4 - patch/64, VH = -12 - x/8 (exact in float32);
    NaN at ``DAMAGED_NAN`` in the damaged patch."""
    y, x = np.meshgrid(np.arange(SIZE), np.arange(SIZE), indexing="ij")
    s1 = np.stack([-5.0 - y / 4 - key[2] / 64, -12.0 - x / 8]).astype(np.float32)
    if key == DAMAGED:
        s1[(slice(None), *DAMAGED_NAN)] = np.nan
    return s1


def lc_pixels(key: tuple[str, int, int]) -> np.ndarray:
    """lc [4, 32, 32] uint16: IGBP, LCCS_LC, LCCS_LU, LCCS_SH as listed in ``PATCHES``."""
    p = PATCHES[key]
    return np.stack([p["igbp"], p["lccs_lc"], p["lccs_lu"], p["lccs_sh"]]).astype(np.uint16)


def make_crafted_root(root: Path) -> Path:
    """Write the triplets of ``PATCHES`` under ``root`` (real GeoTIFFs, rasterio)."""
    import rasterio
    from rasterio.transform import from_origin

    for key, p in PATCHES.items():
        season, scene, patch = key
        transform = from_origin(*p["origin"], p["pixel"], p["pixel"])
        for sensor, array in (("s1", s1_pixels(key)), ("s2", s2_pixels(key)), ("lc", lc_pixels(key))):
            path = root / season / f"{sensor}_{scene}" / f"{season}_{sensor}_{scene}_p{patch}.tif"
            path.parent.mkdir(parents=True, exist_ok=True)
            with rasterio.open(path, "w", driver="GTiff", width=SIZE, height=SIZE, count=array.shape[0],
                               dtype=array.dtype, crs=p["crs"], transform=transform) as dst:
                dst.write(array)
    return root
