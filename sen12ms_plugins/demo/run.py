"""The end-to-end demonstration on the built-in sample (``sen12ms demo``).

What a new user would do with the real dataset, on the sample, in one process:

1. build the sample as the 12 archives and ``md5sums.txt`` (a mirror), and DFC2020-like
   zips (:mod:`.dfc2020_sample`, in the dtype and zip-structure variants asked for);
2. serve the mirror over HTTP on 127.0.0.1 (started here, stopped at the end);
3. download it with the real downloader (progress, md5 checks) into a fresh root, and extract;
4. add the DFC2020 zips to the root (``sen12ms add-dfc2020``);
5. verify the root (remembered archive md5s, the extracted tree, the DFC2020 files' md5s);
6. index and split it: the four SEN12MS splits and the two DFC2020 splits;
7. load every split through torchgeo (``torchgeo.datasets.SEN12MS``), TensorFlow
   Datasets (``tfds.load("sen12ms")``) and Hugging Face (``datasets.load_dataset("sen12ms", "all")``
   by name, after the preparation ``sen12ms prepare-hf`` does);
8. write the class and band statistics and the world map;

then print, per split and ecosystem, the count, the first ids and a checksum of the
pixels, and end with OK only if every ecosystem returned exactly the core's patches.

Everything is written below one work folder (a temporary one unless given); the
``datasets`` and TFDS caches of the user are not touched.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..acquisition.dfc2020 import add_dfc2020
from ..acquisition.download import download
from ..acquisition.verify import check_root
from ..analysis.charts import write_class_charts
from ..analysis.stats import compute_stats
from ..analysis.worldmap import make_map
from ..console import print_table, track
from ..dataset import facts
from ..dataset.index import Index, build_index
from ..dataset.splits import DFC2020_SPLITS, SPLITS, Splits, compute_splits
from ..errors import RootError
from ..fsutil import atomic_write_bytes
from . import DEMO_PATCHES_PER_SCENE, SampleLayout, ZipStructure
from .crosscheck import (
    ECOSYSTEMS,
    Fingerprint,
    fingerprint,
    from_core,
    from_hf,
    from_tfds,
    from_torchgeo,
    isolated_env,
)
from .dfc2020_sample import check_dfc2020_options, make_dfc2020_sample
from .mirror import serve_folder
from .sample import MANIFEST_NAME, check_sample_options, make_sample


@dataclass
class DemoContext:
    workdir: Path
    patch_size: int
    patches_per_scene: int
    layout: SampleLayout
    lc_dtype: str
    quiet: bool
    #: DFC2020 zips: s1 and dfc file dtypes, and what the top of a zip holds
    dfc2020_s1_dtype: str = "float32"
    dfc2020_dtype: str = "uint8"
    dfc2020_structure: ZipStructure = ZipStructure.SET
    mirror_url: str = ""
    #: Whether the work folder stays after the demo (printed paths are only shown then).
    kept: bool = True
    index: Index | None = None
    splits: Splits | None = None
    #: (split, ecosystem) -> what that ecosystem returned
    results: dict[tuple[str, str], Fingerprint] = field(default_factory=dict)

    @property
    def mirror(self) -> Path:
        return self.workdir / "mirror"

    @property
    def root(self) -> Path:
        # Not called "sen12ms": a folder of that name in the working directory would take
        # precedence over the prepared cache in datasets.load_dataset("sen12ms", …).
        return self.workdir / "SEN12MS"

    @property
    def hf_cache(self) -> Path:
        return self.workdir / "hf-cache"

    @property
    def dfc2020_zips(self) -> Path:
        """Where the DFC2020-like zips are written, as a user's download folder."""
        return self.workdir / "dfc2020-zips"

    @property
    def split_names(self) -> tuple[str, ...]:
        """Every split the demo loads: SEN12MS's four, then DFC2020's two."""
        return (*SPLITS, *DFC2020_SPLITS)


