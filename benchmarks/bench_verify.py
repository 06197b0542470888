"""Benchmark: plain ``verify`` of the extracted tree on a full-size SEN12MS tree.

The tree: the 180,662 triplets of ``bench_index.py`` (541,986 files with the real names), each
file a hard link to a real patch file of its sensor (32x32 px, made by ``sen12ms sample``: the
checks read sizes and headers, not pixels), one copy a folder (a file takes at most 65,000
links), so that every header is a real one and the tree costs about 20 MB.

    python benchmarks/bench_verify.py [--tree /tmp/sen12ms-bench-verify] [--repeat 3]

Printed: the tree check of plain ``verify`` (``verify_tree``: the index, the cheap checks of
every file: a ``stat`` each and one header read per folder and size, partner folders, what
should be there) on an unchanged root, against the part of it that is the index from cache,
and what the checks of the files add; and the first run on a root verify has not seen.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from sen12ms_plugins.acquisition.verify import verify_tree
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.demo.sample import make_sample

HERE = Path(__file__).resolve().parent


def full_size_ids():
    spec = importlib.util.spec_from_file_location("bench_index", HERE / "bench_index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.full_size_ids()


def make_tree(root: Path) -> None:
    """The full-size tree: in each folder, a copy of the real file of its sensor and hard links to it."""
    with tempfile.TemporaryDirectory() as tmp:
        make_sample(Path(tmp) / "one", patch_size=32, patches_per_scene=1)
        first = build_index(Path(tmp) / "one").triplets[0]
        data = {sensor: first.path(Path(tmp) / "one", sensor).read_bytes() for sensor in facts.SENSORS}
    sources: dict[Path, Path] = {}
    for pid in full_size_ids():
        for sensor in facts.SENSORS:
            path = pid.path(root, sensor)
            source = sources.get(path.parent)
            if source is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data[sensor])
                sources[path.parent] = path
            else:
                os.link(source, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=Path("/tmp/sen12ms-bench-verify"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    fresh = not (args.tree / "complete").exists()
    if fresh:
        shutil.rmtree(args.tree, ignore_errors=True)
        started = time.perf_counter()
        make_tree(args.tree)
        (args.tree / "complete").touch()
        print(f"made a tree of 541,986 hard links in {time.perf_counter() - started:.1f} s")
        time.sleep(2.5)  # folder times old enough for the index cache to trust them
    started = time.perf_counter()
    first = verify_tree(args.tree, quiet=True)
    first_time = time.perf_counter() - started
    assert first.ok, first.problems
    print(f"first verify_tree{' (index built cold)' if fresh else ''}: {first_time:.2f} s, "
          f"{first.tree.files_checked:,} files")
    index_times, verify_times = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        build_index(args.tree)
        index_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = verify_tree(args.tree, quiet=True)
        verify_times.append(time.perf_counter() - started)
        assert report.ok
    index_s, verify_s = statistics.median(index_times), statistics.median(verify_times)
    print(f"index from cache:            median {index_s:.2f} s  runs {[round(x, 2) for x in index_times]}")
    print(f"verify_tree, unchanged root: median {verify_s:.2f} s  runs {[round(x, 2) for x in verify_times]}")
    print(f"  = {verify_s / index_s:.1f}x the index from cache; the checks of the files add {verify_s - index_s:.2f} s")


if __name__ == "__main__":
    main()
