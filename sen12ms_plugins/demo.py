"""The end-to-end demonstration on the built-in sample (``sen12ms demo``).

Each step is a function of a shared :class:`DemoContext`; the demo runs them in
order, prints what each did and how long it took, and ends with a clear OK or FAILED.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import facts
from .index import Index, build_index
from .splits import SPLITS, Splits, compute_splits


@dataclass
class DemoContext:
    workdir: Path
    patch_size: int
    patches_per_scene: int
    quiet: bool
    root: Path = field(init=False)
    index: Index | None = None
    splits: Splits | None = None

    def __post_init__(self) -> None:
        self.root = self.workdir / "sen12ms"


def step_sample(ctx: DemoContext) -> str:
    from .progress import track
    from .sample import make_sample

    ids = make_sample(ctx.root, patch_size=ctx.patch_size, patches_per_scene=ctx.patches_per_scene,
                      progress=lambda jobs: track(jobs, "sample", unit="triplet", quiet=ctx.quiet))
    return f"{len(ids)} triplets of {ctx.patch_size}x{ctx.patch_size} px in {ctx.root}"


def step_index(ctx: DemoContext) -> str:
    ctx.index = build_index(ctx.root)
    if ctx.index.incomplete or ctx.index.strays:
        raise RuntimeError(f"index found {len(ctx.index.incomplete)} incomplete triplets, {len(ctx.index.strays)} strays")
    return f"{len(ctx.index)} complete triplets in {len(ctx.index.scene_counts)} scenes"


def step_splits(ctx: DemoContext) -> str:
    assert ctx.index is not None
    ctx.splits = compute_splits(ctx.index)
    for name in SPLITS:
        ctx.splits[name]  # raises with the reason if a split came out empty
    return ", ".join(f"{name} {len(ctx.splits.members[name])}" for name in SPLITS)


STEPS: list[tuple[str, Callable[[DemoContext], str]]] = [
    ("build the sample", step_sample),
    ("index", step_index),
    ("split", step_splits),
]


def print_split_table(splits: Splits) -> None:
    from .cli._common import print_table

    counts = splits.counts()
    print_table(["split", *(facts.SEASON_SHORT[s] for s in facts.SEASONS), "total"],
                [[name, *counts[name].values()] for name in SPLITS])


def run_demo(workdir: str | Path | None = None, *, patch_size: int = facts.PATCH_SIZE,
             patches_per_scene: int = 2, keep: bool = False, quiet: bool = False) -> bool:
    """Run every step; True when all succeeded.  A temporary work folder is removed unless ``keep``."""
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="sen12ms-demo-")) if own else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(work, patch_size, patches_per_scene, quiet)
    ok = True
    try:
        for n, (title, step) in enumerate(STEPS, start=1):
            print(f"[{n}/{len(STEPS)}] {title} …", flush=True)
            started = time.perf_counter()
            try:
                detail = step(ctx)
            except Exception as exc:  # the demo reports any failure, then stops
                print(f"      FAILED: {type(exc).__name__}: {exc}")
                if not quiet:
                    traceback.print_exc()
                ok = False
                break
            print(f"      {detail} ({time.perf_counter() - started:.1f} s)", flush=True)
        if ok and ctx.splits is not None:
            print()
            print_split_table(ctx.splits)
    finally:
        if own and not keep:
            shutil.rmtree(work, ignore_errors=True)
        elif keep or not own:
            print(f"\nwork folder kept: {work}")
    print("\nOK" if ok else "\nFAILED")
    return ok
