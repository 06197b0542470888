"""Samples and batches as the files store them (``SEN12MS(..., stored=True)``).

A stored sample holds one tensor per file the sample needs, with the file's samples as
they lie in it: no conversion to float32, no de-interleaving.  Logically each is
``[C, H, W]`` (batched: ``[B, C, H, W]``) in the file's band order, with all of its bands,
in the file's dtype:

* ``s1``: float32, VV and VH, when ``bands`` has one of them;
* ``s2``: uint16, the 13 bands, when ``bands`` has one of them;
* ``lc``: uint8 or uint16 as the files hold it, the 4 land-cover layers (SEN12MS);
* ``dfc``: uint8, the 10 m label (DFC2020 patches, instead of ``lc``);

plus ``stored``, the :class:`StoredSpec` saying what torchgeo's sample is made of (bands,
label layer, scene labels, ``s1_nan``), and the metadata keys when ``metadata=True``.  A
pixel-interleaved file (SEN12MS's) gives a tensor whose memory is ``[H, W, C]``
(``torch.channels_last`` strides once batched), a band-interleaved one a contiguous tensor.
:func:`~.conversion.torchgeo_batch` makes torchgeo's batch of a batch of them, on the CPU or a CUDA device.

Files are read by :func:`~..reading.fastread.read_as_stored` straight into the batch's
memory (:mod:`.memory`) when they have the batch's format, learnt from the first patch read:
one read per file.  Any other file (another interleaving or dtype, compressed, damaged,
missing) is read by :func:`~..reading.reader.read_file`, which converts it into the batch's
format or raises the error ``ds[i]`` raises for it.  DFC2020's wider file dtypes (s1
float64, dfc int32) are narrowed that way, each value checked.  A land-cover file with
values that the batch's dtype (learnt uint8) cannot hold widens the batch to uint16.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..dataset import facts
from ..dataset.ids import PatchId
from ..errors import PatchFileError, UnsupportedLayoutError
from ..reading.buffers import ArrayPool
from ..reading.fastread import Interleave, StoredFormat, read_as_stored, read_layout
from ..reading.reader import check_size, read_file
from . import threads
from .collate import BatchedSample
from .memory import TORCH_DTYPES, batch_tensor
from .plan import Pools

Sample = dict[str, Any]
#: The plugin's ``SEN12MS`` (not imported: its module imports this one).
SEN12MS = Any
#: The keys of a stored sample that hold files' samples: every file a patch can have.
FILE_KEYS = facts.DFC2020_SENSORS


class StoredSpec:
    """What torchgeo's sample is made of, carried by stored samples and batches (``"stored"``).

    A plain class, compared by value: Lightning moves a batch to its device through
    ``apply_to_collection``, which leaves such an object alone (it refuses frozen
    dataclasses), and ``default_collate`` collates the specs of a batch into the one they
    share (:func:`collate_specs`, installed by :mod:`.registry`).
    """

    def __init__(self, bands: Sequence[str], label: str, scene_label: str | None,
                 multi_label_threshold: float, s1_nan: float | None):
        #: The image's bands, in order.
        self.bands = tuple(bands)
        #: The mask's layer (resolved: ``"IGBP"``, ``"DFC"`` or an LCCS layer).
        self.label = label
        #: None, ``"single"`` or ``"multi"``.
        self.scene_label = scene_label
        self.multi_label_threshold = multi_label_threshold
        #: The value NaN in the S1 bands becomes (None: kept).
        self.s1_nan = s1_nan

    def _key(self) -> tuple[Any, ...]:
        return self.bands, self.label, self.scene_label, self.multi_label_threshold, self.s1_nan

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoredSpec) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"StoredSpec(bands={self.bands!r}, label={self.label!r}, scene_label={self.scene_label!r}, "
                f"multi_label_threshold={self.multi_label_threshold!r}, s1_nan={self.s1_nan!r})")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), self._key()

    @functools.cached_property
    def copies(self) -> tuple[tuple[str, int, int, int], ...]:
        """``(sensor, first image channel, first file band, count)`` of each run of image
        channels that are consecutive bands of one file: one copy each makes the image."""
        runs: list[list[Any]] = []
        for channel, band in enumerate(self.bands):
            sensor = facts.SENSOR_OF_BAND[band]
            index = facts.BANDS[sensor].index(band)
            if runs and runs[-1][0] == sensor and runs[-1][2] + runs[-1][3] == index:
                runs[-1][3] += 1
            else:
                runs.append([sensor, channel, index, 1])
        return tuple(tuple(run) for run in runs)

    @functools.cached_property
    def sensors(self) -> tuple[str, ...]:
        """The image sensors the bands come from, in ``s1``, ``s2`` order."""
        used = {sensor for sensor, *_ in self.copies}
        return tuple(s for s in facts.IMAGE_SENSORS if s in used)


def spec_of(dataset: SEN12MS) -> StoredSpec:
    """The :class:`StoredSpec` of a dataset's samples (one object for every sample alike)."""
    return _spec(tuple(dataset.bands), dataset.label, dataset.scene_label, dataset.multi_label_threshold,
                 dataset.s1_nan)


