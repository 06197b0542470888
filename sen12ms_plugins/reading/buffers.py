"""Arrays a dataset reads whole batches into, handed out again once nothing refers to them."""

from __future__ import annotations

import sys
import threading

import numpy as np

# Reference counts say exactly who holds an array in CPython with the GIL; in a
# free-threaded build they need not, and there every batch gets fresh arrays.
_COUNTS_EXACT: bool = getattr(sys, "_is_gil_enabled", lambda: True)()
# References to a pooled array that is not handed out: the pool's list, getrefcount's argument.
_IDLE_REFERENCES = 2


class ArrayPool:
    """Arrays for batches of samples, each reused once no sample made from it is alive.

    A DataLoader worker reads a batch, ``default_collate`` copies its samples into one
    shared-memory batch and drops them.  Fresh arrays for every batch are megabytes
    that C's allocator hands back to the system once freed and takes again for the
    next batch, a page fault every 4 KiB: on a 2-CPU machine that costs a worker more
    than reading the files.  The pool keeps up to ``keep`` arrays and hands one out
    again only when its reference count shows that nothing made from it (a sample,
    a view, a tensor sharing its memory) is alive, so a sample that someone keeps is
    never overwritten: the next batch then gets another array.
    """

    def __init__(self, keep: int = 2):
        self._keep = keep
        self._arrays: list[np.ndarray] = []
        self._lock = threading.Lock()

    def get(self, shape: tuple[int, ...], dtype: np.dtype | str) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` with undefined contents (the leading rows
        of a pooled one when one is free and large enough)."""
        dtype = np.dtype(dtype)
        with self._lock:
            idle = [i for i in range(len(self._arrays)) if self._idle(i)]
            for i in idle:
                pooled = self._arrays[i]
                if pooled.dtype == dtype and pooled.shape[1:] == shape[1:] and pooled.shape[0] >= shape[0]:
                    return pooled[: shape[0]]
            array = np.empty(shape, dtype)
            if _COUNTS_EXACT:
                if len(self._arrays) < self._keep:
                    self._arrays.append(array)
                elif idle:
                    self._arrays[idle[0]] = array  # an idle array of another shape makes room
            return array

    @property
    def keep(self) -> int:
        """How many arrays the pool keeps at most (raised by a reader that holds more batches at once)."""
        return self._keep

    @keep.setter
    def keep(self, keep: int) -> None:
        with self._lock:
            self._keep = keep
            del self._arrays[keep:]

    def _idle(self, i: int) -> bool:
        return _COUNTS_EXACT and sys.getrefcount(self._arrays[i]) == _IDLE_REFERENCES

    def __len__(self) -> int:
        """Arrays kept."""
        return len(self._arrays)
