"""What several benchmark scripts share."""

from __future__ import annotations

import time
from pathlib import Path


def sample_root(base: Path, patches_per_scene: int, patch_size: int = 256, layout: str = "compact",
                lc_dtype: str = "uint16") -> Path:
    """A sample of real-size patches under ``base`` in ``layout`` (``compact`` or ``real``: the
    real files' strips and interleaving), written once and reused by later runs."""
    from sen12ms_plugins.demo.sample import make_sample

    suffix = "" if (layout, lc_dtype) == ("compact", "uint16") else f"-{layout}-{lc_dtype}"
    root = base / f"sample-{patch_size}px-{patches_per_scene}{suffix}"
    if not root.exists():
        started = time.perf_counter()
        make_sample(root, patch_size=patch_size, patches_per_scene=patches_per_scene, layout=layout, lc_dtype=lc_dtype)
        print(f"  wrote {root} in {time.perf_counter() - started:.1f} s", flush=True)
    return root


def raw_triplet_rate(root: Path, passes: int = 3) -> tuple[int, float]:
    """(triplets, seconds) of the fastest of ``passes`` reads of every triplet's three files
    whole with ``numpy.fromfile``, after a warm-up pass: the least any reader has to do."""
    import numpy as np

    from sen12ms_plugins.dataset import facts
    from sen12ms_plugins.dataset.index import build_index

    paths = [[pid.path(root, s) for s in facts.SENSORS] for pid in build_index(root).triplets]

    def one_pass() -> float:
        started = time.perf_counter()
        for triplet in paths:
            for path in triplet:
                np.fromfile(path, dtype=np.uint8)
        return time.perf_counter() - started

    one_pass()
    return len(paths), min(one_pass() for _ in range(passes))


def raw_file_rate(files: list[Path], examples: int, passes: int = 3) -> tuple[int, float]:
    """(examples, seconds) of the fastest of ``passes`` reads of ``files`` (that hold ``examples``)
    from start to end, after a warm-up pass: the ceiling of reading prepared data."""
    buffer = memoryview(bytearray(4 * 2**20))  # reused: the rate of reading, not of allocating

    def one_pass() -> float:
        started = time.perf_counter()
        for path in files:
            with open(path, "rb", buffering=0) as f:
                while f.readinto(buffer):
                    pass
        return time.perf_counter() - started

    one_pass()
    return examples, min(one_pass() for _ in range(passes))
