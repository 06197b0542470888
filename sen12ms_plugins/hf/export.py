"""Export a SEN12MS root as a data-only Hugging Face dataset directory (Parquet shards + dataset card).

Layout of the output directory::

    README.md                                       dataset card; YAML ``configs:`` + ``dataset_info``
    data/<config>/<split>-NNNNN-of-MMMMM.parquet    shards of holdout, validation, train_minus_validation
                                                    (and dfc2020_validation, dfc2020_test when present)

``train`` has no shards of its own: the card lists the ``train_minus_validation`` and
``validation`` shards for it.  A split without members in the root (a partial root) is
not exported: one ``EmptySplitWarning`` says which and why, and so does the card.  ``datasets.load_dataset(DIR, CONFIG, split=…)`` reads
it with ``datasets`` 3.x, 4.x and 5.x, offline or with ``streaming=True``, and it can be
uploaded to the Hub as it is.

Shards hold about ``shard_size`` bytes (uncompressed) and row groups at most
``row_group_size`` bytes.  Each shard is written under a hidden temporary name and
renamed when complete; its Parquet footer records what it holds (configuration,
split, shard number, a digest of its patch ids, patch size, package version, a digest of
the features).  An
interrupted export, run again, keeps the shards whose footer matches and writes the
rest; leftover temporary files and shards of an earlier, different export are
removed.  ``README.md`` is removed first and written last, so a directory with a card
is a complete export.  Memory stays flat: each worker holds one row group at a time.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import re
import time
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import pyarrow.parquet as pq

from .. import __version__
from ..console import Progress
from ..dataset.ids import PatchId
from ..dataset.index import build_index
from ..dataset.root import resolve_root
from ..dataset.splits import SPLITS, STORED_SPLITS, compute_splits
from ..errors import ExportError
from ..reading.configs import CONFIGS, DEFAULT_CONFIG, DatasetConfig, get_config
from ..reading.examples import patch_size_of, read_example
from ..reading.reader import mark_announced, probe_layouts
from . import DEFAULT_ROW_GROUP_SIZE, DEFAULT_SHARD_SIZE
from .card import ConfigSummary, write_card
from .features import (
    check_example_size,
    example_nbytes,
    examples_to_table,
    features_digest,
    hf_features,
    parquet_row_nbytes,
)

CARD_NAME = "README.md"
#: Key of the shard identity in the Parquet footer's key-value metadata.
STAMP_KEY = b"sen12ms:shard"
STAMP_FORMAT = 1
COMPRESSION = "zstd"
_SHARD_RE = re.compile(r"(?P<split>\w+?)-(?P<shard>\d{5})-of-(?P<count>\d{5})\.parquet")
_LOCK_NAME = ".sen12ms-export.lock"


@dataclass(frozen=True)
class ShardTask:
    """One Parquet shard to write: which patches, and the identity its footer will carry."""

    config: str
    split: str
    shard: int
    num_shards: int
    patches: tuple[tuple[str, int, int], ...]
    patch_size: int

    @property
    def relpath(self) -> str:
        return f"data/{self.config}/{self.split}-{self.shard:05d}-of-{self.num_shards:05d}.parquet"

    def stamp(self) -> dict[str, Any]:
        digest = hashlib.sha256("\n".join(f"{s}_{c}_p{p}" for s, c, p in self.patches).encode()).hexdigest()
        return {
            "format": STAMP_FORMAT, "package": __version__, "config": self.config, "split": self.split,
            "shard": self.shard, "num_shards": self.num_shards, "rows": len(self.patches),
            "patch_size": self.patch_size, "ids_sha256": digest,
            "features": features_digest(get_config(self.config), self.patch_size),
        }


@dataclass(frozen=True)
class ShardResult:
    relpath: str
    rows: int
    nbytes: int  # uncompressed Arrow bytes
    file_bytes: int
    reused: bool


@dataclass
class ExportReport:
    """What an export wrote: per configuration and split, its shards and sizes."""

    out: Path
    root: Path
    patch_size: int
    configs: tuple[str, ...]
    #: config -> split -> shard results (the stored splits that have members)
    shards: dict[str, dict[str, list[ShardResult]]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def written(self) -> int:
        return sum(1 for c in self.shards.values() for s in c.values() for r in s if not r.reused)

    @property
    def reused(self) -> int:
        return sum(1 for c in self.shards.values() for s in c.values() for r in s if r.reused)

    @property
    def triplets_written(self) -> int:
        return sum(r.rows for c in self.shards.values() for s in c.values() for r in s if not r.reused)


def plan_shards(
    config: DatasetConfig, members: dict[str, Sequence[tuple[str, int, int]]], patch_size: int,
    row_bytes: int, shard_size: int,
) -> list[ShardTask]:
    """Cut each stored split of ``members`` (those of :data:`STORED_SPLITS` with members, in that
    order) into contiguous shards of about ``shard_size`` bytes (sizes differ by one at most)."""
    rows_per_shard = max(1, shard_size // row_bytes)
    tasks = []
    for split, patches in members.items():
        patches = list(patches)
        count = max(1, math.ceil(len(patches) / rows_per_shard))
        base, extra = divmod(len(patches), count)
        start = 0
        for shard in range(count):
            size = base + (1 if shard < extra else 0)
            tasks.append(ShardTask(config.name, split, shard, count, tuple(patches[start:start + size]), patch_size))
            start += size
    return tasks


def read_stamp(path: Path) -> dict[str, Any] | None:
    """The identity recorded in a shard's footer, or None when the file is not a readable shard of ours."""
    try:
        meta = pq.read_metadata(path).metadata or {}
        stamp = json.loads(meta[STAMP_KEY])
        stamp["_written"] = json.loads(meta[b"sen12ms:written"])
        return stamp
    except (OSError, KeyError, ValueError, TypeError):
        return None


