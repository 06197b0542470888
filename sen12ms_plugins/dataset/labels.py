"""Land-cover label schemes of SEN12MS (the four bands of the ``lc`` files).

Band 1 is IGBP (values 1-17); bands 2-4 are the MODIS MCD12Q1 v6 LCCS layers
(land cover, land use, surface hydrology; 255 = unclassified).  The simplified
10-class scheme is the one of the IEEE GRSS Data Fusion Contest 2020 and of
Schmitt & Wu (2021).
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Mapping

if TYPE_CHECKING:
    import numpy as np

IGBP_CLASSES: Final[Mapping[int, str]] = MappingProxyType(
    {
        1: "Evergreen Needleleaf Forests",
        2: "Evergreen Broadleaf Forests",
        3: "Deciduous Needleleaf Forests",
        4: "Deciduous Broadleaf Forests",
        5: "Mixed Forests",
        6: "Closed Shrublands",
        7: "Open Shrublands",
        8: "Woody Savannas",
        9: "Savannas",
        10: "Grasslands",
        11: "Permanent Wetlands",
        12: "Croplands",
        13: "Urban and Built-up Lands",
        14: "Cropland/Natural Vegetation Mosaics",
        15: "Permanent Snow and Ice",
        16: "Barren",
        17: "Water Bodies",
    }
)
class ClassStatus(StrEnum):
    """What a label code is to its scheme."""

    CLASS = "class"  # a named class
    UNCLASSIFIED = "unclassified"  # LCCS code 255
    UNKNOWN = "unknown"  # any other code


#: The MODIS IGBP legend colours (as in NASA's MCD12Q1 palette).
IGBP_COLORS: Final[Mapping[int, str]] = MappingProxyType(
    {
        1: "#05450a", 2: "#086a10", 3: "#54a708", 4: "#78d203", 5: "#009900",
        6: "#c6b044", 7: "#dcd159", 8: "#dade48", 9: "#fbff13", 10: "#b6ff05",
        11: "#27ff87", 12: "#c24f44", 13: "#a5a5a5", 14: "#ff6d4c", 15: "#69fff8",
        16: "#f9ffa4", 17: "#1c0dff",
    }
)

DFC_CLASSES: Final[Mapping[int, str]] = MappingProxyType(
    {
        1: "Forest",
        2: "Shrubland",
        3: "Savanna",
        4: "Grassland",
        5: "Wetlands",
        6: "Croplands",
        7: "Urban/Built-up",
        8: "Snow/Ice",
        9: "Barren",
        10: "Water",
    }
)
#: Colours of the simplified classes (those of their IGBP parents).
DFC_COLORS: Final[Mapping[int, str]] = MappingProxyType(
    {
        1: "#009900", 2: "#c6b044", 3: "#fbff13", 4: "#b6ff05", 5: "#27ff87",
        6: "#c24f44", 7: "#a5a5a5", 8: "#69fff8", 9: "#f9ffa4", 10: "#1c0dff",
    }
)
#: IGBP value -> simplified class; index 0 (no data) maps to 0.  This is the
#: lookup torchgeo's SEN12MSDataModule uses.
IGBP_TO_DFC: Final = (0, 1, 1, 1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 6, 8, 9, 10)

LCCS_UNCLASSIFIED: Final = 255
LCCS_LC_CLASSES: Final[Mapping[int, str]] = MappingProxyType(
    {
        1: "Barren",
        2: "Permanent Snow and Ice",
        3: "Water Bodies",
        11: "Evergreen Needleleaf Forests",
        12: "Evergreen Broadleaf Forests",
        13: "Deciduous Needleleaf Forests",
        14: "Deciduous Broadleaf Forests",
        15: "Mixed Broadleaf/Needleleaf Forests",
        16: "Mixed Broadleaf Evergreen/Deciduous Forests",
        21: "Open Forests",
        22: "Sparse Forests",
        31: "Dense Herbaceous",
        32: "Sparse Herbaceous",
        41: "Dense Shrublands",
        42: "Shrubland/Grassland Mosaics",
        43: "Sparse Shrublands",
    }
)
LCCS_LU_CLASSES: Final[Mapping[int, str]] = MappingProxyType(
    {
        1: "Barren",
        2: "Permanent Snow and Ice",
        3: "Water Bodies",
        9: "Urban and Built-up Lands",
        10: "Dense Forests",
        20: "Open Forests",
        25: "Forest/Cropland Mosaics",
        30: "Natural Herbaceous",
        35: "Natural Herbaceous/Croplands Mosaics",
        36: "Herbaceous Croplands",
        40: "Shrublands",
    }
)
LCCS_SH_CLASSES: Final[Mapping[int, str]] = MappingProxyType(
    {
        1: "Barren",
        2: "Permanent Snow and Ice",
        3: "Water Bodies",
        10: "Dense Forests",
        20: "Open Forests",
        27: "Woody Wetlands",
        30: "Grasslands",
        40: "Shrublands",
        50: "Herbaceous Wetlands",
        51: "Tundra",
    }
)

# Colours of the LCCS classes.  No palette is published with the SEN12MS files: a class named
# as an IGBP class (Barren, Water Bodies, the forest types, Urban, Shrublands, Grasslands,
# wetlands and mosaics) has that class's MODIS colour, so that the layers read alike; the
# others were chosen here, in the hue of their family (forests green, open and sparse forests
# paler, herbaceous yellow-green, shrubs tan, wetlands blue-green).
_BARREN_SNOW_WATER = {1: IGBP_COLORS[16], 2: IGBP_COLORS[15], 3: IGBP_COLORS[17]}
#: Colours of the LCCS land-cover classes.
LCCS_LC_COLORS: Final[Mapping[int, str]] = MappingProxyType(
    {
        **_BARREN_SNOW_WATER,
        11: IGBP_COLORS[1], 12: IGBP_COLORS[2], 13: IGBP_COLORS[3], 14: IGBP_COLORS[4], 15: IGBP_COLORS[5],
        16: "#2f7f2f", 21: "#8fb84a", 22: "#c4d67a", 31: IGBP_COLORS[10], 32: "#e2f5a0",
        41: IGBP_COLORS[6], 42: "#b8c96a", 43: IGBP_COLORS[7],
    }
)
#: Colours of the LCCS land-use classes.
LCCS_LU_COLORS: Final[Mapping[int, str]] = MappingProxyType(
    {
        **_BARREN_SNOW_WATER,
        9: IGBP_COLORS[13], 10: "#0b5a12", 20: LCCS_LC_COLORS[21], 25: "#d99b3f", 30: IGBP_COLORS[10],
        35: IGBP_COLORS[14], 36: IGBP_COLORS[12], 40: IGBP_COLORS[6],
    }
)
#: Colours of the LCCS surface-hydrology classes.
LCCS_SH_COLORS: Final[Mapping[int, str]] = MappingProxyType(
    {
        **_BARREN_SNOW_WATER,
        10: LCCS_LU_COLORS[10], 20: LCCS_LC_COLORS[21], 27: "#3b8c6e", 30: IGBP_COLORS[10], 40: IGBP_COLORS[6],
        50: IGBP_COLORS[11], 51: "#9fb8b0",
    }
)

#: Every label scheme by name: its band in the ``lc`` file (0-based) and its classes.
SCHEMES: Final[Mapping[str, tuple[int, Mapping[int, str]]]] = MappingProxyType(
    {
        "IGBP": (0, IGBP_CLASSES),
        "DFC": (0, DFC_CLASSES),  # derived from IGBP through IGBP_TO_DFC
        "LCCS_LC": (1, LCCS_LC_CLASSES),
        "LCCS_LU": (2, LCCS_LU_CLASSES),
        "LCCS_SH": (3, LCCS_SH_CLASSES),
    }
)

#: The colour of every class of every scheme (:data:`SCHEMES`), for maps and charts.
COLORS: Final[Mapping[str, Mapping[int, str]]] = MappingProxyType(
    {"IGBP": IGBP_COLORS, "DFC": DFC_COLORS, "LCCS_LC": LCCS_LC_COLORS, "LCCS_LU": LCCS_LU_COLORS,
     "LCCS_SH": LCCS_SH_COLORS}
)
#: The code of a pixel without a label in every scheme (upstream's mapping sends an IGBP 0 to 0).
NO_DATA: Final = 0

#: Default share of a class above which it counts in a patch's multi-label
#: (Schmitt & Wu 2021).
MULTI_LABEL_THRESHOLD: Final = 0.1


#: Entries of :func:`igbp_to_dfc_lookup`: every value of an 8-bit layer.
LOOKUP_SIZE: Final = 256


def igbp_to_dfc_lookup(dtype: Any = "uint8") -> np.ndarray:
    """:data:`IGBP_TO_DFC` as a table of :data:`LOOKUP_SIZE` entries, ``dtype``: values above 17 give 0."""
    import numpy as np  # deferred: the dataset layer is importable without numpy

    lookup = np.zeros(LOOKUP_SIZE, dtype=dtype)
    lookup[: len(IGBP_TO_DFC)] = IGBP_TO_DFC
    return lookup


def igbp_to_dfc(igbp: np.ndarray) -> np.ndarray:
    """Map IGBP values to the simplified scheme; values outside 0-17 become 0."""
    import numpy as np  # deferred: the dataset layer is importable without numpy

    # Clip so a corrupt value above 255 cannot index out of the table.
    return igbp_to_dfc_lookup()[np.minimum(igbp, LOOKUP_SIZE - 1).astype(np.intp)]


def scene_labels(
    lc_or_igbp: np.ndarray, threshold: float = MULTI_LABEL_THRESHOLD
) -> tuple[int, tuple[int, ...]]:
    """Scene-classification labels of one patch in the simplified scheme.

    Following Schmitt & Wu (2021): the single label is the most frequent simplified
    class (ties go to the lower class number); the multi-label holds every class whose
    share of the labelled pixels is at least ``threshold``.  Pixels without a valid
    IGBP value are ignored; a patch with none gives ``(0, ())``.
    """
    igbp = lc_or_igbp[0] if lc_or_igbp.ndim == 3 else lc_or_igbp
    return dfc_scene_labels(igbp_to_dfc(igbp), threshold)


def dfc_scene_labels(dfc: np.ndarray, threshold: float = MULTI_LABEL_THRESHOLD) -> tuple[int, tuple[int, ...]]:
    """:func:`scene_labels` of a mask already in the simplified scheme (a DFC2020 patch's 10 m
    label, say): values outside 1-10 count as unlabelled."""
    import numpy as np  # deferred, as in igbp_to_dfc

    counts = np.bincount(dfc.ravel(), minlength=len(DFC_CLASSES) + 1)[1 : len(DFC_CLASSES) + 1]
    total = counts.sum()
    if total == 0:
        return 0, ()
    single = int(np.argmax(counts)) + 1
    multi = tuple(int(c) + 1 for c in np.flatnonzero(counts / total >= threshold))
    return single, multi
