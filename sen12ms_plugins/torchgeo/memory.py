"""Where a batch is read into: the memory it leaves the reading process or thread in.

* In a DataLoader worker, new shared memory: the batch crosses to the main process
  without a copy (``default_collate`` would put it there; :mod:`.collate` takes it as is).
* In a reading thread of a :class:`~.loader.SEN12MSLoader` that pins, page-locked memory
  from torch's caching host allocator, from which the batch is copied to the accelerator
  asynchronously.  The allocator reuses a block only once the copies made from it are
  done, so no pool is kept here.
* Anywhere else, arrays reused once nothing refers to them (:class:`~..reading.buffers.ArrayPool`):
  fresh memory of megabytes costs a page fault every 4 KiB, more than reading into it.
"""

from __future__ import annotations

import ctypes
import math
import mmap
import sys

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import get_worker_info

from ..reading.buffers import ArrayPool
from . import threads

# torch dtypes of the arrays batches are read into, in numpy's terms, and the other way round.
_NUMPY_DTYPES = {torch.float32: np.float32, torch.int64: np.int64, torch.uint16: np.uint16, torch.uint8: np.uint8}
TORCH_DTYPES = {np.dtype(numpy): torch_dtype for torch_dtype, numpy in _NUMPY_DTYPES.items()}
# Batches a pool keeps beyond those a loader has in flight: the one its consumer holds and the
# one read next (fewer, and a reading thread finds no free array: fresh memory, page faults).
_SPARE_BATCHES = 2


def new_array(pool: ArrayPool | None, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """An array from ``pool``, or a new one without a pool."""
    return np.empty(shape, dtype) if pool is None else pool.get(shape, dtype)


def batch_tensor(pool: ArrayPool | None, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
    """A tensor of ``shape`` and ``dtype`` to read a batch into, with undefined contents: in a
    DataLoader worker new shared memory, in the reading thread of a loader that pins new
    pinned memory, anywhere else an array of ``pool`` (None: a new array)."""
    if get_worker_info() is not None:
        storage = torch.UntypedStorage._new_shared(math.prod(shape) * dtype.itemsize)
        _populate(storage.data_ptr(), storage.nbytes())
        return torch.empty(0, dtype=dtype).set_(storage, 0, shape)
    reader = threads.loader_thread()
    if reader is not None and reader.pin:
        return torch.empty(shape, dtype=dtype, pin_memory=True)
    if reader is not None and pool is not None:
        pool.keep = max(pool.keep, reader.in_flight + _SPARE_BATCHES)
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