@functools.lru_cache(maxsize=64)
def _spec(*key: Any) -> StoredSpec:
    return StoredSpec(*key)


def collate_specs(batch: Sequence[StoredSpec], *,
                  collate_fn_map: dict[type | tuple[type, ...], Callable] | None = None) -> StoredSpec:
    """The spec the samples of a batch share (``default_collate``'s entry for :class:`StoredSpec`)."""
    first = batch[0]
    if any(spec != first for spec in batch):
        raise ValueError(f"samples stored for different torchgeo samples cannot make one batch: {first} and "
                         f"{next(spec for spec in batch if spec != first)}")
    return first


def read_stored(dataset: SEN12MS, pids: Sequence[PatchId], pools: Pools) -> dict[str, Tensor]:
    """The files of ``pids`` as stored: ``{key: [len(pids), C, H, W]}`` for the image sensors
    the dataset's bands need and the label file, read into ``pools``' arrays (or, per
    :mod:`.memory`, shared or pinned memory), by :func:`.threads.reading_threads` threads."""
    label_sensor = dataset._plan.label_file(pids[0])[0]
    keys = (*spec_of(dataset).sensors, label_sensor)
    formats = pools.formats or _learn_formats(dataset, pids[0], keys, pools)
    order = sorted(range(len(pids)), key=lambda k: pids[k].filename("s2"))  # neighbours on disk together
    while True:
        memory = {key: batch_tensor(pools.stored.setdefault(key, ArrayPool()), (len(pids), *formats[key].shape),
                                    TORCH_DTYPES[formats[key].dtype]) for key in keys}
        slots = {key: as_numpy(tensor) for key, tensor in memory.items()}
        wider: set[str] = set()  # sensors with a file whose values the batch's dtype cannot hold
        threads.run([functools.partial(_read_patch, dataset.root, pids[k],
                                       {key: (formats[key], slots[key][k]) for key in keys}, wider) for k in order],
                    threads.reading_threads())
        if not wider:
            return {key: _logical(tensor, formats[key]) for key, tensor in memory.items()}
        formats = {**formats, **{key: replace(formats[key], dtype=_returned_dtype(pids[0], key)) for key in wider}}
        pools.formats = formats  # read again, in the dtype the reader returns for every file of the sensor


def stored_samples(dataset: SEN12MS, indices: Sequence[int]) -> list[Sample]:
    """Stored samples of ``indices``, read as one batch whose rows they are (``__getitems__``)."""
    pids = [dataset.patch_ids[i] for i in indices]
    if not pids:
        return []
    files = read_stored(dataset, pids, dataset._pools)  # a patch of another size than the first: an error naming it
    return [_sample(BatchedSample(), dataset, pid, {key: tensor[k] for key, tensor in files.items()})
            for k, pid in enumerate(pids)]


def stored_sample(dataset: SEN12MS, index: int) -> Sample:
    """The stored sample at ``index`` (``ds[index]``)."""
    pid = dataset.patch_ids[index]
    try:
        files = read_stored(dataset, [pid], dataset._sample_pools)
    except PatchFileError:
        learnt = dataset._sample_pools.formats
        shape = dataset._label_shape(pid)  # raises the label file's own error
        if not learnt or all((fmt.height, fmt.width) == shape for fmt in learnt.values()):
            raise
        # A patch of another size than the one the formats were learnt from: its own formats,
        # so that ds[i] never depends on which patch was read first.
        files = read_stored(dataset, [pid], Pools())
    return _sample({}, dataset, pid, {key: tensor[0] for key, tensor in files.items()})


