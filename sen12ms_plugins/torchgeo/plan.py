"""What the torchgeo dataset reads for a sample, where it puts it, and the arrays it reads into."""

from __future__ import annotations

import ctypes
import math
import mmap
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ..dataset import facts, labels
from ..dataset.ids import PatchId
from ..dataset.splits import DFC2020_SPLITS
from ..reading.buffers import ArrayPool

_DFC_BANDS = list(facts.DFC2020_FORMATS["dfc"].bands)
#: The ``label`` values a DFC2020 split accepts: its mask is the contest's 10 m label.
DFC2020_LABELS = (None, "DFC")
# The dtypes of a sample's image and mask, in numpy's terms (the arrays batches are read into).
_NUMPY_DTYPES = {torch.float32: np.float32, torch.int64: np.int64}


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
        sensor_of = {b: s for s in facts.IMAGE_SENSORS for b in facts.BANDS[s]}
        #: Bands to read per image sensor, in ``image`` order; a sensor none comes from is not read.
        self.reads: dict[str, list[str]] = {}
        positions: dict[str, list[int]] = {}
        for i, band in enumerate(bands):
            self.reads.setdefault(sensor_of[band], []).append(band)
            positions.setdefault(sensor_of[band], []).append(i)
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
    images, masks, and label-file bands when the mask is made from them."""

    image: ArrayPool = field(default_factory=ArrayPool)
    mask: ArrayPool = field(default_factory=ArrayPool)
    layers: ArrayPool = field(default_factory=ArrayPool)


def new_array(pool: ArrayPool | None, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """An array from ``pool``, or a new one without a pool."""
    return np.empty(shape, dtype) if pool is None else pool.get(shape, dtype)


def batch_tensor(pool: ArrayPool | None, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
    """A tensor to read a batch into: in a DataLoader worker a new one in shared memory,
    where ``default_collate`` would put the batch (the main process maps it); in any other
    process one made from the pool's arrays (None: a new array)."""
    if torch.utils.data.get_worker_info() is not None:
        storage = torch.UntypedStorage._new_shared(math.prod(shape) * dtype.itemsize)
        _populate(storage.data_ptr(), storage.nbytes())
        return torch.empty(0, dtype=dtype).set_(storage, 0, shape)
    return torch.from_numpy(new_array(pool, shape, _NUMPY_DTYPES[dtype]))


# madvise(MADV_POPULATE_WRITE), Linux 5.14+: a batch's fresh shared memory mapped in one
# call instead of a page fault every 4 KiB while it is read into (~10% of a worker's time).
_MADV_POPULATE_WRITE = 23
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
if _libc is not None:
    _libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def _populate(address: int, size: int) -> None:
    """Map the pages of ``size`` bytes at ``address`` now, where the system can (a hint: an
    older kernel refuses it, and the pages are then mapped as they are written)."""
    if _libc is None or size == 0:
        return
    start = address - address % mmap.PAGESIZE
    _libc.madvise(start, size + address - start, _MADV_POPULATE_WRITE)


def _as_slice(positions: list[int]) -> slice | list[int]:
    """A run of consecutive positions as a slice (assignment without a gather)."""
    start = positions[0]
    if positions == list(range(start, start + len(positions))):
        return slice(start, start + len(positions))
    return positions
