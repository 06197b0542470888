"""Threads that read the triplets of a batch together, where torch would use threads too.

In the main process torch runs its own operations on ``torch.get_num_threads()``
threads (by default one per core); in a DataLoader worker it sets that to one, the
workers being the parallelism.  The dataset reads in the same way: outside a worker
the triplets of a batch are read by up to that many threads (numpy and the file
reads release the GIL), inside one by the worker alone.  A single sample is read on
one thread: handing its files (or blocks of their rows) to helpers cost more than it
saved (measured on the real layout, 2 CPUs: 745-790 samples/s on two threads,
1,020-1,110 on one).  So ``DataLoader(num_workers=0)`` — torchgeo's datamodules'
default — does not leave cores idle, and workers do not compete with each other.
Helper threads are used only on cores the machine leaves idle (:func:`reading_threads`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch
from torch.utils.data import get_worker_info

_executor: tuple[int, ThreadPoolExecutor] | None = None  # (threads, executor)
_executor_lock = threading.Lock()


def _stop_before_fork() -> None:
    # A process forked while other threads run may deadlock (Python warns about it): the idle
    # helpers end before a fork (a DataLoader starting its workers) and start again when needed.
    global _executor
    with _executor_lock:
        if _executor is not None:
            _executor[1].shutdown(wait=True)
            _executor = None


def _forget_after_fork() -> None:
    global _executor, _executor_lock
    _executor, _executor_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_stop_before_fork, after_in_child=_forget_after_fork)


def reading_threads() -> int:
    """Threads to read with here: one in a DataLoader worker; elsewhere torch's intra-op
    thread count, but no more than this thread and the cores the machine leaves idle."""
    if get_worker_info() is not None:
        return 1
    return max(1, min(torch.get_num_threads(), 1 + _idle_cores()))


_idle: tuple[float, int] = (float("-inf"), 0)  # (when measured, idle cores then)


def _idle_cores() -> int:
    """Cores idle by the one-minute load average (this process's running thread included in
    it), measured at most once a second.  A helper thread that has to wait for a core makes a
    read slower, not faster: on a machine busy with other work the reads stay on one thread."""
    global _idle
    now = time.monotonic()
    if now - _idle[0] >= 1.0:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        _idle = (now, max(0, int(cpus - load)))
    return _idle[1]


def _helpers(count: int) -> ThreadPoolExecutor:
    """An executor of ``count`` threads (a new one when the count changes)."""
    global _executor
    with _executor_lock:
        if _executor is None or _executor[0] != count:
            if _executor is not None:
                _executor[1].shutdown(wait=False)
            _executor = (count, ThreadPoolExecutor(count, thread_name_prefix="sen12ms-read"))
        return _executor[1]


def run(tasks: Sequence[Callable[[], None]], threads: int) -> None:
    """Run ``tasks`` on ``threads`` threads, this one among them, each taking the next task
    when done with one; returns when all are done, raising the first error in task order."""
    if threads <= 1 or len(tasks) <= 1:
        for task in tasks:
            task()
        return
    errors: dict[int, BaseException] = {}
    pending = iter(enumerate(tasks))
    lock = threading.Lock()

    def drain() -> None:
        while True:
            with lock:
                item = next(pending, None)
            if item is None:
                return
            try:
                item[1]()
            except BaseException as exc:  # noqa: BLE001  (re-raised below, in the caller's thread)
                errors[item[0]] = exc

    helpers = _helpers(threads - 1)
    futures = [helpers.submit(drain) for _ in range(min(threads, len(tasks)) - 1)]
    drain()
    for future in futures:
        future.result()
    if errors:
        raise errors[min(errors)]

