"""Samples per second of the plugin's SEN12MS versus torchgeo's own, and the ceilings.

All readers read the same triplets of the same root in the same run:

* ``raw``: the three files of each triplet read whole with ``numpy.fromfile``, the
  least any reader has to do (no parsing, no conversion): the single-process ceiling;
* ``torchgeo``: torchgeo's own ``SEN12MS`` class (rasterio, all bands of all files);
* ``plugin``: ``sen12ms_plugins.torchgeo.SEN12MS``, constructed as users do;
* ``ceiling`` (DataLoader only): ready samples of the plugin's sample shape, what the
  DataLoader alone delivers when making a sample costs nothing (collating each batch
  into shared memory and handing it to the main process caps every dataset).

Single process: a loop over ``ds[i]``; the plugin reads with torch's intra-op thread
count (``torch.get_num_threads()``, as torch's own operations do outside DataLoader
workers) and again with one thread.  DataLoader: ``DataLoader(ds, batch_size=16,
num_workers=2)`` with default collation, the sampler going round the triplets until
an epoch holds at least ``--batches`` batches.  Every figure is the best of
``--rounds`` rounds of at least ``--seconds`` s after an untimed pass that warms the
page cache, the readers taking turns so that load from other processes weighs on all
alike.  The resident memory of the plugin's two workers is printed after N and after
4N samples: it must not grow with the samples read.

Layouts: by default a generated sample in the real files' layout (pixel-interleaved,
1-row strips for S2, 4-row strips for S1, uint8 land cover: ``sen12ms sample --layout
real --lc-dtype uint8``); ``--real DIR`` builds the root from real S1/S2 GeoTIFF pairs
instead (``s1_<name>.tif`` and ``s2_<name>.tif``, e.g. the SEN12MS-CR patches in
``shared/reference/real/``), each copied ``--copies`` times under SEN12MS names with a
uint8 land-cover file; ``--root`` reads an existing SEN12MS root.  The triplets are
measured as stored and again as a band-interleaved copy (``--no-band-copy`` skips it).
Upstream needs ``train_list.txt`` and ``test_list.txt`` in the root: the benchmark
reads through a temporary folder that links the root's season folders and holds lists
of the measured triplets, so the root is never modified.

The datamodule (issue 21): torchgeo's ``SEN12MSDataModule`` as registered, with
``num_workers`` and ``batch_size`` as above, its train loader (batches as the files store
them, read by threads) and ``on_after_batch_transfer`` on the CPU without a trainer (the
conversion into torchgeo's batch and the IGBP mapping), against the ceiling and torchgeo's
class in the same run; the same with ``stored_batches=False`` (torchgeo's DataLoader of the
plugin's float32 samples, then the mapping).  Its root holds hard links of the measured
triplets as the patches of one training scene, so that an epoch holds the same number of
samples as the others' (the datamodule trains on ``train_minus_validation``).  Every loader
row also gives the CPU time it took per sample (core-ms: user and system time of this
process and the loader's worker processes): the machine may be shared, and wall rates
move with its load where CPU time moves less.  The datamodule's memory (this process: its
reading threads) is printed after N and 4N samples.

With a CUDA device (or ``--device``), the same three run on it with the model-free step
of a training batch: the batch moved as Lightning moves it (pinned, without blocking),
``on_after_batch_transfer`` on the device with torchgeo's normalisation (a trainer that is
training is attached), synchronised before the clock stops.

Targets (issue 15, as stored): single process plugin/raw >= 0.5; DataLoader (2 workers,
batch 16) plugin/torchgeo >= 3 and plugin/ceiling >= 0.8.  Issue 21, as stored, on the
CPU: datamodule/ceiling >= 2 and datamodule/torchgeo >= 5.

    python benchmarks/bench_torchgeo.py                          # generated, real layout
    python benchmarks/bench_torchgeo.py --real shared/reference/real --copies 64
    python benchmarks/bench_torchgeo.py --root /data/sen12ms --limit 2000
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import rasterio
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from lightning.pytorch import Trainer
from torch.utils.data import DataLoader, Dataset
from torchgeo.datamodules import SEN12MSDataModule

from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import PatchId, write_patch_list
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import compute_splits
from sen12ms_plugins.demo.sample import make_sample, real_rows_per_strip
from sen12ms_plugins.errors import EmptySplitWarning
from sen12ms_plugins.torchgeo import SEN12MS, UpstreamSEN12MS

MiB = 2**20


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


def real_root(source: Path, copies: int, out: Path) -> Path:
    """A SEN12MS root of real S1/S2 pairs from ``source``, each copied ``copies`` times as
    patches of one train scene, with a uint8 land-cover file in the real layout."""
    pairs = sorted(p for p in source.glob("s2_*.tif") if (source / ("s1_" + p.name[3:])).is_file())
    if not pairs:
        raise SystemExit(f"{source}: no s2_<name>.tif with its s1_<name>.tif")
    rows, cols = np.mgrid[0:facts.PATCH_SIZE, 0:facts.PATCH_SIZE]
    lc = np.stack([1 + (rows // 16 + cols // 16) % 17, 1 + cols % 40, 1 + rows % 36, 1 + (rows + cols) % 51])
    for k in range(copies):
        s2 = pairs[k % len(pairs)]
        pid = PatchId("ROIs1970_fall", 139, k)  # scene 139 of fall: not a hold-out scene
        for sensor, src in (("s1", source / ("s1_" + s2.name[3:])), ("s2", s2)):
            pid.path(out, sensor).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, pid.path(out, sensor))
        with rasterio.open(s2) as ref:
            profile = {"driver": "GTiff", "width": ref.width, "height": ref.height, "count": 4, "dtype": "uint8",
                       "crs": ref.crs, "transform": ref.transform, "interleave": "pixel",
                       "blockysize": real_rows_per_strip("lc", "uint8")}
        pid.path(out, "lc").parent.mkdir(parents=True, exist_ok=True)
        with rasterio.open(pid.path(out, "lc"), "w", **profile) as dst:
            dst.write(np.roll(lc, k, axis=2).astype(np.uint8))
    return out


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


def datamodule_root(root: Path, patch_ids: list[PatchId], count: int, out: Path) -> Path:
    """A root whose one training scene holds ``count`` patches, hard links (copies across file
    systems) of the triplets of ``patch_ids`` in turn: the datamodule trains on all of it."""
    for k in range(count):
        source, pid = patch_ids[k % len(patch_ids)], PatchId("ROIs1970_fall", 139, k)
        for sensor in facts.SENSORS:
            target = pid.path(out, sensor)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source.path(root, sensor), target)
            except OSError:
                shutil.copyfile(source.path(root, sensor), target)
    for season in facts.SEASONS:
        (out / season).mkdir(exist_ok=True)
    return out


def datamodule(root: Path, args: argparse.Namespace, **options: Any) -> SEN12MSDataModule:
    """torchgeo's datamodule, as registered, set up to train on ``root``."""
    dm = SEN12MSDataModule(root=root, batch_size=args.batch_size, num_workers=args.workers, checksum=False, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptySplitWarning)  # one scene: no validation, on purpose
        dm.setup("fit")
    return dm


