"""Benchmark the Hugging Face path on 256x256 sample patches: export, read, and the raw read ceiling.

Prints, in one run, for each sample size (triplets = 20 scenes x patches per scene), on
samples in the real files' layout by default (``--layout compact`` for the generator's
compact one):

* ceilings: the three files of every triplet read whole with ``numpy.fromfile`` (the raw
  ceiling, no decoding), and ``read_example`` of every triplet (the project's reader,
  georeference and labels included) — what any export or builder is bounded by;
* export throughput: ``export_hf`` with ``--num-proc 1`` and ``2``, triplets/s, and the
  peak resident memory of the export process tree (parent and largest worker);
* read throughput of ``load_dataset(DIR)``: the exported files read whole (the ceiling of
  reading stored data), ``with_format("numpy")`` row by row and 16 rows at a time,
  ``with_format("torch")`` through a plain ``DataLoader`` in batches of 16, Arrow batches of
  16 converted by ``table_to_numpy`` (the best path: views, nothing copied) and the same with
  every array copied once (what any reader of the pixels pays at least), and
  ``torch_loader`` in batches of 16, in order and shuffled (against Arrow gathers of the
  same shuffled batches), triplets/s, best of 3 rounds of >= 1 s; the ratios of the torch
  paths to the Arrow ones; then the dtypes each gives (``datasets`` widens uint16 to int64
  in its numpy and torch formats; ``table_to_numpy`` and ``torch_loader`` keep it);

then whether the export's peak memory stayed flat as the number of triplets grew.

Each measurement runs in a fresh process, so peak memory is that measurement's own.
Usage::

    python benchmarks/bench_hf.py                       # 3 and 6 patches per scene (60, 120 triplets)
    python benchmarks/bench_hf.py --patches-per-scene 3,6,12 --config s2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MEASURE = r"""
import json, resource, sys, time
READS = ("numpy", "numpy16", "torch16", "arrow", "arrow_copied", "arrow_shuffled", "torch_loader",
         "torch_loader_shuffled")
what, root, out, config, num_proc, shard_size = sys.argv[1:7]
shard_size = int(shard_size)
start = time.perf_counter()
if what == "raw":
    from sen12ms_plugins.reading.configs import get_config
    from sen12ms_plugins.reading.examples import read_example
    from sen12ms_plugins.dataset.index import build_index
    cfg = get_config(config)
    index = build_index(root)
    start = time.perf_counter()
    n = 0
    for pid in index.triplets:
        read_example(root, pid, cfg)
        n += 1
elif what == "export":
    from sen12ms_plugins.hf.export import export_hf
    import datasets  # imported by the export; not timed, as a long export pays it once
    start = time.perf_counter()
    report = export_hf(root, out, configs=[config], num_proc=int(num_proc), shard_size=shard_size, quiet=True)
    n = report.triplets_written
elif what == "files":
    import glob
    files = sorted(glob.glob(f"{out}/**/*.parquet", recursive=True) + glob.glob(f"{out}/**/*.arrow", recursive=True))
    import datasets
    total = sum(len(datasets.load_dataset(out, config, split=s)) for s in ("holdout", "train"))
    buffer = memoryview(bytearray(4 * 2**20))
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < 2.0:
        for path in files:
            with open(path, "rb", buffering=0) as f:
                while f.readinto(buffer):
                    pass
        n += total