def step_sample(ctx: DemoContext) -> str:
    ids = make_sample(ctx.mirror, patch_size=ctx.patch_size, patches_per_scene=ctx.patches_per_scene,
                      layout=ctx.layout, lc_dtype=ctx.lc_dtype, archives=True, tree=False,
                      progress=lambda jobs: track(jobs, "sample", unit="triplet", quiet=ctx.quiet))
    size = sum(p.stat().st_size for p in ctx.mirror.glob("*.tar.gz"))
    dfc = make_dfc2020_sample(ctx.dfc2020_zips, patch_size=ctx.patch_size, layout=ctx.layout, lc_dtype=ctx.lc_dtype,
                              s1_dtype=ctx.dfc2020_s1_dtype, dfc_dtype=ctx.dfc2020_dtype,
                              structure=ctx.dfc2020_structure)
    return (f"12 archives of {len(ids)} triplets ({ctx.patch_size}x{ctx.patch_size} px, {ctx.layout} layout, "
            f"lc {ctx.lc_dtype}), {size / 2**20:.1f} MiB; 8 DFC2020 zips of {len(dfc)} patches (s1 "
            f"{ctx.dfc2020_s1_dtype}, dfc {ctx.dfc2020_dtype}, {ctx.dfc2020_structure} folder at the top)")


def step_add_dfc2020(ctx: DemoContext) -> str:
    report = add_dfc2020(ctx.root, ctx.dfc2020_zips, quiet=ctx.quiet)
    counts = ", ".join(f"{folder} {n}" for folder, n in report.patches.items())
    source = f"from {ctx.dfc2020_zips} " if ctx.kept else ""
    return f"{len(report.sources)} zips added {source}({counts})"


def step_download(ctx: DemoContext) -> str:
    report = download(ctx.root, mirrors=[ctx.mirror_url], checksums=ctx.mirror_url + MANIFEST_NAME,
                      extract=True, quiet=ctx.quiet)
    return f"{len(report.archives)} archives, {report.fetched / 2**20:.1f} MiB from {ctx.mirror_url}, md5-checked, extracted"


def step_verify(ctx: DemoContext) -> str:
    report = check_root(ctx.root)
    if not report.ok:
        raise RuntimeError("verification failed:\n" + "\n".join(report.problems))
    return "archives match their md5s (remembered), the extracted tree is complete"


def step_index(ctx: DemoContext) -> str:
    ctx.index = build_index(ctx.root)
    if ctx.index.incomplete or ctx.index.strays:
        raise RuntimeError(f"{len(ctx.index.incomplete)} incomplete triplets, {len(ctx.index.strays)} stray files")
    ctx.splits = compute_splits(ctx.index)
    for name in ctx.split_names:
        ctx.splits[name]  # raises with the reason if a split came out empty
        ctx.results[name, "core"] = fingerprint(from_core(ctx.root, ctx.splits[name]))
    counts = ", ".join(f"{name} {len(ctx.splits.members[name])}" for name in ctx.split_names)
    return (f"{len(ctx.index)} triplets in {len(ctx.index.scene_counts)} scenes, {len(ctx.index.dfc2020)} DFC2020 "
            f"patches; {counts}")


def _load_all(ctx: DemoContext, ecosystem: str, read: Callable[[str], object]) -> str:
    for name in ctx.split_names:
        ctx.results[name, ecosystem] = fingerprint(read(name))
    return "; ".join(f"{name} {ctx.results[name, ecosystem].count}" for name in ctx.split_names)


