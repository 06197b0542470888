"""Samples per second: the plugin's SEN12MS versus torchgeo's own, and the raw ceiling.

All three read the same triplets of the same root in the same run:

* ``raw``: the three files of each triplet read whole with ``numpy.fromfile``, the
  least any reader has to do (no parsing, no conversion);
* ``torchgeo``: torchgeo's own ``SEN12MS`` class (rasterio, all bands of all files);
* ``plugin``: ``sen12ms_plugins.torchgeo.SEN12MS``.

For the DataLoader it also prints what the DataLoader itself can deliver when the
samples cost nothing to make (ready tensors of the plugin's sample shape): moving
batches between processes caps every reader, and upstream's ratio with it.

Each is timed in one process (a loop over ``ds[i]``) and through a DataLoader with
two worker processes, after one untimed pass that brings the files into the page
cache; each figure is the best of a few rounds, the readers taking turns, so that
other load on the machine weighs on all alike.  The triplets are measured as
stored and again as a band-interleaved copy: the sample is written the way
rasterio writes by default, pixel-interleaved, so the 13 Sentinel-2 bands must be
de-interleaved for ``[C, H, W]``, a pass over memory that reading whole files
(the raw ceiling) does not make.  Without ``--root`` a sample of 256x256 px patches is generated in a
temporary folder.  Upstream needs ``train_list.txt`` and ``test_list.txt`` in the
root: the benchmark reads through a temporary folder that links the root's season
folders and holds lists of the split's triplets, so the root is never modified.

Targets (issue 4): plugin >= 2x torchgeo and >= 0.5x raw, in both modes.

    python benchmarks/bench_torchgeo.py                  # generated sample
    python benchmarks/bench_torchgeo.py --root /data/sen12ms --limit 2000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import PatchId, write_patch_list
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import compute_splits
from sen12ms_plugins.demo.sample import make_sample
from sen12ms_plugins.torchgeo import SEN12MS, UpstreamSEN12MS


class RawTriplets(Dataset):
    """The bytes of each triplet's three files, read whole with numpy."""

    def __init__(self, root: Path, patch_ids: list[PatchId]):
        self.root = root
        self.patch_ids = patch_ids

    def __len__(self) -> int:
        return len(self.patch_ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        pid = self.patch_ids[index]
        return {s: torch.from_numpy(np.fromfile(pid.path(self.root, s), dtype=np.uint8)) for s in facts.SENSORS}


class ReadyTensors(Dataset):
    """Samples that cost nothing to make: what a DataLoader alone can deliver."""

    def __init__(self, sample: dict[str, torch.Tensor], length: int):
        self.sample = sample
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.sample


def shadow_root(root: Path, patch_ids: list[PatchId], out: Path) -> Path:
    """A folder linking ``root``'s season folders, with both upstream lists naming ``patch_ids``."""
    out.mkdir()
    for season in facts.SEASONS:
        target = root / season
        if target.is_dir():
            os.symlink(target.resolve(), out / season, target_is_directory=True)
        else:
            (out / season).mkdir()  # upstream insists on all four season folders
    write_lists(out, patch_ids)
    return out


def band_interleaved_copy(root: Path, patch_ids: list[PatchId], out: Path) -> Path:
    """The same triplets rewritten band-interleaved (INTERLEAVE=BAND), values unchanged."""
    import rasterio

    for pid in patch_ids:
        for sensor in facts.SENSORS:
            dst = pid.path(out, sensor)
            dst.parent.mkdir(parents=True, exist_ok=True)
            with rasterio.open(pid.path(root, sensor)) as src:
                profile = {**src.profile, "interleave": "band"}
                data = src.read()
            with rasterio.open(dst, "w", **profile) as f:
                f.write(data)
    for season in facts.SEASONS:
        (out / season).mkdir(exist_ok=True)
    write_lists(out, patch_ids)
    return out


def write_lists(root: Path, patch_ids: list[PatchId]) -> None:
    for name in ("train_list.txt", "test_list.txt"):
        write_patch_list(root / name, patch_ids)


def rate_loop(dataset: Dataset, seconds: float) -> float:
    """Samples per second of ``dataset[i]`` over whole passes lasting at least ``seconds``."""
    n = 0
    start = time.perf_counter()
    while True:
        for i in range(len(dataset)):
            dataset[i]
        n += len(dataset)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def rate_loader(loader: DataLoader, seconds: float) -> float:
    """Samples per second through a (warmed-up) DataLoader over whole passes."""
    n = 0
    start = time.perf_counter()
    while True:
        for batch in loader:
            n += len(batch["image" if "image" in batch else "s2"])
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def measure(root: Path, patch_ids: list[PatchId], args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Best rate of each reader over ``args.rounds`` rounds, single process and DataLoader."""
    datasets = {
        "raw": RawTriplets(root, patch_ids),
        "torchgeo": UpstreamSEN12MS(root, split="train", checksum=False),
        "plugin": SEN12MS(root, split="train", checksum=False),
    }
    for ds in datasets.values():  # page cache warm-up
        rate_loop(ds, 0.0)
    best: dict[str, dict[str, float]] = {name: {"single": 0.0, "loader": 0.0} for name in datasets}
    # Rounds alternate between the readers so that load from other processes hits all alike.
    for _ in range(args.rounds):
        for name, ds in datasets.items():
            best[name]["single"] = max(best[name]["single"], rate_loop(ds, args.seconds))
    # A DataLoader moves every batch between processes through shared memory; with
    # samples of this size that alone caps the rate, whatever the dataset does.
    datasets["ceiling"] = ReadyTensors(datasets["plugin"][0], len(patch_ids))
    best["ceiling"] = {"single": float("inf"), "loader": 0.0}
    for name, ds in datasets.items():
        loader = DataLoader(ds, batch_size=args.batch_size, num_workers=args.workers, persistent_workers=True)
        for _ in loader:  # starts and warms up the workers
            pass
        for _ in range(args.rounds):
            best[name]["loader"] = max(best[name]["loader"], rate_loader(loader, args.seconds))
        del loader
    return best


def report(title: str, results: dict[str, dict[str, float]], workers: int) -> bool:
    print(f"\n{title}")
    print(f"{'mode':<24}{'raw':>10}{'torchgeo':>10}{'plugin':>10}{'plugin/torchgeo':>17}{'plugin/raw':>12}")
    ok = True
    for mode, label in (("single", "single process"), ("loader", f"DataLoader, {workers} workers")):
        raw, up, ours = (results[n][mode] for n in ("raw", "torchgeo", "plugin"))
        ok &= ours >= 2 * up and ours >= 0.5 * raw
        print(f"{label:<24}{raw:>10.1f}{up:>10.1f}{ours:>10.1f}{ours / up:>16.2f}x{ours / raw:>11.2f}x")
    ceiling = results["ceiling"]["loader"]
    print(f"(the DataLoader alone, given ready samples of this shape: {ceiling:.1f} samples per second; "
          f"plugin at {results['plugin']['loader'] / ceiling:.0%} of it)")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, help="a SEN12MS root (default: generate a 256x256 sample)")
    parser.add_argument("--split", default="train", help="split whose triplets are read (default: train)")
    parser.add_argument("--limit", type=int, default=0, help="read at most this many triplets (0: all)")
    parser.add_argument("--patches-per-scene", type=int, default=3, help="size of the generated sample")
    parser.add_argument("--seconds", type=float, default=1.0, help="least time per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per reader; the best counts")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--no-band-copy", action="store_true",
                        help="skip the second measurement on a band-interleaved copy of the triplets")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory(prefix="bench-torchgeo-") as tmp:
        work = Path(tmp)
        root = args.root
        if root is None:
            root = work / "sample"
            print(f"generating a sample ({args.patches_per_scene} patches per scene, 256x256 px) in {root}", flush=True)
            make_sample(root, patch_size=facts.PATCH_SIZE, patches_per_scene=args.patches_per_scene)
        members = sorted(compute_splits(build_index(root))[args.split], key=lambda pid: pid.filename("s2"))
        if args.limit:
            members = members[: args.limit]
        layouts = {"as stored": shadow_root(root, members, work / "shadow")}
        if not args.no_band_copy:
            layouts["band-interleaved copy"] = band_interleaved_copy(root, members, work / "band")
        shape = tuple(SEN12MS(layouts["as stored"], split="train", checksum=False)[0]["image"].shape)
        print(f"{len(members)} triplets of split {args.split!r}, image {shape}; torch {torch.__version__}, "
              f"{os.cpu_count()} CPUs; best of {args.rounds} rounds of >= {args.seconds:g} s", flush=True)
        met = {}
        for title, layout_root in layouts.items():
            results = measure(layout_root, members, args)
            met[title] = report(f"{title}: samples per second", results, args.workers)
    print("\ntargets (plugin/torchgeo >= 2 and plugin/raw >= 0.5 in both modes):")
    for title, ok in met.items():
        print(f"  {title}: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