elif what in READS:
    import datasets
    import numpy as np
    from sen12ms_plugins.hf.features import table_to_numpy
    ds = datasets.concatenate_datasets([datasets.load_dataset(out, config, split=s) for s in ("holdout", "train")])
    order = np.random.default_rng(0).permutation(len(ds))
    shuffled = [order[k:k + 16].tolist() for k in range(0, len(ds), 16)]
    if what in ("torch16", "torch_loader", "torch_loader_shuffled"):
        import torch
        from torch.utils.data import DataLoader
        from sen12ms_plugins.hf import torch_loader
        loaders = {"torch16": lambda: DataLoader(ds.with_format("torch"), batch_size=16),
                   "torch_loader": lambda: torch_loader(ds, batch_size=16),
                   "torch_loader_shuffled": lambda: torch_loader(ds, batch_size=16, shuffle=True)}
        first = next(iter(loaders[what]()))
        epoch = lambda: sum(len(batch["id"]) for batch in loaders[what]())
    elif what == "numpy":
        first = next(iter(ds.with_format("numpy")))
        epoch = lambda: sum(1 for row in ds.with_format("numpy"))
    elif what == "numpy16":
        first = next(iter(ds.with_format("numpy").iter(batch_size=16)))
        epoch = lambda: sum(len(batch["id"]) for batch in ds.with_format("numpy").iter(batch_size=16))
    elif what == "arrow":
        first = table_to_numpy(next(iter(ds.with_format("arrow").iter(batch_size=16))))
        epoch = lambda: sum(len(table_to_numpy(batch)["id"]) for batch in ds.with_format("arrow").iter(batch_size=16))
    else:  # arrow_copied, arrow_shuffled: every array copied once, as a reader of the pixels must
        arrow = ds.with_format("arrow")
        batches = ((lambda: arrow.iter(batch_size=16)) if what == "arrow_copied"
                   else (lambda: (arrow[keys] for keys in shuffled)))
        def copied(batch):
            arrays = table_to_numpy(batch)
            for values in arrays.values():
                np.array(values)
            return len(arrays["id"])
        first = table_to_numpy(next(iter(batches())))
        epoch = lambda: sum(copied(batch) for batch in batches())
    dtypes = {k: str(first[k].dtype) for k in ("s1", "s2", "lc", "igbp", "labels") if k in first}
    rates = []
    for _ in range(3):  # best of 3 rounds of whole epochs for at least 1 s each
        round_start = time.perf_counter()
        n = 0
        while time.perf_counter() - round_start < 1.0:
            n += epoch()
        rates.append((n, time.perf_counter() - round_start))
    n, best_seconds = max(rates, key=lambda r: r[0] / r[1])
elif what == "geotiff":
    import numpy as np
    from sen12ms_plugins.dataset import facts
    from sen12ms_plugins.dataset.index import build_index
    paths = [[pid.path(root, s) for s in facts.SENSORS] for pid in build_index(root).triplets]
    for triplet in paths:
        for path in triplet:
            np.fromfile(path, dtype=np.uint8)
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < 2.0:
        for triplet in paths:
            for path in triplet:
                np.fromfile(path, dtype=np.uint8)
        n += len(paths)
seconds = globals().get("best_seconds") or time.perf_counter() - start
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"n": n, "seconds": seconds, "rss_mib": own / 1024, "worker_rss_mib": children / 1024,
                  "dtypes": globals().get("dtypes")}))
