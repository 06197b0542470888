"""``default_collate`` without its copy, for batches the plugin's dataset read as one.

torch's DataLoader collates a batch by stacking its samples into a new tensor (in a
worker, one in shared memory, which the main process then maps).  The plugin's
``SEN12MS.__getitems__`` already reads a batch's triplets into one tensor per key, in
shared memory in a worker, and returns samples whose tensors are its rows, marked as
:class:`BatchedSample`.  Registered in torch's ``default_collate_fn_map`` (the
extension point torch documents for ``default_collate``; :mod:`.registry` installs it), :func:`collate_batched`
returns that tensor itself when the samples' tensors are still, in order, its rows,
and collates everything else exactly as ``default_collate`` does: the batch has the
same keys, values and dtypes either way, and a transform that replaced a tensor
simply has it copied as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data._utils.collate import collate, default_collate_fn_map


class BatchedSample(dict):
    """A sample read as part of a batch: a plain ``dict`` whose tensors may be rows of
    the batch's tensors (see :func:`collate_batched`)."""


def _dense(tensor: Tensor) -> bool:
    """True when a tensor's elements fill its memory without gaps or overlaps, in any order
    of dimensions (a contiguous tensor, a row of a batch read as the files store it)."""
    expected = 1
    for stride, size in sorted(zip(tensor.stride(), tensor.shape)):
        if size != 1 and stride != expected:
            return False
        expected *= size
    return True


def _rows_of_one_tensor(values: Sequence[Any]) -> Tensor | None:
    """The batch tensor whose consecutive rows ``values`` are, or None.  A row may be laid out
    in any order of its dimensions (``[H, W, C]`` memory of a ``[C, H, W]`` sample stored
    pixel-interleaved), as long as it is dense and every row alike."""
    first = values[0]
    if type(first) is not Tensor or first.layout != torch.strided or first.requires_grad or not _dense(first):
        return None
    pointer, offset, numel, strides = first.untyped_storage().data_ptr(), first.storage_offset(), first.numel(), first.stride()
    for k, value in enumerate(values):
        if (type(value) is not Tensor or value.untyped_storage().data_ptr() != pointer or value.dtype != first.dtype
                or value.shape != first.shape or value.stride() != strides
                or value.storage_offset() != offset + k * numel or value.requires_grad):
            return None
    return first.as_strided((len(values), *first.shape), (numel, *strides), offset)


def collate_batched(
    batch: Sequence[BatchedSample], *, collate_fn_map: dict[type | tuple[type, ...], Callable] | None = None
) -> dict[str, Any]:
    """Collate samples of :class:`BatchedSample` as ``default_collate`` collates dicts, a key
    whose tensors are the consecutive rows of one tensor giving that tensor, uncopied.
    ``collate_fn_map`` is the one the other values are collated with (default: ``default_collate``'s)."""
    if collate_fn_map is None:
        collate_fn_map = default_collate_fn_map
    collated = {}
    for key in batch[0]:
        values = [sample[key] for sample in batch]
        whole = _rows_of_one_tensor(values)
        collated[key] = whole if whole is not None else collate(values, collate_fn_map=collate_fn_map)
    return collated
