"""torchgeo's batch made from a batch as stored (:mod:`.stored`), on the device the batch is on.

:func:`torchgeo_batch` gives what ``default_collate`` of the dataset's own samples gives
(``stored=False``), tensor for tensor, NaN where they hold NaN: ``image`` float32
``[B, C, H, W]`` in ``bands`` order, ``mask`` int64 ``[B, H, W]``, ``label`` for scene
labels, the metadata keys.  Each run of image channels that are consecutive bands of one
file is one copy on the device, which de-interleaves and widens in one pass; the mask is
the label layer widened, or looked up in a table on the device (the IGBP to simplified-class
lookup of ``label="DFC"``, and a mapping such as the datamodule's ``DFC2020_CLASS_MAPPING``,
fused into one lookup); scene labels are counted on the device.

On the CPU the outputs are arrays reused once nothing refers to them (fresh memory costs a
page fault every 4 KiB, as much as the conversion itself); on an accelerator, torch's
caching allocator already reuses memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..dataset import labels
from ..errors import SEN12MSError
from ..reading.buffers import ArrayPool
from .stored import FILE_KEYS, StoredSpec

Batch = dict[str, Any]
# Entries of the lookup tables made here: every value of a uint8 label, and the clamp of wider ones.
_TABLE_SIZE = 256
# Simplified classes a scene label counts (1-10); 0 collects every other value.
_CLASSES = len(labels.DFC_CLASSES)
_NUMPY = {torch.float32: np.float32, torch.int64: np.int64, torch.int32: np.int32}
# Outputs on the CPU, by dtype: a batch's image, mask and label scratch.
_outputs = {dtype: ArrayPool(keep=4) for dtype in _NUMPY}


def torchgeo_batch(batch: Batch, device: torch.device | str | None = None, *,
                   mask_mapping: Tensor | None = None) -> Batch:
    """torchgeo's batch of a stored batch, on ``device`` (default: the device the batch is on).

    ``batch`` is a batch of stored samples (``SEN12MS(..., stored=True)`` through a
    ``DataLoader``, or a :class:`~.loader.SEN12MSLoader`), on any device; its file tensors
    are moved to ``device`` first (without blocking when they are in pinned memory).
    ``mask_mapping``, a 1-D integer table, maps the mask as ``torch.take(mask_mapping, mask)``
    does, in the same lookup (``SEN12MSDataModule`` passes its ``DFC2020_CLASS_MAPPING`` for
    IGBP masks); a mask value outside the table raises IndexError, as ``torch.take`` does.

    Raises :class:`~sen12ms_plugins.errors.SEN12MSError` for a batch that is not one of stored
    samples.
    """
    spec = batch.get("stored") if isinstance(batch, dict) else None
    if not isinstance(spec, StoredSpec):
        raise SEN12MSError("torchgeo_batch takes a batch of stored samples (SEN12MS(..., stored=True)), "
                           f"which has a 'stored' entry; got {_describe(batch)}")
    label_key = "dfc" if "dfc" in batch else "lc"
    device = batch[label_key].device if device is None else torch.device(device)
    files = {key: batch[key].to(device, non_blocking=True) for key in FILE_KEYS if key in batch}
    labelled = files[label_key]
    n, _, height, width = labelled.shape

    image = _empty((n, len(spec.bands), height, width), torch.float32, device)
    for sensor, channel, band, count in spec.copies:
        image[:, channel : channel + count].copy_(files[sensor][:, band : band + count])
    if spec.s1_nan is not None:
        for sensor, channel, _, count in spec.copies:
            if sensor == "s1":
                part = image[:, channel : channel + count]
                part.masked_fill_(part.isnan(), spec.s1_nan)

    layer = labelled[:, 0] if label_key == "dfc" else labelled[:, labels.SCHEMES[spec.label][0]]
    table = _igbp_to_dfc(device) if label_key == "lc" and spec.label == "DFC" else None
    if mask_mapping is not None:
        mapping = mask_mapping.to(device)
        table = mapping if table is None else mapping[table]
    converted: Batch = {"image": image, "mask": _lookup(layer, table, device)}
    if spec.scene_label is not None:
        classes = _scene_table(device, simplified=label_key == "dfc")
        source = layer if label_key == "dfc" else labelled[:, 0]  # IGBP: the simplified classes are counted
        converted["label"] = _scene_labels(source, classes, spec, device)
    for key, value in batch.items():
        if key not in FILE_KEYS and key != "stored":
            converted[key] = value.to(device) if isinstance(value, Tensor) else value
    return converted


def _describe(batch: Any) -> str:
    if isinstance(batch, dict):
        return f"a dict with keys {', '.join(map(repr, batch))}"
    return f"a {type(batch).__name__}"


def _empty(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Tensor:
    """A tensor with undefined contents: on the CPU an array reused once nothing refers to it."""
    if device.type == "cpu":
        return torch.from_numpy(_outputs[dtype].get(shape, _NUMPY[dtype]))
    return torch.empty(shape, dtype=dtype, device=device)


def _indices(layer: Tensor, device: torch.device, clamp: bool) -> Tensor:
    """``layer``'s values as int32 lookup indices (those above the tables' last entry clamped to it)."""
    indices = _empty(tuple(layer.shape), torch.int32, device)
    indices.copy_(layer)
    if clamp and layer.dtype != torch.uint8:
        indices.clamp_(max=_TABLE_SIZE - 1)
    return indices


def _lookup(layer: Tensor, table: Tensor | None, device: torch.device) -> Tensor:
    """The mask: ``layer`` (uint8 or uint16 ``[B, H, W]``) as int64, looked up in ``table`` if any."""
    mask = _empty(tuple(layer.shape), torch.int64, device)
    if table is None:
        return mask.copy_(layer)
    indices = _indices(layer, device, clamp=len(table) == _TABLE_SIZE)
    # index_select of int32 indices: torch.take's result on a 1-D table, in a fifth of its time.
    torch.index_select(table, 0, indices.view(-1), out=mask.view(-1))
    return mask


def _igbp_to_dfc(device: torch.device) -> Tensor:
    """IGBP to the simplified classes, as :func:`~sen12ms_plugins.dataset.labels.igbp_to_dfc`
    (values above 17 give 0; those above 255 are clamped to 255 first)."""
    table = torch.zeros(_TABLE_SIZE, dtype=torch.int64)
    table[: len(labels.IGBP_TO_DFC)] = torch.tensor(labels.IGBP_TO_DFC)
    return table.to(device)


def _scene_table(device: torch.device, simplified: bool) -> Tensor:
    """The simplified class each label value counts for in a scene label (0: none): the value
    itself for a layer in the simplified classes, else its IGBP class mapped."""
    if not simplified:
        return _igbp_to_dfc(device)
    table = torch.zeros(_TABLE_SIZE, dtype=torch.int64)
    table[1 : _CLASSES + 1] = torch.arange(1, _CLASSES + 1)
    return table.to(device)


def _scene_labels(layer: Tensor, classes: Tensor, spec: StoredSpec, device: torch.device) -> Tensor:
    """Scene labels of each sample, as :func:`~sen12ms_plugins.dataset.labels.dfc_scene_labels`
    counts them: ``single`` the most frequent class (the lowest of equals; 0 with no labelled
    pixel), ``multi`` the int64 multi-hot ``[B, 11]`` of classes covering at least the threshold."""
    n = layer.shape[0]
    values = _indices(layer, device, clamp=True).view(n, -1)
    offsets = torch.arange(n, device=device, dtype=torch.int32).unsqueeze(1) * _TABLE_SIZE
    per_value = torch.bincount((values + offsets).view(-1), minlength=n * _TABLE_SIZE).view(n, _TABLE_SIZE)
    counts = torch.zeros(n, _CLASSES + 1, dtype=torch.int64, device=device).index_add_(1, classes, per_value)[:, 1:]
    total = counts.sum(1)
    if spec.scene_label == "single":
        return torch.where(total > 0, counts.argmax(1) + 1, 0)
    # float64 shares, as numpy divides the counts (MPS has no float64: counted there on the CPU).
    where = device if device.type != "mps" else torch.device("cpu")
    shares = counts.to(where, torch.float64) / total.to(where, torch.float64).unsqueeze(1)
    hot = torch.zeros(n, _CLASSES + 1, dtype=torch.int64, device=where)
    hot[:, 1:] = shares >= spec.multi_label_threshold  # a patch without labelled pixels: NaN, never set
    return hot.to(device)
