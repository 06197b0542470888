"""Benchmark of ``sen12ms stats``: throughput with 1 and 2 processes, peak memory for 2 sample sizes.

Not a test: it prints figures.  It writes built-in samples of real-size (256x256 px)
patches into a temporary folder (or uses --root), then

* runs :func:`sen12ms_plugins.analysis.stats.compute_stats` with ``jobs=1`` and ``jobs=2`` on
  the larger sample (files already in the page cache: a second, timed run) and prints
  patches per second;
* runs it with ``jobs=1`` in a fresh process on each sample and prints that process's
  peak resident memory: a streaming pass should need about the same for both sizes.

    python benchmarks/bench_stats.py [--sizes 3 12] [--keep DIR]

On the full dataset (180,662 triplets) divide by the patches/s figure to estimate the
run time; reading from disk rather than the page cache will be slower.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import sample_root

_MEMORY_PROBE = """
import json, resource, sys
from sen12ms_plugins.analysis.stats import compute_stats
stats = compute_stats(sys.argv[1], jobs=1)
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"patches": stats["all", "all"].patches, "peak_mib": peak_kib / 1024}))
"""


def _throughput(root: Path, jobs: int) -> tuple[int, float]:
    from sen12ms_plugins.analysis.stats import compute_stats
    from sen12ms_plugins.dataset.index import build_index

    index = build_index(root)
    compute_stats(root, jobs=jobs, index=index)  # warm the page cache (and the process pool's imports)
    started = time.perf_counter()
    stats = compute_stats(root, jobs=jobs, index=index)
    elapsed = time.perf_counter() - started
    return stats["all", "all"].patches, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs=2, default=[3, 12], metavar=("SMALL", "LARGE"),
                        help="patches per scene of the two samples (20 scenes each; default: 3 12)")
    parser.add_argument("--keep", type=Path,
                        help="write (or reuse) the samples in this folder instead of a temporary one")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-stats-") as tmp:
        base = args.keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        print("samples (256x256 px patches):")
        roots = {n: sample_root(base, n) for n in args.sizes}

        large = roots[max(args.sizes)]
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\nthroughput on {large.name} (warm page cache, charts not drawn; {os.cpu_count()} CPUs, "
              f"load average {load}; jobs=2 includes starting its 2 processes):")
        for jobs in (1, 2):
            patches, elapsed = _throughput(large, jobs)
            rate = patches / elapsed
            print(f"  jobs={jobs}: {patches} patches in {elapsed:.2f} s = {rate:.1f} patches/s", flush=True)

        print("\npeak resident memory of a stats process (jobs=1):")
        for n in args.sizes:
            result = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(roots[n])],
                                    capture_output=True, text=True, check=True)
            probe = json.loads(result.stdout)
            print(f"  {roots[n].name}: {probe['patches']} patches, peak {probe['peak_mib']:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
