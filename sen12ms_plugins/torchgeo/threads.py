"""Threads that read a batch's triplets together, where torch would use threads too.

In the main process torch runs its own operations on ``torch.get_num_threads()``
threads (by default one per core); in a DataLoader worker it sets that to one, the
workers being the parallelism.  The dataset reads batches in the same way: outside a
worker a batch's triplets are read by up to that many threads (numpy and the file
reads release the GIL), inside one by the worker alone, so that
``DataLoader(num_workers=0)`` — torchgeo's datamodules' default — does not leave cores
idle and workers do not compete with each other.

A single sample is read on the calling thread, its pixel-interleaved files
de-interleaved by torch's own copy on torch's threads: handing its files or row blocks
to helpers here was measured slower than one thread (745-790 samples/s against
1,020-1,110 on the real layout, 2 CPUs), and so were samples read ahead.  Helpers wait
on a queue, and the calling thread waits only for the tasks a helper has taken, so a
busy machine costs no more than one thread (:func:`run`).

A :class:`~.loader.SEN12MSLoader` reads whole batches on threads of its own, which are
then the parallelism, as worker processes are: such a thread declares itself
(:func:`reading_for_loader`) and reads on its own, and the memory it reads into follows
what the loader asks for (:mod:`.memory`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import get_worker_info

# Helper threads wait on one queue for work: a queue hand-off costs a few microseconds,
# where an executor's futures cost ~30 us a task, as much as reading a sixth of a patch.
_work: queue.SimpleQueue | None = None
_helpers: list[threading.Thread] = []
_helpers_lock = threading.Lock()


def _helper_loop(work: queue.SimpleQueue) -> None:
    while (task := work.get()) is not None:
        task()


def _ensure_helpers(count: int) -> queue.SimpleQueue:
    """The work queue, with at least ``count`` helper threads waiting on it."""
    global _work
    with _helpers_lock:
        if _work is None:
            _work = queue.SimpleQueue()
        while len(_helpers) < count:
            thread = threading.Thread(target=_helper_loop, args=(_work,), name="sen12ms-read", daemon=True)
            thread.start()
            _helpers.append(thread)
        return _work


def _stop_before_fork() -> None:
    # A process forked while other threads run may deadlock (Python warns about it): the idle
    # helpers end before a fork (a DataLoader starting its workers) and start again when needed.
    global _work
    with _helpers_lock:
        for _ in _helpers:
            _work.put(None)
        for thread in _helpers:
            thread.join()
        _helpers.clear()
        _work = None


def _forget_after_fork() -> None:
    global _work, _helpers_lock
    _work, _helpers_lock = None, threading.Lock()
    _helpers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_stop_before_fork, after_in_child=_forget_after_fork)


@dataclass(frozen=True)
class LoaderThread:
    """What a loader's reading thread reads for: whether into pinned memory, how many
    batches the loader holds at once (read, being read or waiting to be taken), and whether it
    is the loader's only reader (``num_workers=0``: the calling thread, which may read a batch's
    triplets on several threads)."""

    pin: bool
    in_flight: int
    alone: bool = False


_local = threading.local()


@contextlib.contextmanager
def reading_for_loader(pin: bool, in_flight: int, alone: bool = False) -> Iterator[None]:
    """Mark the calling thread as a loader's reading thread while the block runs."""
    previous = getattr(_local, "loader", None)
    _local.loader = LoaderThread(pin, in_flight, alone)
    try:
        yield
    finally:
        _local.loader = previous


def loader_thread() -> LoaderThread | None:
    """What the calling thread reads for, when it is a loader's reading thread."""
    return getattr(_local, "loader", None)


def reading_threads() -> int:
    """Threads to read with here: one in a DataLoader worker or one of a loader's reading
    threads; elsewhere (a loader's only reader included) torch's intra-op thread count, no more
    than the cores this process may run on."""
    loader = loader_thread()
    if get_worker_info() is not None or (loader is not None and not loader.alone):
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(torch.get_num_threads(), cpus))


def run(tasks: Sequence[Callable[[], None]], threads: int) -> None:
    """Run ``tasks`` on ``threads`` threads, this one among them, each taking the next task
    when done with one; returns when all are done, raising the first error in task order.

    This thread waits only for the tasks a helper has taken: a helper that gets no core
    while this thread works through the tasks finds none left, so a busy machine costs
    no more than reading on one thread (no load average needed to guess it).
    """
    if threads <= 1 or len(tasks) <= 1:
        for task in tasks:
            task()
        return
    errors: dict[int, BaseException] = {}
    pending = iter(enumerate(tasks))
    lock = threading.Lock()
    done: queue.SimpleQueue = queue.SimpleQueue()  # one item per task a helper finished

    def drain(helper: bool) -> int:
        ran = 0
        while True:
            with lock:
                item = next(pending, None)
            if item is None:
                return ran
            try:
                item[1]()
            except BaseException as exc:  # noqa: BLE001  (re-raised below, in the caller's thread)
                errors[item[0]] = exc
            ran += 1
            if helper:
                done.put(None)

    helpers = min(threads, len(tasks)) - 1
    work = _ensure_helpers(helpers)
    for _ in range(helpers):
        work.put(functools.partial(drain, True))
    for _ in range(len(tasks) - drain(False)):
        done.get()
    if errors:
        raise errors[min(errors)]