def cpu_seconds(loader: DataLoader) -> float:
    """User and system CPU time of this process and of the loader's worker processes, if any."""
    processes = [psutil.Process()]
    iterator = getattr(loader, "_iterator", None)  # a persistent loader's workers stay up between epochs
    processes += [psutil.Process(w.pid) for w in getattr(iterator, "_workers", ())]
    return sum(sum(p.cpu_times()[:2]) for p in processes)


@dataclass
class Case:
    """A loader and what is done with each of its batches (nothing, the datamodule's step ...)."""

    loader: DataLoader
    step: Callable[[Any], Any] = lambda batch: batch
    synchronize: Callable[[], None] = lambda: None


def rate_loader(case: Case, seconds: float) -> tuple[float, float]:
    """(samples per second, CPU core-ms per sample) through a (warmed-up) loader over whole epochs."""
    n = 0
    start, cpu = time.perf_counter(), cpu_seconds(case.loader)
    while True:
        for batch in case.loader:
            batch = case.step(batch)
            n += len(next(value for value in batch.values() if isinstance(value, torch.Tensor)))
        case.synchronize()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed, (cpu_seconds(case.loader) - cpu) / n * 1e3


def worker_memory(loader: DataLoader) -> list[tuple[float, float]]:
    """(RSS, USS) in MiB of each of a persistent loader's worker processes (USS: pages no other
    process shares, i.e. without the shared-memory batches in flight and the pages forked from the parent)."""
    memory = []
    for worker in loader._iterator._workers:  # the workers of a persistent loader stay up between epochs
        info = psutil.Process(worker.pid).memory_full_info()
        memory.append((info.rss / MiB, info.uss / MiB))
    return memory


