"""A split of the ``datasets`` builder for torch, every array in its stored dtype (uint16 stays uint16).

``ds.with_format("torch")`` widens every integer array to int64 (``datasets``' torch
formatter): a Sentinel-2 batch then takes four times the memory, and four times the
bandwidth to the device, and is made value by value.  :class:`TorchSplit` reads batches
through Arrow instead: one gather per column, straight from the (memory-mapped) cache files
into one tensor per column, so ``s2`` arrives as ``torch.uint16``, ``s1`` as
``torch.float32``, ``labels`` as ``torch.bool`` ``[batch, 11]``; convert on the device
(``batch["s2"].to(device).float()``).  Every tensor owns its memory (writable, nothing
shared with the cache).

* ``DataLoader(TorchSplit(ds), batch_size=16, shuffle=True, num_workers=2)``: any
  ``DataLoader``; ``default_collate`` stacks the examples, which are rows of the batch
  tensors (one copy more);
* :func:`torch_loader` ``(ds, batch_size=16, shuffle=True, num_workers=2)``: the same
  ``DataLoader`` with :func:`collate`, which hands over the batch as it was gathered (in a
  worker, into shared memory, where ``default_collate`` would have put it).

``id`` comes as a list of str, as ``default_collate`` gives strings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import torch
from torch.utils.data import DataLoader, Dataset, default_collate, get_worker_info

from ..reading.buffers import ArrayPool
from .features import array_view


class Batch(list):
    """The examples of one batch (each a dict whose tensors are rows of the batch's tensors),
    with the batch itself in :attr:`collated`, for :func:`collate`."""

    def __init__(self, examples: list[dict[str, Any]], collated: dict[str, Any]):
        super().__init__(examples)
        self.collated = collated


class TorchSplit(Dataset):
    """``dataset`` (a split of the builder, or any ``datasets.Dataset`` of its features) as a
    torch map-style dataset whose tensors keep the stored dtypes; ``columns``: only these."""

    def __init__(self, dataset: datasets.Dataset, columns: Sequence[str] | None = None):
        if columns is not None:
            dataset = dataset.select_columns(list(columns))
        self._arrow = dataset.with_format("arrow")
        # Per column, the arrays batches are gathered into, reused once no batch refers to them.
        self._pools: dict[str, ArrayPool] = {}

    def __getstate__(self) -> dict[str, Any]:
        # The pools hold locks and arrays of this process: a worker process starts its own.
        return {**self.__dict__, "_pools": {}}

    def __len__(self) -> int:
        return len(self._arrow)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        """The examples at ``indices`` (torch's ``DataLoader`` asks for a batch at once)."""
        indices = list(indices)
        if indices and indices == list(range(indices[0], indices[0] + len(indices))):
            table = self._arrow[indices[0]:indices[0] + len(indices)]  # in order: a slice, no gather
        else:
            table = self._arrow[indices]
        collated = {name: _gathered(table[name], self._pools.setdefault(name, ArrayPool()))
                    for name in table.column_names}
        examples = [{name: values[k] for name, values in collated.items()} for k in range(table.num_rows)]
        return Batch(examples, collated)


def collate(examples: Sequence[dict[str, Any]]) -> Any:
    """``default_collate``, but a :class:`Batch` from :meth:`TorchSplit.__getitems__` is handed
    over as gathered, without stacking its examples again."""
    if isinstance(examples, Batch):
        return examples.collated
    return default_collate(examples)


def torch_loader(dataset: datasets.Dataset, batch_size: int, *, columns: Sequence[str] | None = None,
                 **loader_kwargs: Any) -> DataLoader:
    """A torch ``DataLoader`` over ``dataset`` in batches of ``batch_size``, arrays in their stored
    dtypes; other keyword arguments (``shuffle``, ``num_workers``, ``drop_last``, ``pin_memory`` …)
    are the ``DataLoader``'s."""
    return DataLoader(TorchSplit(dataset, columns), batch_size=batch_size, collate_fn=collate, **loader_kwargs)


def _gathered(column: pa.ChunkedArray, pool: ArrayPool) -> torch.Tensor | list[str]:
    """One column of a batch as one tensor its examples are rows of, copied piece by piece from
    the Arrow memory (strings: a list)."""
    chunks = [array_view(chunk) for chunk in column.chunks]
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return [str(value) for chunk in chunks for value in chunk]
    first = chunks[0] if chunks else array_view(column.combine_chunks())
    out = _batch_tensor(pool, (len(column), *first.shape[1:]), first.dtype)
    view = out.numpy()
    start = 0
    for chunk in chunks:
        view[start:start + len(chunk)] = chunk
        start += len(chunk)
    return out


def _batch_tensor(pool: ArrayPool, shape: tuple[int, ...], dtype: np.dtype) -> torch.Tensor:
    """A tensor to gather a batch into: in a ``DataLoader`` worker a new one in shared memory,
    where ``default_collate`` would put it (the main process maps it, nothing is copied again);
    elsewhere one of the pool's arrays (fresh megabytes cost a page fault every 4 KiB)."""
    if get_worker_info() is None:
        return torch.from_numpy(pool.get(shape, dtype))
    like = torch.from_numpy(np.empty(0, dtype))
    storage = torch.UntypedStorage._new_shared(math.prod(shape) * like.element_size())
    return like.new_empty(0).set_(storage, 0, shape)