"""


def measure(what: str, root: Path, out: Path, config: str, num_proc: int = 1, shard_size: int = 0) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", MEASURE, what, str(root), str(out), config, str(num_proc),
                           str(shard_size)],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patches-per-scene", default="3,6", help="comma-separated sample sizes (default: 3,6)")
    parser.add_argument("--config", default="all", help="configuration to export (default: all)")
    parser.add_argument("--shard-size", type=int, default=64 * 1000**2,
                        help="export shard size in bytes (default: 64 MB, ~20 'all' triplets, so that the small "
                             "sample has shards enough for two workers; the export's own default is 500 MB)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to write samples and exports (default: a temp dir)")
    parser.add_argument("--layout", choices=("real", "compact"), default="real",
                        help="the samples' file layout (default: real, that of the real files, with uint8 land cover)")
    args = parser.parse_args()
    lc_dtype = "uint8" if args.layout == "real" else "uint16"

    from sen12ms_plugins.demo.sample import make_sample

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-hf-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = [int(x) for x in args.patches_per_scene.split(",")]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"workdir {work}; config {args.config}; 256x256 px, {args.layout} layout (lc {lc_dtype}); shard size "
          f"{args.shard_size / 1e6:.0f} MB; {os.cpu_count()} CPUs, load average {load}")
    header = f"{'triplets':>8}  {'measurement':<34} {'triplets/s':>10} {'MB/s':>8} {'peak RSS MiB':>13}"
    print(header)
    print("-" * len(header))
    peaks = []
    dtypes: dict[str, dict[str, str]] = {}
    for per_scene in sizes:
        root = work / f"root-{per_scene}-{args.layout}"
        if not root.exists():
            t = time.perf_counter()
            make_sample(root, patch_size=256, patches_per_scene=per_scene, layout=args.layout, lc_dtype=lc_dtype)
            print(f"(sample of {per_scene} patches/scene written in {time.perf_counter() - t:.1f} s)")
        mb_per_triplet = sum(f.stat().st_size for f in root.rglob("*.tif")) / 1e6 / sum(1 for _ in root.rglob("*_s2_*.tif"))

        def row(label: str, result: dict, rss: float, mb_per_triplet: float = mb_per_triplet) -> None:
            rate = result["n"] / result["seconds"]
            print(f"{result['n']:>8}  {label:<34} {rate:>10.1f} {rate * mb_per_triplet:>8.1f} {rss:>13.0f}")

        geotiff = measure("geotiff", root, work, args.config)
        row("numpy.fromfile of the 3 files (raw)", geotiff, geotiff["rss_mib"])
        raw = measure("raw", root, work, args.config)
        row("read_example (the reader)", raw, raw["rss_mib"])
        for num_proc in (1, 2):
            out = work / f"export-{per_scene}-np{num_proc}"
            shutil.rmtree(out, ignore_errors=True)
            result = measure("export", root, out, args.config, num_proc, args.shard_size)
            rss = max(result["rss_mib"], result["worker_rss_mib"])
            row(f"export-hf --num-proc {num_proc}", result, rss)
            if num_proc == 1:
                peaks.append((result["n"], rss))
        out = work / f"export-{per_scene}-np1"
        row("the exported files read whole", files := measure("files", root, out, args.config), files["rss_mib"])
        rates = {}
        for what, label in (("numpy", "read with_format('numpy'), by row"), ("numpy16", "with_format('numpy').iter(16)"),
                            ("torch16", "with_format('torch'), DataLoader(16)"),
                            ("arrow", "arrow.iter(16) + table_to_numpy"),
                            ("arrow_copied", "the same, every array copied"),
                            ("torch_loader", "torch_loader(16)"),
                            ("arrow_shuffled", "arrow[shuffled 16] + copied"),
                            ("torch_loader_shuffled", "torch_loader(16, shuffle=True)")):
            result = measure(what, root, out, args.config)
            row(label, result, result["rss_mib"])
            rates[what] = result["n"] / result["seconds"]
            dtypes.setdefault(label, result["dtypes"])
        print(f"{'':>8}  torch_loader / Arrow batches: {rates['torch_loader'] / rates['arrow']:.2f}x "
              f"(views), {rates['torch_loader'] / rates['arrow_copied']:.2f}x (copied); shuffled / Arrow gathers: "
              f"{rates['torch_loader_shuffled'] / rates['arrow_shuffled']:.2f}x; / with_format('torch'): "
              f"{rates['torch_loader'] / rates['torch16']:.1f}x")
    if len(peaks) > 1:
        (n0, m0), (n1, m1) = peaks[0], peaks[-1]
        print(f"\nexport peak memory: {m0:.0f} MiB for {n0} triplets, {m1:.0f} MiB for {n1} "
              f"({n1 / n0:.1f}x the triplets, {m1 / m0:.2f}x the memory)")
    print(f"(one triplet is {mb_per_triplet:.2f} MB of GeoTIFF; MB/s counts GeoTIFF bytes)")
    for label, found in dtypes.items():
        print(f"dtypes of {label}: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average at the end: {load}")


if __name__ == "__main__":
    main()