def memory_after(case: Case, epochs_per_step: tuple[int, ...], samples: int,
                 measure: Callable[[], list[tuple[float, float]]]) -> list[tuple[int, list[tuple[float, float]]]]:
    """``measure()`` after N samples, then after more epochs (N per epoch): memory that must stay flat."""
    found, done = [], 0
    for epochs in epochs_per_step:
        for _ in range(epochs):
            for batch in case.loader:
                case.step(batch)
        done += epochs
        found.append((done * samples, measure()))
    return found


def this_process_memory() -> list[tuple[float, float]]:
    info = psutil.Process().memory_full_info()
    return [(info.rss / MiB, info.uss / MiB)]


@dataclass
class Results:
    """Best rates per reader (``rates[reader][mode]``, mode ``single``, ``loader`` or a device),
    CPU time (``cpu[reader]``, core-ms per sample, the least of the rounds), and memory."""

    rates: dict[str, dict[str, float]]
    threads: int  # torch's intra-op threads, the plugin's in a single process
    memory: list[tuple[int, list[tuple[float, float]]]]  # (samples read, (RSS, USS) per worker)
    datamodule_memory: list[tuple[int, list[tuple[float, float]]]]  # (samples, [(RSS, USS) of this process])
    cpu: dict[str, float] = field(default_factory=dict)


def training_step(dm: SEN12MSDataModule, device: torch.device) -> Callable[[Any], Any]:
    """The model-free step of a training batch on ``device``: moved as Lightning moves it, then
    ``on_after_batch_transfer`` with a training trainer attached (torchgeo's normalisation)."""
    trainer = Trainer(accelerator="cpu" if device.type == "cpu" else "gpu", devices=1, logger=False,
                      enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False)
    trainer.training = True
    dm.trainer = trainer
    return lambda batch: dm.on_after_batch_transfer(move_data_to_device(batch, device), 0)


def measure(root: Path, patch_ids: list[PatchId], dm_root: Path, args: argparse.Namespace) -> Results:
    """Best rate of each reader over ``args.rounds`` rounds, single process and through a loader
    (the datamodule among them); then the memory of the plugin's workers and of the datamodule."""
    datasets = {
        "raw": RawTriplets(root, patch_ids),
        "torchgeo": UpstreamSEN12MS(root, split="train", checksum=False),
        "plugin": SEN12MS(root, split="train", checksum=False),
    }
    threads = torch.get_num_threads()
    for ds in datasets.values():  # page cache warm-up
        rate_loop(ds, 0.0)
    best: dict[str, dict[str, float]] = {name: {"single": 0.0, "loader": 0.0} for name in (*datasets, "ceiling")}
    best["plugin, 1 thread"] = {"single": 0.0}
    # Rounds alternate between the readers so that load from other processes hits all alike.
    for _ in range(args.rounds):
        for name, ds in datasets.items():
            best[name]["single"] = max(best[name]["single"], rate_loop(ds, args.seconds))
        torch.set_num_threads(1)
        one = rate_loop(datasets["plugin"], args.seconds)
        best["plugin, 1 thread"]["single"] = max(best["plugin, 1 thread"]["single"], one)
        torch.set_num_threads(threads)
    per_epoch = max(len(patch_ids), args.batches * args.batch_size)
    order = [i % len(patch_ids) for i in range(per_epoch)]
    datasets["ceiling"] = ReadyTensors(datasets["plugin"][0], len(patch_ids))

    def loader(ds: Dataset, **options: Any) -> DataLoader:
        return DataLoader(ds, batch_size=args.batch_size, num_workers=args.workers, sampler=order,
                          persistent_workers=args.workers > 0, **options)

    cases = {name: Case(loader(ds)) for name, ds in datasets.items()}
    stored, today = datamodule(dm_root, args), datamodule(dm_root, args, stored_batches=False)
    cases["datamodule"] = Case(stored.train_dataloader(), lambda batch: stored.on_after_batch_transfer(batch, 0))
    cases["datamodule, stored_batches=False"] = Case(today.train_dataloader(),
                                                     lambda batch: today.on_after_batch_transfer(batch, 0))
    cases["datamodule loader alone"] = Case(datamodule(dm_root, args).train_dataloader())  # what a GPU leaves the CPU
    cpu: dict[str, float] = {}
    for each in cases.values():  # starts and warms up the workers
        for batch in each.loader:
            each.step(batch)
    for _ in range(args.rounds):
        for name, each in cases.items():
            rate, core_ms = rate_loader(each, args.seconds)
            best.setdefault(name, {})["loader"] = max(best.get(name, {}).get("loader", 0.0), rate)
            cpu[name] = min(cpu.get(name, float("inf")), core_ms)
    del cases, stored, today  # their arrays too: the memory below is the datamodule's alone
    device = torch.device(args.device) if args.device else torch.device("cuda") if torch.cuda.is_available() else None
    if device is not None:
        on_device = {name: Case(loader(datasets[name], pin_memory=device.type == "cuda"),
                                training_step(datamodule(dm_root, args), device), _synchronizer(device))
                     for name in ("ceiling", "torchgeo")}  # upstream's mapping and normalisation, on the device
        dm = datamodule(dm_root, args)
        step = training_step(dm, device)  # the trainer first: the loader pins for its device
        on_device["datamodule"] = Case(dm.train_dataloader(), step, _synchronizer(device))
        for each in on_device.values():
            for batch in each.loader:
                each.step(batch)
        for _ in range(args.rounds):
            for name, each in on_device.items():
                rate, _ = rate_loader(each, args.seconds)
                best[name][str(device)] = max(best[name].get(str(device), 0.0), rate)
        del on_device, dm, step
    gc.collect()  # the loaders above and their arrays (a trainer and its datamodule refer to each other)
    fresh = loader(datasets["plugin"])
    memory = memory_after(Case(fresh), (1, 3), per_epoch, lambda: worker_memory(fresh))
    dm = datamodule(dm_root, args)
    dm_memory = memory_after(Case(dm.train_dataloader(), lambda batch: dm.on_after_batch_transfer(batch, 0)), (1, 3),
                             per_epoch, this_process_memory)
    return Results(best, threads, memory, dm_memory, cpu)


