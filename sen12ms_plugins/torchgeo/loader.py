"""A ``DataLoader`` whose workers are threads of the training process.

Worker processes hand every batch to the main process through shared memory, which the
main process then maps page by page; for batches as the files store them that costs more
than reading them.  :class:`SEN12MSLoader` is torch's ``DataLoader`` (same constructor,
attributes, samplers, ``collate_fn``, ``len()``) whose ``num_workers`` are reading threads
in this process: each fetches whole batches as a worker would, ``collate_fn`` included,
the file reads releasing the GIL.  The batch is read straight into the memory it leaves in:
pinned memory when the loader pins (``pin_memory=True`` with an accelerator), from which
it reaches the device asynchronously, else arrays reused once nothing refers to them
(:mod:`.memory`).

It draws from torch's random number generators exactly what the ``DataLoader`` it replaces
draws, in the calling thread and in the same order: the workers' base seed when an
iterator is made (once with ``persistent_workers``), and the sampler's indices, as many
batches ahead as a ``DataLoader`` asks for (``prefetch_factor`` per worker), so the order of
the samples and any randomness drawn beside it (augmentations) stay what they were.
Because the constructor is torch's, Lightning re-creates it with a ``DistributedSampler``
in a distributed run as it does a ``DataLoader``.
"""

from __future__ import annotations

import atexit
import collections
import functools
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any

from torch.utils.data import DataLoader
from torch.utils.data._utils.pin_memory import pin_memory
from torch.utils.data.dataloader import _BaseDataLoaderIter, _DatasetKind

from . import threads

# Iterators whose threads may be reading, and threads told to stop that may still finish a
# batch: the interpreter must not exit under them (a thread inside a C++ copy while the
# process tears down aborts it: "terminate called without an active exception").
_iterators: weakref.WeakSet[_ThreadIterator] = weakref.WeakSet()
_stopping: set[threading.Thread] = set()


@atexit.register
def _finish_reading() -> None:
    """At exit: stop every loader's reading threads and wait for the batch each is reading."""
    for iterator in list(_iterators):
        iterator._stop(wait=False)
    for thread in list(_stopping):
        thread.join()


class SEN12MSLoader(DataLoader):
    """torch's ``DataLoader``, its ``num_workers`` threads of this process instead of processes.

    ``num_workers=0`` reads each batch when it is asked for, in the calling thread (the
    plugin's dataset then reads a batch's triplets on ``torch.get_num_threads()`` threads);
    ``num_workers=N`` keeps ``prefetch_factor * N`` batches asked for ahead, read by N threads,
    each reading a batch on its own.  Batches come in sampler order (``in_order=False``
    changes nothing); an error raised reading
    one is raised by ``next()`` when its turn comes, as itself; ``timeout`` (seconds) bounds
    the wait for a batch, as in a ``DataLoader``.  Map-style datasets only.
    ``worker_init_fn`` and ``multiprocessing_context`` concern worker processes: accepted (Lightning
    sets a ``worker_init_fn`` that seeds each worker) and not used, there being none.
    """

    def _get_iterator(self) -> _BaseDataLoaderIter:
        if self._dataset_kind != _DatasetKind.Map:
            raise ValueError("SEN12MSLoader reads map-style datasets; an IterableDataset needs torch's DataLoader")
        return _ThreadIterator(self)


class _Job:
    """One batch to read: its indices, then its data or the error reading it raised."""

    def __init__(self, index: Any, fetch: Callable[[Any], Any]):
        self.index = index
        self.fetch = fetch
        self.cancelled = False
        self.data: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self) -> None:
        if not self.cancelled:
            try:
                self.data = self.fetch(self.index)
            except BaseException as exc:  # noqa: BLE001  (raised again by result(), in the caller's thread)
                self.error = exc
        self.done.set()

    def result(self, timeout: float) -> Any:
        if not self.done.wait(timeout or None):
            raise RuntimeError(f"DataLoader timed out after {timeout} seconds")  # torch's words
        if self.error is not None:
            raise self.error
        return self.data


def _work(jobs: queue.SimpleQueue) -> None:
    """A reading thread: run jobs until told to stop (None).  It holds no reference to the
    iterator, which can then be collected, and stops its threads, when left mid-epoch."""
    while (job := jobs.get()) is not None:
        job.run()
    _stopping.discard(threading.current_thread())


def _fetch(fetcher: Any, pin: bool, device: str | None, in_flight: int, alone: bool, index: Any) -> Any:
    """One batch, fetched as a DataLoader worker fetches it, in the memory the loader asks for
    (``alone``: by the loader's only reader, ``num_workers=0``)."""
    with threads.reading_for_loader(pin, in_flight, alone):
        data = fetcher.fetch(index)
        if pin:  # what the dataset did not read into pinned memory
            data = pin_memory(data, device)
    return data


class _ThreadIterator(_BaseDataLoaderIter):
    """The iterator of a :class:`SEN12MSLoader`: torch's base iterator (so the base seed is
    drawn where torch draws it), its batches read by threads."""

    def __init__(self, loader: SEN12MSLoader):
        super().__init__(loader)
        # DataLoader sets prefetch_factor (2 by default) whenever num_workers > 0
        self._ahead = (loader.prefetch_factor or 0) * self._num_workers
        fetcher = _DatasetKind.create_fetcher(self._dataset_kind, self._dataset, self._auto_collation,
                                              self._collate_fn, self._drop_last)
        self._fetch = functools.partial(_fetch, fetcher, self._pin_memory, self._pin_memory_device,
                                        max(self._ahead, 1), self._num_workers == 0)
        self._jobs: queue.SimpleQueue | None = None
        self._threads: list[threading.Thread] = []
        self._pending: collections.deque[_Job] = collections.deque()
        _iterators.add(self)
        self._reset(loader, first_iter=True)

    def _reset(self, loader: SEN12MSLoader, first_iter: bool = False) -> None:
        super()._reset(loader, first_iter)
        self._stop()  # an epoch left before its end
        if self._num_workers > 0:
            self._jobs = queue.SimpleQueue()
            self._threads = [threading.Thread(target=_work, args=(self._jobs,), name=f"sen12ms-loader-{k}",
                                              daemon=True) for k in range(self._num_workers)]
            for thread in self._threads:
                thread.start()
            for _ in range(self._ahead):  # as many as a DataLoader asks its workers for
                if not self._ask():
                    break

    def _ask(self) -> bool:
        """Hand the sampler's next batch to the threads; False when the sampler is done."""
        try:
            index = self._next_index()
        except StopIteration:
            return False
        job = _Job(index, self._fetch)
        self._pending.append(job)
        self._jobs.put(job)
        return True

    def _next_data(self) -> Any:
        if self._num_workers == 0:
            return self._fetch(self._next_index())
        if not self._pending:
            self._stop()
            raise StopIteration
        job = self._pending.popleft()
        self._ask()
        return job.result(self._timeout)

    def _stop(self, wait: bool = True) -> None:
        """End the reading threads once they finish what they are reading (``wait``: wait for
        that); batches asked for and not read yet are dropped."""
        if self._jobs is None:
            return
        for job in self._pending:
            job.cancelled = True
        self._pending.clear()
        for _ in self._threads:
            self._jobs.put(None)
        if wait:
            for thread in self._threads:
                thread.join()
        else:  # each ends after the batch it is reading; the exit waits for that (_finish_reading)
            _stopping.update(thread for thread in self._threads if thread.is_alive())
        self._jobs, self._threads = None, []

    def __del__(self) -> None:
        self._stop(wait=False)
