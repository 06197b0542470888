"""One example (a patch triplet) as every ecosystem adapter presents it: the fields and how they are read.

=============  ==========================  ==================================================
field          type                        meaning
=============  ==========================  ==================================================
``id``         str                         canonical patch id, ``ROIs1158_spring_124_p100``
``season``     int                         season class: :data:`SEASON_NAMES` [k]; -1 unknown
``scene``      int                         scene (ROI) number
``patch``      int                         patch number within the scene
``lon``        float                       longitude of the patch centre (WGS 84)
``lat``        float                       latitude of the patch centre (WGS 84)
``s1``         float32 [2, H, W]           Sentinel-1 VV, VH in dB (NaN where missing)
``s2``         uint16 [13, H, W]           Sentinel-2 B01 … B12, TOA reflectance x10000
``lc``         uint16 [4, H, W]            IGBP, LCCS land cover, land use, hydrology
``igbp``       uint16 [H, W]               IGBP mask (band 1 of ``lc``), 1-17
``dfc``        uint8 [H, W]                simplified (DFC2020) mask, 1-10, 0 = no data
``label``      int                         scene label: most frequent ``dfc`` class (0 = none)
``labels``     bool [11]                   multi-hot: entry k set when ``dfc`` class k covers >= 10 %
=============  ==========================  ==================================================

Only the image arrays of the chosen configuration (:mod:`sen12ms_plugins.reading.configs`)
are present; the other fields are in every example.  Arrays have one dtype per sensor
whatever the file holds (``facts.DTYPES``: an 8-bit land-cover file gives uint16) and keep the files'
band order.  ``label`` and ``labels`` follow Schmitt & Wu (2021); their class
numbers are those of ``dfc``, so :data:`SCENE_LABEL_NAMES` [k] names class k, and ``labels`` [k]
says whether class k is in the patch (entry 0, "No data", is never set; the layout of torchgeo's
``scene_label="multi"``).  Every field has one shape whatever the patch, so examples batch as
they are (``tf.data``'s ``batch``, torch's ``default_collate``).

``season`` is a class number, not a name, in every ecosystem: TFDS's and ``datasets``'
``ClassLabel`` with the names :data:`SEASON_NAMES` in that order, so ``season`` k is the same
season everywhere and batches as an integer; -1 (:data:`NO_SEASON`, ``ClassLabel``'s "no
label") where the season is unknown.

A DFC2020 patch (splits ``dfc2020_validation``, ``dfc2020_test``; ids ``ROIs0000_…``) has the
same fields, with these values: ``dfc`` is the contest's hand-made 10 m label (its ``dfc``
file), not derived from IGBP, and ``label``/``labels`` are computed from it; ``igbp`` and
``lc`` are its MODIS layers (its ``lc`` file, 500 m, as in SEN12MS); ``season`` is
:data:`NO_SEASON` (``facts.UNKNOWN_SEASON``), ``scene`` 0, and ``lon``/``lat`` NaN unless its file holds a usable georeference
(the released files are reported stripped).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Final

import numpy as np

from ..dataset import facts, labels
from ..dataset.ids import PatchId
from ..dataset.index import Index
from .configs import DatasetConfig
from .reader import georeference, read_triplet

#: Names of the scene-label classes, indexed by class number (0 = no labelled pixel); also the
#: length of the multi-hot ``labels``.
SCENE_LABEL_NAMES: Final = ("No data", *labels.DFC_CLASSES.values())
#: Names of the season classes, indexed by class number: ``season`` k is ``SEASON_NAMES[k]``.
SEASON_NAMES: Final = tuple(facts.SEASON_SHORT[folder] for folder in facts.SEASONS)
#: The season class of a patch whose season is unknown (DFC2020): ``ClassLabel``'s "no label".
NO_SEASON: Final = -1
#: The fields every example has besides its configuration's image arrays, in order.
METADATA_FIELDS: Final = ("id", "season", "scene", "patch", "lon", "lat")
LABEL_FIELDS: Final = ("igbp", "dfc", "label", "labels")
#: dtype of the label masks: ``igbp`` is a band of the ``lc`` file, ``dfc`` fits a byte.
MASK_DTYPES: Final = {"igbp": facts.DTYPES["lc"], "dfc": "uint8"}
#: Data types of the numeric metadata fields (``id`` is a string, ``season`` a class).
METADATA_DTYPES: Final = {"scene": "int32", "patch": "int32", "lon": "float64", "lat": "float64"}


def read_example(root: str | os.PathLike[str], pid: PatchId, config: DatasetConfig) -> dict[str, Any]:
    """Read one triplet as an example of ``config`` (fields as in this module's docstring).

    Raises :class:`~sen12ms_plugins.errors.PatchFileError` naming the file when a
    file is missing, unreadable or not shaped like its sensor's patches.
    """
    wanted = config.read_bands()
    if pid.is_dfc2020:
        wanted["dfc"] = None
    arrays = read_triplet(root, pid, wanted)
    dfc, single, multi = label_fields(pid, arrays)
    geo = georeference(root, pid)
    example: dict[str, Any] = {
        "id": pid.name,
        "season": season_class(pid.season),
        "scene": pid.scene,
        "patch": pid.patch,
        "lon": geo.center_lon,
        "lat": geo.center_lat,
    }
    for sensor in config.sensors:
        example[sensor] = arrays[sensor]
    example["igbp"] = arrays["lc"][0]  # IGBP is band 1 whether lc was read whole or alone
    example["dfc"] = dfc
    example["label"] = single
    example["labels"] = multi
    return example


def label_fields(pid: PatchId, arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, int, np.ndarray]:
    """``dfc``, ``label`` and ``labels`` of a patch from its files' arrays (``lc``; and ``dfc``
    for a DFC2020 patch, whose 10 m label it is)."""
    dfc = arrays["dfc"][0] if pid.is_dfc2020 else labels.igbp_to_dfc(arrays["lc"][0])
    single, multi = labels.dfc_scene_labels(dfc)
    return dfc, single, multi_hot(multi)


def season_class(folder: str) -> int:
    """The ``season`` of a patch in top folder ``folder``: its index in :data:`SEASON_NAMES`,
    :data:`NO_SEASON` for DFC2020's folders."""
    name = facts.season_name(folder)
    return NO_SEASON if name == facts.UNKNOWN_SEASON else SEASON_NAMES.index(name)


def multi_hot(classes: Iterable[int]) -> np.ndarray:
    """``labels`` of a patch holding the scene-label ``classes``: bool [len(SCENE_LABEL_NAMES)],
    entry k True for class k."""
    hot = np.zeros(len(SCENE_LABEL_NAMES), dtype=np.bool_)
    hot[list(classes)] = True
    return hot


def patch_size_of(root: str | os.PathLike[str], index: Index) -> int:
    """Pixels a side of the root's patches (read from the first triplet's header, else the first
    DFC2020 patch's); the real size when the root holds neither."""
    first = next(iter(index.triplets or index.dfc2020), None)
    if first is None:
        return facts.PATCH_SIZE
    return georeference(root, first).width