def _quiet_frameworks() -> None:
    """Keep the frameworks' own logging and progress bars out of the demo's report."""
    for name in ("absl", "tensorflow", "datasets", "tensorflow_datasets"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Only a framework that is already loaded is quietened (importing one here would load it).
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()
        datasets.utils.logging.set_verbosity_error()
    if "tensorflow_datasets" in sys.modules:
        import tensorflow_datasets as tfds

        tfds.disable_progress_bar()


def step_torchgeo(ctx: DemoContext) -> str:
    return "torchgeo.datasets.SEN12MS(root, split=…): " + _load_all(ctx, "torchgeo", lambda s: from_torchgeo(ctx.root, s))


def step_tfds(ctx: DemoContext) -> str:
    # TensorFlow's C++ start-up lines go straight to file descriptor 2, and TFDS prints its
    # "Downloading and preparing …" lines: both kept out of the demo's report.
    with _native_stderr_captured(), contextlib.redirect_stdout(io.StringIO()):
        import sen12ms_plugins.tfds  # noqa: F401  (deferred: the [tfds] extra; registers the builder)

        _quiet_frameworks()
        data_dir = ctx.workdir / "tfds"
        counts = _load_all(ctx, "tfds", lambda s: from_tfds(ctx.root, s, data_dir))
    return 'tfds.load("sen12ms", split=…): ' + counts


@contextmanager
def _native_stderr_captured() -> Iterator[None]:
    """Send what native code writes to fd 2 to a temporary file for the duration; show it
    only if the block fails (so a real error keeps its diagnostics)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def step_hf(ctx: DemoContext) -> str:
    # deferred: the [hf] extra, and `datasets` reads the isolated cache's environment at import
    from ..hf.prepare import prepare_hf

    _quiet_frameworks()
    prepare_hf(ctx.root, cache_dir=ctx.hf_cache)
    return 'datasets.load_dataset("sen12ms", "all", split=…): ' + _load_all(ctx, "hf", lambda s: from_hf(s, ctx.hf_cache))


def step_analysis(ctx: DemoContext) -> str:
    out = ctx.workdir / "analysis"
    stats = compute_stats(ctx.root, index=ctx.index)
    stats.write(out)
    write_class_charts(stats, out)
    drawn = make_map(ctx.root, out / "map.png")
    unlocated = f" ({drawn.dfc2020_unlocated} DFC2020 patches left out: georeference stripped)" \
        if drawn.dfc2020_unlocated else ""
    where = out if ctx.kept else "the work folder (removed at the end: --keep keeps it)"
    return f"statistics, charts and a map of {len(drawn.scenes)} scenes{unlocated} in {where}"


STEPS: list[tuple[str, Callable[[DemoContext], str]]] = [
    ("build the sample as the 12 archives", step_sample),
    ("download from the local mirror and extract", step_download),
    ("add the DFC2020 zips", step_add_dfc2020),
    ("verify", step_verify),
    ("index and split", step_index),
    ("load every split with torchgeo", step_torchgeo),
    ("load every split with TensorFlow Datasets", step_tfds),
    ("load every split with Hugging Face datasets", step_hf),
    ("class statistics and world map", step_analysis),
]


def summary_rows(ctx: DemoContext) -> tuple[list[list[object]], list[str]]:
    """Table rows (split, ecosystem, count, first ids, checksum, agrees) and the disagreements."""
    rows, problems = [], []
    for name in ctx.split_names:
        reference = ctx.results.get((name, "core"))
        for ecosystem in ECOSYSTEMS:
            got = ctx.results.get((name, ecosystem))
            if got is None:
                rows.append([name, ecosystem, "-", "not loaded", "-", "-"])
                problems.append(f"{name}: {ecosystem} did not load")
                continue
            difference = "no reference" if reference is None else got.difference(reference)
            same = difference is None
            if not same:
                problems.append(f"{name}: {ecosystem} differs from the core: {difference}")
            rows.append([name, ecosystem, got.count, got.first_ids(), got.sha256[:16], "yes" if same else "NO"])
    return rows, problems


def _write_report(path: Path, ctx: DemoContext, steps: list[dict[str, object]], problems: list[str], ok: bool) -> None:
    results = {}
    for (split, ecosystem), got in sorted(ctx.results.items()):
        reference = ctx.results.get((split, "core"))
        results.setdefault(split, {})[ecosystem] = {
            "count": got.count,
            "ids": list(got.ids),
            "sha256": got.sha256,
            "fields": sorted({name for fields in got.digests.values() for name in fields}),
            "difference": None if reference is None else got.difference(reference),
        }
    data = {"ok": ok, "root": str(ctx.root), "steps": steps, "problems": problems, "results": results}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(data, indent=1) + "\n").encode())


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_demo(workdir: str | Path | None = None, *, patch_size: int = facts.PATCH_SIZE,
             patches_per_scene: int = DEMO_PATCHES_PER_SCENE, layout: SampleLayout | str = SampleLayout.COMPACT,
             lc_dtype: str = "uint16", dfc2020_s1_dtype: str = "float32", dfc2020_dtype: str = "uint8",
             dfc2020_structure: ZipStructure | str = ZipStructure.SET, keep: bool = False, quiet: bool = False,
             report: str | Path | None = None) -> bool:
    """Run every step; True when all succeeded and every ecosystem agreed with the core.

    ``layout`` and ``lc_dtype`` are the sample's (:func:`~.sample.make_sample`), the
    ``dfc2020_*`` options its DFC2020 zips' (:func:`~.dfc2020_sample.make_dfc2020_sample`); a
    value they refuse (an odd patch size for the real layout) is a ValueError before anything runs.

    A temporary work folder is removed afterwards unless ``keep``; a given one is kept.
    ``report`` names a JSON file to write the outcome to (steps, and per split and
    ecosystem: ids, pixel checksum, difference from the core).
    """
    if "datasets" in sys.modules:  # its cache location and offline mode are read at import
        raise RuntimeError("run_demo must run before `datasets` is imported")
    layout = check_sample_options(patch_size, layout, lc_dtype)
    structure = check_dfc2020_options(dfc2020_s1_dtype, dfc2020_dtype, dfc2020_structure)
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="sen12ms-demo-")) if own else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    if any(work.iterdir()):
        raise RootError(f"{work}: the demo's work folder must be empty")
    ctx = DemoContext(work, patch_size, patches_per_scene, layout, lc_dtype, quiet, dfc2020_s1_dtype, dfc2020_dtype,
                      structure)
    ctx.kept = not own or keep
    ok = True
    done: list[dict[str, object]] = []
    started = time.perf_counter()
    try:
        with _environment(isolated_env(ctx.hf_cache)), serve_folder(ctx.mirror) as url:
            ctx.mirror_url = url
            for n, (title, step) in enumerate(STEPS, start=1):
                print(f"[{n}/{len(STEPS)}] {title} …", flush=True)
                t = time.perf_counter()
                try:
                    detail = step(ctx)
                except Exception as exc:  # noqa: BLE001  (the demo reports any failure, then stops)
                    done.append({"step": title, "ok": False, "error": f"{type(exc).__name__}: {exc}"})
                    print(f"      FAILED: {type(exc).__name__}: {exc}", flush=True)
                    if not quiet:
                        traceback.print_exc()
                    ok = False
                    break
                done.append({"step": title, "ok": True, "detail": detail, "seconds": round(time.perf_counter() - t, 2)})
                print(f"      {detail} ({time.perf_counter() - t:.1f} s)", flush=True)
        rows, problems = summary_rows(ctx)
        print()
        print_table(["split", "ecosystem", "patches", "first ids", "pixel sha256", "same as core"], rows)
        for problem in problems if ok else []:
            print(f"  {problem}")
        ok = ok and not problems
        if report is not None:
            _write_report(Path(report), ctx, done, problems, ok)
    finally:
        if ctx.kept:
            print(f"\nwork folder kept: {work} (root SEN12MS/, tfds/, hf-cache/, analysis/)")
        else:
            shutil.rmtree(work, ignore_errors=True)
            print("\nthe temporary work folder was removed; --keep (or --workdir DIR) keeps the root, the "
                  "prepared TFDS and Hugging Face data, the statistics and the map")
    print(f"\n{'OK' if ok else 'FAILED'} ({time.perf_counter() - started:.0f} s)")
    return ok
