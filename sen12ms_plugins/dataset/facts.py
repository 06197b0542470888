"""Facts about the SEN12MS dataset: the single place where they are written down.

Every other module (and every ecosystem adapter) imports these names instead of
repeating a band name, a count, a file-name rule or a checksum.

Sources: Schmitt et al. (2019), doi:10.5194/isprs-annals-IV-2-W7-153-2019; the
authors' toolbox (github.com/schmitt-muc/SEN12MS, commit 3a41236); torchgeo 0.10.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Mapping

NAME: Final = "sen12ms"
TITLE: Final = (
    "SEN12MS: a curated dataset of georeferenced multi-spectral Sentinel-1/2 "
    "imagery for deep learning and data fusion"
)
HOMEPAGE: Final = "https://mediatum.ub.tum.de/1474000"
DOI: Final = "10.14459/2019mp1474000"
PAPER_DOI: Final = "10.5194/isprs-annals-IV-2-W7-153-2019"
LICENSE: Final = "CC-BY-4.0"
CITATION_BIBTEX: Final = """\
@article{Schmitt2019SEN12MS,
  author  = {Schmitt, Michael and Hughes, Lloyd Haydn and Qiu, Chunping and Zhu, Xiao Xiang},
  title   = {{SEN12MS} -- A Curated Dataset of Georeferenced Multi-Spectral {Sentinel-1/2} Imagery for Deep Learning and Data Fusion},
  journal = {ISPRS Annals of the Photogrammetry, Remote Sensing and Spatial Information Sciences},
  volume  = {IV-2/W7},
  pages   = {153--160},
  year    = {2019},
  doi     = {10.5194/isprs-annals-IV-2-W7-153-2019},
}
"""

# --- Seasons, sensors, bands -------------------------------------------------------

#: Season folders in the order the dataset (and its split lists) use.  Their
#: lexicographic order is also their chronological order.
SEASONS: Final = ("ROIs1158_spring", "ROIs1868_summer", "ROIs1970_fall", "ROIs2017_winter")
#: Short season names, for CLI options and feature values.
SEASON_SHORT: Final[Mapping[str, str]] = MappingProxyType(
    {season: season.split("_", 1)[1] for season in SEASONS}
)

#: Sensors, in the order files are listed and triplets are stacked.
SENSORS: Final = ("s1", "s2", "lc")
SENSOR_TITLES: Final[Mapping[str, str]] = MappingProxyType(
    {"s1": "Sentinel-1 SAR", "s2": "Sentinel-2 multi-spectral", "lc": "MODIS land cover"}
)

#: The sensors whose bands make the image a model sees; ``lc`` holds the labels.
IMAGE_SENSORS: Final = ("s1", "s2")

#: Band names per sensor, in file band order.
BANDS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "s1": ("VV", "VH"),
        "s2": ("B01", "B02", "B03", "B04", "B05", "B06", "B07",
               "B08", "B8A", "B09", "B10", "B11", "B12"),
        "lc": ("IGBP", "LCCS_LC", "LCCS_LU", "LCCS_SH"),
    }
)
#: numpy dtype of each sensor's arrays, as the reader and every ecosystem return them: one
#: dtype per sensor whatever its files hold (a file dtype of :data:`FILE_DTYPES` is widened to
#: it without loss, so a uint8 and a uint16 land-cover file give the same uint16 array).
DTYPES: Final[Mapping[str, str]] = MappingProxyType({"s1": "float32", "s2": "uint16", "lc": "uint16"})
#: numpy dtypes a sensor's files may have (every band of a file the same); any other is an
#: error naming the file.  Evidence:
#:
#: * s1 float32 (dB; any finite value and NaN) and s2 uint16: real bytes of SEN12MS-CR, the
#:   sister dataset made by the same group with the same processing chain
#:   (``reference/real/`` of the project's shared data), and public notebooks that open real
#:   SEN12MS files with rasterio.
#: * lc: UNRESOLVED, so both are accepted.  The paper (Schmitt et al. 2019) says "16-bit
#:   GeoTiffs" and torchgeo's fake data is uint16; a TUM researcher who uses the real files
#:   lists "Label: uint8" (torchgeo issue #500, 2022), and another user's code reads lc as 8-bit.
FILE_DTYPES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {"s1": ("float32",), "s2": ("uint16",), "lc": ("uint8", "uint16")}
)


@dataclass(frozen=True)
class SensorFormat:
    """What one sensor's patch files hold, and what the readers return for them.

    The readers work from these records, so a collection laid out like SEN12MS but with
    other file dtypes is a mapping of its own (:data:`DFC2020_FORMATS`), not a change to
    the readers.  A file dtype wider than ``dtype`` is narrowed by the readers, each value
    checked.
    """

    sensor: str
    bands: tuple[str, ...]  # band names, in file band order
    dtype: str  # numpy dtype of the arrays returned
    file_dtypes: tuple[str, ...]  # numpy dtypes a file may have (SEN12MS's cast to ``dtype`` without loss)

    def describe_file_dtypes(self) -> str:
        """The accepted file dtypes in words: ``uint16``, ``uint8 or uint16``."""
        return " or ".join(self.file_dtypes)


#: The format of each SEN12MS sensor (:data:`BANDS`, :data:`DTYPES`, :data:`FILE_DTYPES`).
FORMATS: Final[Mapping[str, SensorFormat]] = MappingProxyType(
    {s: SensorFormat(s, BANDS[s], DTYPES[s], FILE_DTYPES[s]) for s in SENSORS}
)
#: The Sentinel-2 bands that make a true-colour picture.
RGB_BANDS: Final = ("B04", "B03", "B02")
#: Every band an image can hold, in the order torchgeo's ``SEN12MS.band_names`` lists them.
IMAGE_BANDS: Final = (*BANDS["s1"], *BANDS["s2"])
#: The image sensor whose file holds each band.
SENSOR_OF_BAND: Final[Mapping[str, str]] = MappingProxyType(
    {band: sensor for sensor in IMAGE_SENSORS for band in BANDS[sensor]})
#: Named sets of image bands (torchgeo's ``bands=`` and its datamodule's ``band_set=``).
#:
#: * ``all``, ``s1``, ``s2-all``, ``s2-reduced``: torchgeo's own four (``SEN12MS.BAND_SETS``,
#:   torchgeo 0.8-0.10), as torchgeo defines them, so that the plugin is a drop-in.  torchgeo's
#:   ``s2-reduced`` is B02 B03 B04 B08 B10 B11, with B10 (cirrus, 1375 nm, an atmospheric band) and
#:   without B12, although its datamodule's docstring describes it as "B2, B3, B4, B8, B11, and B12";
#:   its code (the set, and the normalisation indexes 3 4 5 9 12 13) agrees with itself.
#: * ``s2-reduced-swir``: the set that docstring describes, B02 B03 B04 B08 B11 B12 (10 m visible
#:   and near infrared, both shortwave-infrared bands).
#: * ``s2-land``: the 10 bands the authors train on, B02-B08, B8A, B11, B12 (``S2_BANDS_LD``,
#:   "bands related to land", of the SEN12MS toolbox's ``classification/dataset.py``; the same
#:   set as the DFC2020 baseline's high- and medium-resolution bands): every band but the 60 m
#:   atmospheric ones (B01 aerosol, B09 water vapour, B10 cirrus).
BAND_SETS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "all": IMAGE_BANDS,
        "s1": BANDS["s1"],
        "s2-all": BANDS["s2"],
        "s2-reduced": ("B02", "B03", "B04", "B08", "B10", "B11"),
        "s2-reduced-swir": ("B02", "B03", "B04", "B08", "B11", "B12"),
        "s2-land": ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12"),
    }
)

PATCH_SIZE: Final = 256  # pixels per side
GSD_METRES: Final = 10.0
#: Pixels between the origins of neighbouring patches of a scene (1,280 m): patches overlap by
#: half, so a scene must never be split (public notebooks reading real SEN12MS files).
PATCH_STRIDE: Final = PATCH_SIZE // 2
#: Most bytes in one strip of a real file: its rows per strip are as many rows of the
#: 256 px patch as fit (GDAL's default), 4 for s1 and 1 for s2 in the real bytes of
#: ``reference/real`` (pixel-interleaved, uncompressed, no nodata, non-integer origins).
STRIP_BYTES: Final = 8192

# --- Counts --------------------------------------------------------------------------

TOTAL_TRIPLETS: Final = 180_662
TOTAL_SCENES: Final = 252  # (season, scene) pairs
HOLDOUT_SCENES: Final = 26
#: Patches of the official hold-out scenes, per season (upstream test_list.txt).
HOLDOUT_PATCHES_PER_SEASON: Final[Mapping[str, int]] = MappingProxyType(
    {"ROIs1158_spring": 4_242, "ROIs1868_summer": 4_529, "ROIs1970_fall": 5_989, "ROIs2017_winter": 3_346}
)
HOLDOUT_PATCHES: Final = 18_106
#: All non-hold-out triplets minus the damaged patch (upstream train_list.txt).
TRAIN_PATCHES: Final = 162_555

#: A paragraph for dataset cards and builder descriptions.
DESCRIPTION: Final = (
    f"SEN12MS holds {TOTAL_TRIPLETS:,} triplets of co-registered {PATCH_SIZE}x{PATCH_SIZE} px patches at "
    f"{GSD_METRES:g} m ground sampling distance: Sentinel-1 dual-polarisation SAR (VV, VH; float32 dB), "
    "Sentinel-2 multi-spectral top-of-atmosphere reflectance (13 bands; uint16, x10000) "
    f"and MODIS land cover (IGBP and three LCCS layers), from {TOTAL_SCENES} scenes spread "
    "over all inhabited continents and the four meteorological seasons."
)

#: The one patch known to be damaged (NaNs in its Sentinel-1 data).  Upstream's
#: training list leaves it out; so does our ``train`` split.
DAMAGED_PATCH: Final = ("ROIs1868_summer", 146, 202)

# --- Distribution ---------------------------------------------------------------------

#: Approximate size of the whole dataset (the 12 archives, and the extracted GeoTIFFs), in
#: GB as the authors state it.  Sizes of the single archives are not published.
TOTAL_GB_APPROX: Final = 510

#: The 12 archives and their md5 checksums (as published by torchgeo 0.10.1).
ARCHIVE_MD5: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ROIs1158_spring_lc.tar.gz": "6e2e8fa8b8cba77ddab49fd20ff5c37b",
        "ROIs1158_spring_s1.tar.gz": "fba019bb27a08c1db96b31f718c34d79",
        "ROIs1158_spring_s2.tar.gz": "d58af2c15a16f376eb3308dc9b685af2",
        "ROIs1868_summer_lc.tar.gz": "2c5bd80244440b6f9d54957c6b1f23d4",
        "ROIs1868_summer_s1.tar.gz": "01044b7f58d33570c6b57fec28a3d449",
        "ROIs1868_summer_s2.tar.gz": "4dbaf72ecb704a4794036fe691427ff3",
        "ROIs1970_fall_lc.tar.gz": "9b126a68b0e3af260071b3139cb57cee",
        "ROIs1970_fall_s1.tar.gz": "19132e0aab9d4d6862fd42e8e6760847",
        "ROIs1970_fall_s2.tar.gz": "b8f117818878da86b5f5e06400eb1866",
        "ROIs2017_winter_lc.tar.gz": "0fa0420ef7bcfe4387c7e6fe226dc728",
        "ROIs2017_winter_s1.tar.gz": "bb8cbfc16b95a4f054a3d5380e0130ed",
        "ROIs2017_winter_s2.tar.gz": "3807545661288dcca312c9c538537b63",
    }
)
#: md5 of upstream's patch lists (torchgeo 0.10.1).
PATCH_LIST_MD5: Final[Mapping[str, str]] = MappingProxyType(
    {"train_list.txt": "0a68d4e1eb24f128fccdb930000b2546", "test_list.txt": "c7faad064001e646445c4c634169484d"}
)
#: Where the archives are published.  The FTP server is the primary source.
FTP_URL: Final = "ftp://m1474000:m1474000@dataserv.ub.tum.de/"
HTTPS_SHARE_URL: Final = "https://dataserv.ub.tum.de/s/m1474000"
#: One archive of the HTTPS share (a Nextcloud public link): ``{name}`` is the archive name.
#: ``download?path=%2F&files=<name>`` is the pattern Nextcloud shares are fetched with;
#: it is assumed for this share (it cannot be reached from CI; see docs/download.md).
HTTPS_FILE_URL: Final = HTTPS_SHARE_URL + "/download?path=%2F&files={name}"


# --- DFC2020: the contest's validation and test data ----------------------------------------
#
# The 2020 IEEE GRSS Data Fusion Contest released, from the same sensors and processing as
# SEN12MS, a validation set and a test set with hand-made 10 m labels in the simplified
# 10-class scheme (labels.DFC_CLASSES).  SEN12MS's own toolbox names it as its companion; a
# root holds it next to the seasons once ``sen12ms add-dfc2020`` has added it.  Sources: the
# contest's baseline loader (github.com/lukasliebel/dfc2020_baseline, code/datasets.py and
# README), the organisers' loader (dfc_sen12ms_dataset.py, L. Hughes), public notebooks, and
# torchgeo's fake data for its DFC2020 variant.  What is uncertain says so.

DFC2020_TITLE: Final = "DFC2020: the 2020 IEEE GRSS Data Fusion Contest's validation and test data"
#: Where the data is distributed: IEEE DataPort, behind a (free) login, so it is never
#: downloaded automatically.
DFC2020_URL: Final = "https://ieee-dataport.org/competitions/2020-ieee-grss-data-fusion-contest"
#: The two sets and their top folder in the root (the folders the public loaders read).
DFC2020_SETS: Final[Mapping[str, str]] = MappingProxyType(
    {"validation": "ROIs0000_validation", "test": "ROIs0000_test"}
)
DFC2020_FOLDERS: Final = tuple(DFC2020_SETS.values())
#: Every top folder of a root that holds patches: the seasons, then the DFC2020 sets.
TOP_FOLDERS: Final = (*SEASONS, *DFC2020_FOLDERS)
#: The single "scene" of both sets, as the file names say (``…_<sensor>_0_p<N>.tif``).
DFC2020_SCENE: Final = 0
#: The files of one DFC2020 patch: SEN12MS's three sensors and ``dfc``, the 10 m label.
DFC2020_SENSORS: Final = ("s1", "s2", "lc", "dfc")
#: The sensor folder inside a set's folder: ``s1_validation`` in the validation set (whose file
#: names still say ``_0_``), ``s1_0`` in the test set.
DFC2020_SENSOR_DIRS: Final[Mapping[str, str]] = MappingProxyType(
    {"ROIs0000_validation": "{sensor}_validation", "ROIs0000_test": "{sensor}_0"}
)
#: Patches of each set as released (986 validation, 5,128 test patches, numbered from p0).
DFC2020_PATCHES: Final[Mapping[str, int]] = MappingProxyType({"ROIs0000_validation": 986, "ROIs0000_test": 5_128})
#: Simplified classes that do not occur in a set: the validation set has no Savanna (3) and
#: no Snow/Ice (8).
DFC2020_ABSENT_CLASSES: Final[Mapping[str, tuple[int, ...]]] = MappingProxyType(
    {"ROIs0000_validation": (3, 8), "ROIs0000_test": ()}
)
#: The one band of a ``dfc`` file: the simplified class of every pixel, 1-10.
DFC2020_LABEL_BAND: Final = "DFC"
#: File dtypes reported for the released files, and what the readers return.  Sources differ:
#: s1 float32 (the organisers' description) or float64 (torchgeo's fake data of the release),
#: dfc uint8 or int32 (the same two sources); s2 uint16 and lc as in SEN12MS.  Every one is
#: accepted and gives SEN12MS's dtypes (dfc: uint8).  float64 -> float32 and int32 -> uint8
#: narrow: a value the returned dtype cannot hold (a dfc value outside 0-255, a finite s1
#: value beyond float32's range) is an error naming the file; float64 s1 values are rounded
#: to the nearest float32, as SEN12MS's own files hold them.
DFC2020_FILE_DTYPES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {"s1": ("float32", "float64"), "s2": FILE_DTYPES["s2"], "lc": FILE_DTYPES["lc"], "dfc": ("uint8", "int32")}
)
DFC2020_DTYPES: Final[Mapping[str, str]] = MappingProxyType({**DTYPES, "dfc": "uint8"})
#: The format of each DFC2020 file (:class:`SensorFormat`), for the readers.
DFC2020_FORMATS: Final[Mapping[str, SensorFormat]] = MappingProxyType(
    {s: SensorFormat(s, BANDS.get(s, (DFC2020_LABEL_BAND,)), DFC2020_DTYPES[s], DFC2020_FILE_DTYPES[s])
     for s in DFC2020_SENSORS}
)
# The georeference of the released files is reported as stripped (an identity transform in a
# geographic CRS): nothing relies on it; a patch's lon/lat is unknown (NaN) unless its header
# holds a usable one (reading.reader.georeference).
#: Season of a DFC2020 patch: the release does not say.
UNKNOWN_SEASON: Final = "unknown"


def _one_of(what: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")


def dfc2020_sensor_dir(folder: str, sensor: str) -> str:
    """The sensor folder of a DFC2020 set, e.g. ``s1_validation`` or ``dfc_0``."""
    _one_of("DFC2020 folder", folder, DFC2020_FOLDERS)
    _one_of("DFC2020 sensor", sensor, DFC2020_SENSORS)
    return DFC2020_SENSOR_DIRS[folder].format(sensor=sensor)


def dfc2020_zip_name(folder: str, sensor: str) -> str:
    """The zip one set's sensor comes in: ``s1_validation.zip`` … ``dfc_0.zip`` (its name is
    the sensor folder's)."""
    return f"{dfc2020_sensor_dir(folder, sensor)}.zip"