def write_shard(root: str, out: str, task: ShardTask, row_group_rows: int) -> ShardResult:
    """Write one shard under a temporary name, then rename it into place."""
    config = get_config(task.config)
    features = hf_features(config, task.patch_size)
    final = Path(out, task.relpath)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    stamp = task.stamp()
    schema = features.arrow_schema
    schema = schema.with_metadata({**(schema.metadata or {}), STAMP_KEY: json.dumps(stamp, sort_keys=True)})
    nbytes = 0
    try:
        # Dictionaries only for the strings: on pixel arrays they cost time and make the
        # uncompressed row-group size unpredictable.
        with pq.ParquetWriter(tmp, schema, compression=COMPRESSION, use_dictionary=["id"]) as writer:
            for start in range(0, len(task.patches), row_group_rows):
                chunk = task.patches[start:start + row_group_rows]
                examples = []
                for raw in chunk:
                    pid = PatchId(*raw)
                    examples.append(check_example_size(read_example(root, pid, config), task.patch_size, root, pid))
                table = examples_to_table(examples, features)
                del examples
                nbytes += table.nbytes
                writer.write_table(table, row_group_size=len(chunk))
            writer.add_key_value_metadata({"sen12ms:written": json.dumps({"nbytes": nbytes})})
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
    return ShardResult(task.relpath, len(task.patches), nbytes, final.stat().st_size, reused=False)


@contextmanager
def _export_lock(out: Path) -> Iterator[None]:
    """Refuse a second export into the same directory while one is running (POSIX advisory lock)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; do not run two exports into one directory
        yield
        return
    path = out / _LOCK_NAME
    with open(path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ExportError(f"{out}: another export is writing into this directory") from None
        try:
            yield
        finally:
            path.unlink(missing_ok=True)  # not part of the dataset (nor of a Hub upload)


def _clean(folder: Path, keep: set[str]) -> None:
    """Remove our temporary files and shards not in ``keep`` (names we did not write are left alone)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        name = entry.name
        ours = _SHARD_RE.fullmatch(name) is not None or (name.startswith(".") and name.endswith(".tmp"))
        if ours and name not in keep and entry.is_file():
            entry.unlink()


def _existing(out: Path, task: ShardTask) -> ShardResult | None:
    path = out / task.relpath
    if not path.is_file():
        return None
    stamp = read_stamp(path)
    if stamp is None:
        return None
    written = stamp.pop("_written")
    if stamp != task.stamp():
        return None
    return ShardResult(task.relpath, len(task.patches), written["nbytes"], path.stat().st_size, reused=True)


