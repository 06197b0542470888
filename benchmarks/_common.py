"""What several benchmark scripts share."""

from __future__ import annotations

import time
from pathlib import Path


def sample_root(base: Path, patches_per_scene: int, patch_size: int = 256) -> Path:
    """A sample of real-size patches under ``base``, written once and reused by later runs."""
    from sen12ms_plugins.demo.sample import make_sample

    root = base / f"sample-{patch_size}px-{patches_per_scene}"
    if not root.exists():
        started = time.perf_counter()
        make_sample(root, patch_size=patch_size, patches_per_scene=patches_per_scene)
        print(f"  wrote {root} in {time.perf_counter() - started:.1f} s", flush=True)
    return root
