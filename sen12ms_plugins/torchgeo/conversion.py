"""torchgeo's batch made from a batch as stored (:mod:`.stored`), on the device the batch is on.

:func:`torchgeo_batch` gives what ``default_collate`` of the dataset's own samples gives
(``stored=False``), tensor for tensor, NaN where they hold NaN: ``image`` float32
``[B, C, H, W]`` in ``bands`` order, ``mask`` int64 ``[B, H, W]``, ``label`` for scene
labels, the metadata keys.  Each run of image channels that are consecutive bands of one
file is one copy, which de-interleaves and widens in one pass; the mask is the label layer
widened, or looked up in a table (the IGBP to simplified-class lookup of ``label="DFC"``,
and a mapping such as the datamodule's ``DFC2020_CLASS_MAPPING``, fused into one lookup).

On an accelerator the batch is converted by torch operations on the device, scene labels
counted there.  On the CPU it is converted sample by sample on
:func:`~.threads.reading_threads` threads (:func:`~.threads.run`), with numpy, whose copies
run on the calling thread and release the GIL: torch's own copies would each start a team
of intra-op threads, whose every operation waits for the slowest member, which the loader's
reading threads keep from a core.  Its outputs there are arrays reused once nothing refers
to them (fresh memory costs a page fault every 4 KiB, as much as the conversion itself).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..dataset import labels
from ..errors import SEN12MSError
from ..reading.buffers import ArrayPool
from . import threads
from .stored import FILE_KEYS, StoredSpec, as_numpy

Batch = dict[str, Any]
# Entries of the lookup tables made here: every value of a uint8 label; wider ones are clamped to the last.
_TABLE_SIZE = labels.LOOKUP_SIZE
# Simplified classes a scene label counts (1-10); 0 collects every other value.
_CLASSES = len(labels.DFC_CLASSES)
# Outputs on the CPU, by dtype: a batch's image and mask.  Two of each: the batch a step holds
# and the next one (a step's augmentations make a new image, so the converted one is free again).
_outputs = {np.dtype(np.float32): ArrayPool(keep=2), np.dtype(np.int64): ArrayPool(keep=2)}
_local = threading.local()  # per thread: the lookup indices of one sample


def torchgeo_batch(batch: Batch, device: torch.device | str | None = None, *,
                   mask_mapping: Tensor | None = None) -> Batch:
    """torchgeo's batch of a stored batch, on ``device`` (default: the device the batch is on).

    ``batch`` is a batch of stored samples (``SEN12MS(..., stored=True)`` through a
    ``DataLoader``, or a :class:`~.loader.SEN12MSLoader`), on the CPU or a CUDA device (torch's uint16 support
    elsewhere, MPS among them, is partial); its file tensors
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
    convert = _on_the_cpu if device.type == "cpu" else _with_torch
    converted = convert(files, label_key, spec, mask_mapping, device)
    for key, value in batch.items():
        if key not in FILE_KEYS and key != "stored":
            converted[key] = value.to(device) if isinstance(value, Tensor) else value
    return converted


def _describe(batch: Any) -> str:
    if isinstance(batch, dict):
        return f"a dict with keys {', '.join(map(repr, batch))}"
    return f"a {type(batch).__name__}"


def _layer_index(label_key: str, label: str) -> int:
    """The band of the label file that holds layer ``label`` (a DFC2020 ``dfc`` file has one)."""
    return 0 if label_key == "dfc" else labels.SCHEMES[label][0]


def _mask_table(label_key: str, spec: StoredSpec, mask_mapping: Tensor | None) -> np.ndarray | None:
    """The lookup that makes the mask of the label layer (int64; None: the layer itself): the
    simplified classes of IGBP for ``label="DFC"``, then ``mask_mapping``."""
    table = _IGBP_TO_DFC if label_key == "lc" and spec.label == "DFC" else None
    if mask_mapping is not None:
        mapping = mask_mapping.detach().cpu().numpy().astype(np.int64)
        table = mapping if table is None else mapping[table]
    return table


def _simplified_table(simplified: bool) -> np.ndarray:
    """The simplified class each label value counts for in a scene label (0: none): the value
    itself for a layer in the simplified classes, else its IGBP class mapped."""
    if not simplified:
        return _IGBP_TO_DFC
    table = np.zeros(_TABLE_SIZE, np.int64)
    table[1 : _CLASSES + 1] = np.arange(1, _CLASSES + 1)
    return table


_IGBP_TO_DFC = labels.igbp_to_dfc_lookup(np.int64)


# --- On the CPU: sample by sample, numpy, on several threads ------------------------------------


def _on_the_cpu(files: dict[str, Tensor], label_key: str, spec: StoredSpec, mask_mapping: Tensor | None,
                device: torch.device) -> Batch:
    arrays = {key: as_numpy(tensor) for key, tensor in files.items()}
    labelled = arrays[label_key]
    n, _, height, width = labelled.shape
    image = _outputs[np.dtype(np.float32)].get((n, len(spec.bands), height, width), np.float32)
    mask = _outputs[np.dtype(np.int64)].get((n, height, width), np.int64)
    table = _mask_table(label_key, spec, mask_mapping)
    scene = np.zeros((n, _CLASSES + 1) if spec.scene_label == "multi" else (n,), np.int64)
    threads.run([functools.partial(_convert_sample, arrays, label_key, spec, table, image, mask, scene, k)
                 for k in range(n)], threads.reading_threads())
    converted: Batch = {"image": torch.from_numpy(image), "mask": torch.from_numpy(mask)}
    if spec.scene_label is not None:
        converted["label"] = torch.from_numpy(scene)
    return converted


