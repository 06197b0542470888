"""What the torchgeo dataset reads for a sample, where it puts it, and the arrays it reads into."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..dataset import facts, labels
from ..dataset.ids import PatchId
from ..dataset.splits import DFC2020_SPLITS
from ..reading.buffers import ArrayPool
from ..reading.fastread import StoredFormat

_DFC_BANDS = list(facts.DFC2020_FORMATS["dfc"].bands)
#: The ``label`` values a DFC2020 split accepts: its mask is the contest's 10 m label.
DFC2020_LABELS = (None, "DFC")


def resolve_label(split: str, label: str | None) -> str:
    """The ``mask`` layer for ``split`` (``label`` resolved: None is IGBP, or DFC for a DFC2020
    split); ValueError for a layer that is unknown, or makes no sense for a DFC2020 split."""
    if label is not None and label not in labels.SCHEMES:
        raise ValueError(f"unknown label layer {label!r}; expected one of {', '.join(labels.SCHEMES)}")
    if split not in DFC2020_SPLITS:
        return label or "IGBP"
    if label not in DFC2020_LABELS:
        raise ValueError(
            f"label={label!r} makes no sense for split {split!r}: its mask is the contest's hand-made 10 m label, "
            f"in the simplified classes 1-10 (label='DFC', or no label); {label} is a 500 m MODIS layer of its lc "
            "file, which the DFC2020 splits do not label their patches with (TFDS and Hugging Face carry it, in "
            "the igbp and lc fields)")
    return "DFC"


class ReadPlan:
    """Which bands to read from which file, and where they go in ``image`` and ``mask``.

    The mask comes from a SEN12MS triplet's ``lc`` file (the label's layer) or from a
    DFC2020 patch's ``dfc`` file (its 10 m label, already in the simplified classes).
    Scene labels are counted on the simplified classes: IGBP mapped for SEN12MS, the
    ``dfc`` label itself for DFC2020.
    """

    def __init__(self, bands: Sequence[str], label: str, scene_label: str | None):
        #: Bands to read per image sensor, in ``image`` order; a sensor none comes from is not read.
        self.reads: dict[str, list[str]] = {}
        positions: dict[str, list[int]] = {}
        for i, band in enumerate(bands):
            self.reads.setdefault(facts.SENSOR_OF_BAND[band], []).append(band)
            positions.setdefault(facts.SENSOR_OF_BAND[band], []).append(i)
        #: Where each sensor's bands go in ``image``: a slice when they are consecutive.
        self.targets: dict[str, slice | list[int]] = {s: _as_slice(p) for s, p in positions.items()}
        self.label = label
        layer = facts.BANDS["lc"][labels.SCHEMES[label][0]]
        #: The lc bands read: the label's layer, then IGBP when scene labels need it too.
        self.lc_bands = [layer] if layer == "IGBP" or scene_label is None else [layer, "IGBP"]

    def label_file(self, pid: PatchId) -> tuple[str, list[str]]:
        """The file the mask comes from and its bands read: a DFC2020 patch's ``dfc`` (all of
        its bands: the one label), else ``lc`` (:attr:`lc_bands`)."""
        return ("dfc", _DFC_BANDS) if pid.is_dfc2020 else ("lc", self.lc_bands)

    def label_band_count(self, pid: PatchId) -> int:
        """How many bands :meth:`label_file` reads."""
        return len(self.label_file(pid)[1])

    def mask_is_band(self, pid: PatchId) -> bool:
        """Whether the mask is the label file's one band read, as stored (read straight into the mask)."""
        return pid.is_dfc2020 or (len(self.lc_bands) == 1 and self.label != "DFC")

    def mask_of(self, pid: PatchId, layers: np.ndarray) -> np.ndarray:
        """The mask (int64 [H, W]) of the label file's bands read ([bands, H, W], int64)."""
        if not pid.is_dfc2020 and self.label == "DFC":
            return labels.igbp_to_dfc(layers[0]).astype(np.int64)
        return layers[0]

    def scene_layer(self, pid: PatchId, layers: np.ndarray) -> np.ndarray:
        """The layer in the simplified classes that scene labels are counted on."""
        return layers[0] if pid.is_dfc2020 else labels.igbp_to_dfc(layers[-1])


@dataclass
class Pools:
    """Arrays read into, reused once nothing made from them is alive (:class:`ArrayPool`):
    images, masks, label-file bands when the mask is made from them, and the files' samples
    as stored, one pool per sensor, with the format of each sensor's files (``stored=True``)."""

    image: ArrayPool = field(default_factory=ArrayPool)
    mask: ArrayPool = field(default_factory=ArrayPool)
    layers: ArrayPool = field(default_factory=ArrayPool)
    stored: dict[str, ArrayPool] = field(default_factory=dict)
    formats: dict[str, StoredFormat] = field(default_factory=dict)


def _as_slice(positions: list[int]) -> slice | list[int]:
    """A run of consecutive positions as a slice (assignment without a gather)."""
    start = positions[0]
    if positions == list(range(start, start + len(positions))):
        return slice(start, start + len(positions))
    return positions
