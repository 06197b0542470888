"""What the user sees on the terminal: progress (a tqdm bar on a terminal, plain periodic lines
otherwise, nothing when quiet), messages between the bars, and plain text tables."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any, TypeVar

T = TypeVar("T")

#: Seconds between two plain progress lines when stderr is not a terminal.
LOG_INTERVAL = 10.0


class Progress:
    """Counts work done towards a total and shows it.

    ``unit="B"`` formats counts as bytes.  Use as a context manager, or call
    :meth:`close`.
    """

    def __init__(self, total: float | None, desc: str, unit: str = "it", quiet: bool = False, stream=None):
        self.total, self.desc, self.unit, self.quiet = total, desc, unit, quiet
        self.stream = stream or sys.stderr
        self.n = 0.0
        self._start = self._last = time.monotonic()
        self._bar = None
        if not quiet and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm  # deferred: ~90 ms to import, and only a terminal needs it

            self._bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=unit == "B",
                             unit_divisor=1024 if unit == "B" else 1000, file=self.stream, leave=False,
                             dynamic_ncols=True)

    def update(self, n: float = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        elif not self.quiet:
            now = time.monotonic()
            if now - self._last >= LOG_INTERVAL:
                self._last = now
                self._log()

    def set_total(self, total: float | None) -> None:
        """Change the total, e.g. once the size of a download is known."""
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def _fmt(self, value: float) -> str:
        if self.unit != "B":
            return f"{value:,.0f}"
        for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
            if value < 1024 or unit == "TiB":
                return f"{value:,.1f} {unit}"
            value /= 1024
        raise AssertionError("unreachable")

    def _log(self) -> None:
        elapsed = max(time.monotonic() - self._start, 1e-9)
        done = self._fmt(self.n) + (f" of {self._fmt(self.total)}" if self.total else "")
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        rate = self._fmt(self.n / elapsed) + ("/s" if self.unit == "B" else f" {self.unit}/s")
        print(f"{self.desc}: {done}{pct}, {rate}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif not self.quiet and self.n:
            self._log()
        self.quiet = True  # closing twice prints once

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LockedCounter:
    """``update`` calls on one :class:`Progress` from several threads."""

    def __init__(self, bar: Progress):
        self.bar, self.lock = bar, threading.Lock()

    def __call__(self, n: int) -> None:
        with self.lock:
            self.bar.update(n)


def track(items: Iterable[T], desc: str, total: int | None = None, unit: str = "it", quiet: bool = False) -> Iterator[T]:
    """Iterate over ``items`` while showing progress."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(total, desc, unit=unit, quiet=quiet) as bar:
        for item in items:
            yield item
            bar.update()


def write_message(message: str, stream: IO[str] | None = None) -> None:
    """Print a line without breaking the progress bars drawn on the same terminal."""
    stream = stream or sys.stderr
    if getattr(stream, "isatty", lambda: False)():
        from tqdm import tqdm  # deferred, as above

        tqdm.write(message, file=stream)
    else:
        print(message, file=stream, flush=True)


def print_table(header: list[str], rows: list[list[Any]]) -> None:
    """A plain text table, numbers right-aligned."""
    cells = [header] + [[f"{c:,}" if isinstance(c, int) else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