def _sample(sample: Sample, dataset: SEN12MS, pid: PatchId, files: dict[str, Tensor]) -> Sample:
    sample.update(files)
    if dataset.metadata:
        sample.update(dataset._metadata(pid))
    sample["stored"] = spec_of(dataset)
    return sample


def as_numpy(tensor: Tensor) -> np.ndarray:
    """The array a CPU tensor's memory is, strides included (uint16 through int16, which every
    torch version turns into numpy)."""
    if tensor.dtype == torch.uint16:
        return tensor.view(torch.int16).numpy().view(np.uint16)
    return tensor.numpy()


def _logical(physical: Tensor, fmt: StoredFormat) -> Tensor:
    """``[N, C, H, W]`` of a batch's samples in a file's order (``[N, H, W, C]`` when pixel-interleaved)."""
    return physical.permute(0, 3, 1, 2) if fmt.interleave == Interleave.PIXEL else physical


def _returned_dtype(pid: PatchId, sensor: str) -> np.dtype:
    return np.dtype(facts.formats_of(pid.season)[sensor].dtype)


def _learn_formats(dataset: SEN12MS, pid: PatchId, keys: Sequence[str], pools: Pools) -> dict[str, StoredFormat]:
    """The format each key's files are stored in, learnt from ``pid``'s files and kept in ``pools``
    (whole: other threads reading batches meanwhile see the formats they learnt themselves, or these).

    The size is the label file's (a patch of another size is read with formats of its own,
    :func:`stored_sample`).  A file
    the fast reader reads, of a dtype the reader returns without narrowing (uint8 land cover
    among them), gives its own format; any other gives the reader's dtype, band-interleaved,
    which its files are then converted to.
    """
    height, width = dataset._label_shape(pid)  # the label file's own error when it cannot be read
    collection = facts.formats_of(pid.season)
    formats = {}
    for key in keys:
        sensor_format = collection[key]
        fallback = StoredFormat(np.dtype(sensor_format.dtype), len(sensor_format.bands), Interleave.BAND, height, width)
        try:
            found = StoredFormat.of(read_layout(pid.path(dataset.root, key)))
        except (UnsupportedLayoutError, OSError):
            found = fallback
        usable = (found.dtype.name in sensor_format.file_dtypes and found.count == fallback.count
                  and (found.height, found.width) == (height, width)
                  and np.can_cast(found.dtype, sensor_format.dtype, "safe"))
        formats[key] = found if usable else fallback
    pools.formats = formats
    return formats


def _read_patch(root: str | os.PathLike[str], pid: PatchId, files: dict[str, tuple[StoredFormat, np.ndarray]],
                wider: set[str]) -> None:
    """Read each of a patch's files into its slot (``{key: (format, slot)}``); the key of a file
    with values its slot's dtype cannot hold goes into ``wider`` instead."""
    collection = facts.formats_of(pid.season)
    for key, (fmt, slot) in files.items():
        path = os.path.join(root, pid.relpath(key))
        if read_as_stored(path, slot, fmt):
            continue
        # Another layout or dtype, or a bad file: the reader converts it, or raises what ds[i] raises.
        view = slot.transpose(2, 0, 1) if fmt.interleave == Interleave.PIXEL else slot
        if np.can_cast(collection[key].dtype, fmt.dtype, "safe"):
            read_file(path, key, out=view, formats=collection)
            continue
        array = read_file(path, key, formats=collection)  # a narrower batch (uint8 land cover): values checked
        check_size(path, array.shape[2], array.shape[1], view)
        info = np.iinfo(fmt.dtype)
        if array.size and (int(array.min()) < info.min or int(array.max()) > info.max):
            wider.add(key)
            continue
        np.copyto(view, array, casting="unsafe")  # exact: every value fits


def stored_twin(dataset: SEN12MS) -> SEN12MS:
    """The same dataset giving stored samples: the same members and options, arrays of its own."""
    twin = type(dataset).__new__(type(dataset))
    twin.__setstate__(dataset.__getstate__())
    twin.stored = True
    return twin