def _synchronizer(device: torch.device) -> Callable[[], None]:
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


def report(title: str, results: Results, args: argparse.Namespace) -> dict[str, float]:
    rates, cpu = results.rates, results.cpu
    print(f"\n{title}: samples per second")
    single = {name: rates[name]["single"] for name in ("raw", "torchgeo", "plugin", "plugin, 1 thread")}
    loader = {name: rates[name]["loader"] for name in ("raw", "torchgeo", "plugin", "ceiling")}
    print(f"  single process:  raw {single['raw']:.0f}   torchgeo {single['torchgeo']:.0f}   "
          f"plugin {single['plugin']:.0f} ({results.threads} threads)   "
          f"plugin {single['plugin, 1 thread']:.0f} (1 thread)")
    print(f"  DataLoader, {args.workers} workers, batch_size={args.batch_size}:  raw {loader['raw']:.0f}   "
          f"torchgeo {loader['torchgeo']:.0f}   plugin {loader['plugin']:.0f}   "
          f"ceiling (ready samples of the plugin's shape) {loader['ceiling']:.0f}")
    print("  CPU per sample (core-ms, the least of the rounds; 2-core bound in brackets):")
    for name in ("raw", "torchgeo", "plugin", "ceiling", "datamodule", "datamodule, stored_batches=False",
                 "datamodule loader alone"):
        print(f"    {name:<34}{cpu[name]:6.2f}  ({2000 / cpu[name]:.0f}/s)")
    dm, dm_today = rates["datamodule"]["loader"], rates["datamodule, stored_batches=False"]["loader"]
    alone = rates["datamodule loader alone"]["loader"]
    print(f"  datamodule (num_workers={args.workers}, batch_size={args.batch_size}), train loader + "
          f"on_after_batch_transfer on the CPU: {dm:.0f}   with stored_batches=False: {dm_today:.0f}   "
          f"its loader alone (batches as stored, converted elsewhere): {alone:.0f}")
    ratios = {
        "single plugin/raw": single["plugin"] / single["raw"],
        "single plugin/raw, 1 thread": single["plugin, 1 thread"] / single["raw"],
        "single plugin/torchgeo": single["plugin"] / single["torchgeo"],
        "loader plugin/torchgeo": loader["plugin"] / loader["torchgeo"],
        "loader plugin/ceiling": loader["plugin"] / loader["ceiling"],
        "datamodule/ceiling": dm / loader["ceiling"],
        "datamodule/torchgeo": dm / loader["torchgeo"],
        "datamodule, stored_batches=False/ceiling": dm_today / loader["ceiling"],
        "datamodule loader alone/ceiling": alone / loader["ceiling"],
    }
    for name, value in ratios.items():
        print(f"  {name:<42}{value:6.2f}x")
    devices = sorted({mode for modes in rates.values() for mode in modes} - {"single", "loader"})
    for device in devices:
        on = {name: rates[name][device] for name in ("ceiling", "torchgeo", "datamodule")}
        print(f"  on {device}, moved and made torchgeo's normalised batch there: ceiling {on['ceiling']:.0f}   "
              f"torchgeo {on['torchgeo']:.0f}   datamodule {on['datamodule']:.0f}   "
              f"({on['datamodule'] / on['ceiling']:.2f}x ceiling, {on['datamodule'] / on['torchgeo']:.2f}x torchgeo)")
    for samples, workers in results.memory:
        sizes = ", ".join(f"RSS {rss:.0f} MiB (USS {uss:.0f} MiB)" for rss, uss in workers)
        print(f"  plugin workers after {samples} samples: {sizes}")
    for samples, [(rss, uss)] in results.datamodule_memory:
        print(f"  datamodule, this process (its reading threads) after {samples} samples: RSS {rss:.0f} MiB "
              f"(USS {uss:.0f} MiB)")
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--root", type=Path, help="an existing SEN12MS root")
    source.add_argument("--real", type=Path, help="a folder of real s1_<name>.tif / s2_<name>.tif pairs")
    parser.add_argument("--copies", type=int, default=64, help="triplets made from the --real pairs (default 64)")
    parser.add_argument("--split", default="train", help="split whose triplets are read (default: train)")
    parser.add_argument("--limit", type=int, default=0, help="read at most this many triplets (0: all)")
    parser.add_argument("--patches-per-scene", type=int, default=3, help="size of the generated sample")
    parser.add_argument("--seconds", type=float, default=1.0, help="least time per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per reader; the best counts")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batches", type=int, default=32, help="least batches per DataLoader epoch")
    parser.add_argument("--no-band-copy", action="store_true",
                        help="skip the second measurement on a band-interleaved copy of the triplets")
    parser.add_argument("--device", help="also measure the model-free training step on this device "
                                         "(default: cuda when torch finds it)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-torchgeo-") as tmp:
        work = Path(tmp)
        if args.root is not None:
            root, what = args.root, str(args.root)
        elif args.real is not None:
            root, what = real_root(args.real, args.copies, work / "real"), f"{args.copies} copies of the pairs in {args.real}"
        else:
            root = work / "sample"
            what = f"a generated sample in the real layout ({args.patches_per_scene} patches per scene)"
            make_sample(root, patch_size=facts.PATCH_SIZE, patches_per_scene=args.patches_per_scene,
                        layout="real", lc_dtype="uint8")
        members = sorted(compute_splits(build_index(root))[args.split], key=lambda pid: pid.filename("s2"))
        if args.limit:
            members = members[: args.limit]
        layouts = {"as stored": shadow_root(root, members, work / "shadow")}
        if not args.no_band_copy:
            layouts["band-interleaved copy"] = band_interleaved_copy(root, members, work / "band")
        shape = tuple(SEN12MS(layouts["as stored"], split="train", checksum=False)[0]["image"].shape)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"{what}: {len(members)} triplets of split {args.split!r}, image {shape}; torch {torch.__version__}, "
              f"{os.cpu_count()} CPUs, load average {load}; best of {args.rounds} rounds of >= {args.seconds:g} s",
              flush=True)
        per_epoch = max(len(members), args.batches * args.batch_size)
        ratios = {title: report(title, measure(layout_root, members, datamodule_root(
            layout_root, members, per_epoch, work / f"datamodule-{k}"), args), args)
                  for k, (title, layout_root) in enumerate(layouts.items())}
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    stored = ratios["as stored"]
    print(f"\nload average at the end: {load}")
    print("targets, as stored (issue 15): single plugin/raw >= 0.5: "
          f"{'met' if stored['single plugin/raw'] >= 0.5 else 'NOT met'}; "
          f"DataLoader plugin/torchgeo >= 3: {'met' if stored['loader plugin/torchgeo'] >= 3 else 'NOT met'}; "
          f"DataLoader plugin/ceiling >= 0.8: {'met' if stored['loader plugin/ceiling'] >= 0.8 else 'NOT met'}")
    print("targets, as stored (issue 21), the conversion on the CPU: datamodule/ceiling >= 2: "
          f"{'met' if stored['datamodule/ceiling'] >= 2 else 'NOT met'}; datamodule/torchgeo >= 5: "
          f"{'met' if stored['datamodule/torchgeo'] >= 5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