def _convert_sample(arrays: dict[str, np.ndarray], label_key: str, spec: StoredSpec, table: np.ndarray | None,
                    image: np.ndarray, mask: np.ndarray, scene: np.ndarray, k: int) -> None:
    """Row ``k`` of the image, the mask and the scene labels, from row ``k`` of the stored arrays."""
    for sensor, channel, band, count in spec.copies:
        np.copyto(image[k, channel : channel + count], arrays[sensor][k, band : band + count])
        if sensor == "s1" and spec.s1_nan is not None:  # as the dataset replaces them
            part = image[k, channel : channel + count]
            np.copyto(part, np.float32(spec.s1_nan), where=np.isnan(part))
    layer = arrays[label_key][k, _layer_index(label_key, spec.label)]
    if table is None:
        np.copyto(mask[k], layer)
    else:
        np.take(table, _indices(layer, len(table)), out=mask[k], mode="clip")
    if spec.scene_label is not None:
        counted = arrays[label_key][k, _layer_index(label_key, "IGBP")]  # the 10 m label, or IGBP
        simplified = counted if label_key == "dfc" else labels.igbp_to_dfc(counted)
        single, multi = labels.dfc_scene_labels(simplified, spec.multi_label_threshold)
        if spec.scene_label == "single":
            scene[k] = single
        else:
            scene[k, list(multi)] = 1


def _indices(layer: np.ndarray, entries: int) -> np.ndarray:
    """``layer`` as lookup indices into a table of ``entries`` (in a buffer of this thread's: numpy
    would make a fresh one, page faults included): an IndexError, as ``torch.take``'s, for a value
    beyond a table shorter than :data:`_TABLE_SIZE`; the longer ones clamp (``labels.igbp_to_dfc``)."""
    indices = getattr(_local, "indices", None)
    if indices is None or indices.shape != layer.shape:
        indices = _local.indices = np.empty(layer.shape, np.intp)
    np.copyto(indices, layer)
    if entries < _TABLE_SIZE:
        largest = int(indices.max())
        if largest >= entries:
            raise IndexError(f"out of range: tried to access index {largest} on a tensor of {entries} elements.")
    return indices


# --- On an accelerator: torch operations over the whole batch -----------------------------------


def _with_torch(files: dict[str, Tensor], label_key: str, spec: StoredSpec, mask_mapping: Tensor | None,
                device: torch.device) -> Batch:
    labelled = files[label_key]
    n, _, height, width = labelled.shape
    image = torch.empty((n, len(spec.bands), height, width), dtype=torch.float32, device=device)
    for sensor, channel, band, count in spec.copies:
        image[:, channel : channel + count].copy_(files[sensor][:, band : band + count])
        if sensor == "s1" and spec.s1_nan is not None:
            part = image[:, channel : channel + count]
            part.masked_fill_(part.isnan(), spec.s1_nan)
    layer = labelled[:, _layer_index(label_key, spec.label)]
    table = _mask_table(label_key, spec, mask_mapping)
    converted: Batch = {"image": image, "mask": _lookup(layer, table, device)}
    if spec.scene_label is not None:
        counted = labelled[:, _layer_index(label_key, "IGBP")]  # the 10 m label, or IGBP
        classes = _on_device(_simplified_table(label_key == "dfc"), device)
        converted["label"] = _scene_labels(counted, classes, spec, device)
    return converted


def _device_indices(layer: Tensor, entries: int) -> Tensor:
    """``layer``'s values as int32 lookup indices, clamped to the last entry of a table of
    :data:`_TABLE_SIZE` (a shorter table raises IndexError for values beyond it)."""
    indices = layer.to(torch.int32)
    return indices.clamp_(max=_TABLE_SIZE - 1) if entries == _TABLE_SIZE else indices


def _lookup(layer: Tensor, table: np.ndarray | None, device: torch.device) -> Tensor:
    """The mask: ``layer`` (uint8 or uint16 ``[B, H, W]``) as int64, looked up in ``table`` if any."""
    if table is None:
        return layer.to(torch.int64)
    indices = _device_indices(layer, len(table))
    # index_select of int32 indices: torch.take's result on a 1-D table, in a fifth of its time.
    return torch.index_select(_on_device(table, device), 0, indices.view(-1)).view(layer.shape)


def _on_device(table: np.ndarray, device: torch.device) -> Tensor:
    """A lookup table (int64) on ``device``, copied there once."""
    return _table_on(table.tobytes(), device)


@functools.lru_cache(maxsize=32)
def _table_on(table: bytes, device: torch.device) -> Tensor:
    return torch.frombuffer(bytearray(table), dtype=torch.int64).to(device)


def _scene_labels(layer: Tensor, classes: Tensor, spec: StoredSpec, device: torch.device) -> Tensor:
    """Scene labels of each sample, as :func:`~sen12ms_plugins.dataset.labels.dfc_scene_labels`
    counts them: ``single`` the most frequent class (the lowest of equals; 0 with no labelled
    pixel), ``multi`` the int64 multi-hot ``[B, 11]`` of classes covering at least the threshold."""
    n = layer.shape[0]
    values = _device_indices(layer, _TABLE_SIZE).view(n, -1)
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