def export_hf(
    root: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    *,
    configs: Sequence[str] | None = None,
    num_proc: int = 1,
    shard_size: int = DEFAULT_SHARD_SIZE,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
    quiet: bool = False,
) -> ExportReport:
    """Export ``root`` (default ``$SEN12MS_ROOT``) into ``out`` (see the module docstring).

    ``configs`` defaults to every configuration.  A split without patches in ``root`` is
    left out, with one :class:`~sen12ms_plugins.errors.EmptySplitWarning` saying why (the
    card says it too); a root without any patch is an
    :class:`~sen12ms_plugins.errors.EmptySplitError`, before anything is written.
    """
    names = list(CONFIGS) if not configs else list(dict.fromkeys(configs))
    chosen = [get_config(name) for name in names]
    if num_proc < 1:
        raise ValueError(f"num_proc must be at least 1, got {num_proc}")
    if shard_size < 1 or row_group_size < 1:
        raise ValueError("shard_size and row_group_size must be positive")
    root = resolve_root(root)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder")
    if out.resolve() == root.resolve() or root.resolve() in out.resolve().parents:
        raise ExportError(f"{out}: the export must not go inside the SEN12MS root {root}")
    start = time.monotonic()
    index = build_index(root)
    splits = compute_splits(index)
    kept = splits.with_members(splits.names, doing="the export writes {splits} only")
    stored = tuple(name for name in STORED_SPLITS if name in kept)
    members = {name: [tuple(p) for p in splits[name]] for name in stored}
    patch_size = patch_size_of(root, index)

    out.mkdir(parents=True, exist_ok=True)
    report = ExportReport(out=out, root=root, patch_size=patch_size, configs=tuple(names))
    with _export_lock(out):
        (out / CARD_NAME).unlink(missing_ok=True)
        plans: dict[str, list[ShardTask]] = {}
        for config in CONFIGS.values():
            features = hf_features(config, patch_size)
            row_bytes = example_nbytes(features)
            plans[config.name] = plan_shards(config, members, patch_size, row_bytes, shard_size)
        row_group_rows = {
            c.name: max(1, row_group_size // parquet_row_nbytes(hf_features(c, patch_size))) for c in chosen
        }
        todo: list[ShardTask] = []
        for config in chosen:
            folder = out / "data" / config.name
            folder.mkdir(parents=True, exist_ok=True)
            _clean(folder, {Path(t.relpath).name for t in plans[config.name]})
            report.shards[config.name] = {split: [] for split in stored}
            for task in plans[config.name]:
                done = _existing(out, task)
                if done is not None:
                    report.shards[config.name][task.split].append(done)
                else:
                    todo.append(task)
        results = _run(root, out, todo, row_group_rows, num_proc, quiet)
        for result in results:
            config_name, split = result.relpath.split("/")[1], _SHARD_RE.fullmatch(Path(result.relpath).name)["split"]
            report.shards[config_name][split].append(result)
        for per_split in report.shards.values():
            for shard_list in per_split.values():
                shard_list.sort(key=lambda r: r.relpath)

        # The card describes every configuration complete in `out` for this root,
        # including those of an earlier run that are still valid.
        summaries = []
        for name, tasks in plans.items():
            if name in report.shards:
                shards = report.shards[name]
            else:
                found = [(task.split, _existing(out, task)) for task in tasks]
                if any(result is None for _, result in found):
                    continue
                shards = {split: [r for s, r in found if s == split] for split in stored}
            counts = {split: len(members[split]) for split in stored}
            summaries.append(ConfigSummary(get_config(name), hf_features(get_config(name), patch_size), shards, counts))
        write_card(out / CARD_NAME, summaries, default=DEFAULT_CONFIG, patch_size=patch_size,
                   triplets=sum(len(splits.members[name]) for name in stored),
                   empty=splits.empty(SPLITS))
    report.seconds = time.monotonic() - start
    return report


def _run(
    root: Path, out: Path, todo: list[ShardTask], row_group_rows: dict[str, int], num_proc: int, quiet: bool,
) -> list[ShardResult]:
    """Write the shards, in this process or in ``num_proc`` worker processes."""
    results: list[ShardResult] = []
    total = sum(len(t.patches) for t in todo)
    with Progress(total, "export-hf", unit="triplet", quiet=quiet) as bar:
        if num_proc == 1 or len(todo) <= 1:
            for task in todo:
                results.append(write_shard(str(root), str(out), task, row_group_rows[task.config]))
                bar.update(len(task.patches))
            return results
        # spawn: GDAL and pyarrow hold threads, which fork would copy half-way
        context = multiprocessing.get_context("spawn")
        # A layout the fast reader leaves to rasterio is announced here, once, not by every worker.
        seen = probe_layouts(root, PatchId(*todo[0].patches[0]), get_config(todo[0].config).read_bands())
        with ProcessPoolExecutor(max_workers=min(num_proc, len(todo)), mp_context=context,
                                 initializer=mark_announced, initargs=(seen,)) as pool:
            pending = {
                pool.submit(write_shard, str(root), str(out), task, row_group_rows[task.config]): task
                for task in todo
            }
            while pending:
                done, _ = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    task = pending.pop(future)
                    error = future.exception()
                    if error is not None:
                        for other in pending:
                            other.cancel()
                        raise error
                    results.append(future.result())
                    bar.update(len(task.patches))
    return results