#: Every DFC2020 zip: name -> (set folder, sensor), in set then sensor order.
DFC2020_ZIPS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {dfc2020_zip_name(f, s): (f, s) for f in DFC2020_FOLDERS for s in DFC2020_SENSORS}
)


def is_dfc2020(folder: str) -> bool:
    """True for the top folder of a DFC2020 set (``ROIs0000_validation``, ``ROIs0000_test``)."""
    return folder in DFC2020_SENSOR_DIRS


def sensors_of(folder: str) -> tuple[str, ...]:
    """The files a patch of this top folder has: :data:`SENSORS`, or :data:`DFC2020_SENSORS`."""
    return DFC2020_SENSORS if is_dfc2020(folder) else SENSORS


def formats_of(folder: str) -> Mapping[str, SensorFormat]:
    """The file formats of a top folder's patches: :data:`FORMATS`, or :data:`DFC2020_FORMATS`."""
    return DFC2020_FORMATS if is_dfc2020(folder) else FORMATS


def season_name(folder: str) -> str:
    """The short season of a top folder (``spring`` …), :data:`UNKNOWN_SEASON` for DFC2020."""
    return UNKNOWN_SEASON if is_dfc2020(folder) else SEASON_SHORT[folder]


def archive_name(season: str, sensor: str) -> str:
    """The archive that holds one season of one sensor, e.g. ``ROIs1158_spring_s2.tar.gz``."""
    _one_of("season", season, SEASONS)
    _one_of("sensor", sensor, SENSORS)
    return f"{season}_{sensor}.tar.gz"


def parse_archive_name(name: str) -> tuple[str, str]:
    """``(season, sensor)`` of an archive name such as ``ROIs1158_spring_s2.tar.gz``; ValueError for other names."""
    for season in SEASONS:
        for sensor in SENSORS:
            if archive_name(season, sensor) == name:
                return season, sensor
    raise ValueError(f"{name!r} is not a SEN12MS archive name (ROIs<season>_<sensor>.tar.gz)")


def season_from_short(name: str) -> str:
    """Accept ``spring`` or ``ROIs1158_spring`` and return the season folder name."""
    if name in SEASONS:
        return name
    for season, short in SEASON_SHORT.items():
        if name == short:
            return season
    raise ValueError(f"unknown season {name!r}; expected one of {', '.join(SEASON_SHORT.values())}")
