"""Prepare the ``datasets`` cache so that ``load_dataset("sen12ms", "all")`` works by name, offline, anywhere.

How ``datasets`` 4.x/5.x resolves ``load_dataset("sen12ms", …)`` (``datasets/load.py``,
``dataset_module_factory``), in order:

1. a packaged builder of that name (``json``, ``parquet`` …) — there is none called ``sen12ms``;
2. ``./sen12ms/sen12ms.py`` in the working directory — an error ("Dataset scripts are
   no longer supported");
3. a folder ``./sen12ms`` in the working directory — loaded as a data directory;
4. the Hub repository ``sen12ms`` — unless ``HF_HUB_OFFLINE=1``, or the Hub cannot be
   reached, or it has no such repository;
5. the ``datasets`` cache: ``<HF_DATASETS_CACHE>/sen12ms/<config>/<version>/<hash>/``
   (the ``cache`` builder; it takes the most recently modified folder, and reads
   ``dataset_info.json`` in every folder it considers).

:func:`prepare_hf` fills step 5 with our builder (:class:`~sen12ms_plugins.hf.Sen12ms`),
whose ``<hash>`` follows what the root holds (the names, sizes and modification times of
its files), so a file rewritten in place is prepared anew.

Steps 3 and 4 can shadow it, and step 5 can hold what they left: ``load_dataset("sen12ms",
…)`` run in a folder holding ``./sen12ms`` caches that folder as ``sen12ms/default`` (an
``imagefolder`` of its GeoTIFFs, say), and from then on the name *without* a configuration
loads whichever folder is newest.  Named, ``load_dataset("sen12ms", "all", …)`` reads only
``sen12ms/all`` entries and cannot be shadowed silently (in a folder holding ``./sen12ms``
it fails, loudly, with "BuilderConfig 'all' not found").  Such an entry is *foreign*: a
finished folder without :data:`~sen12ms_plugins.acquisition.bookkeeping.SOURCE_RECORD`;
``prepare-hf`` says what each one is and removes them when asked (``remove_foreign``).

What it keeps and what it removes:

* while it prepares a folder it holds the lock of ``<hash>.sen12ms-owner`` beside it, a
  file that says which process, root and configuration it is for;
* an unfinished folder (no ``dataset_info.json``) is removed only when its owner file says
  a ``prepare-hf`` run made it and that run is gone (the lock is free).  A folder another
  process is writing, or one ``prepare-hf`` did not make, is left alone and reported;
* a finished preparation of the same root and configuration with another key (the files
  have changed since, or another package version) is replaced; preparations of other
  roots are kept (each prepared folder says its root in :data:`~sen12ms_plugins.acquisition.bookkeeping.SOURCE_RECORD`)
  and reported;
* the folders of the root just prepared are made the newest, its ``all`` configuration
  the newest of all, so the name means the last root prepared, in ``all`` when
  that is prepared.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Sequence

import datasets

from ..acquisition.bookkeeping import SOURCE_RECORD, Record, utc_now
from ..console import write_message
from ..dataset.root import resolve_root
from ..errors import RecordError
from ..reading.configs import CONFIGS, DEFAULT_CONFIG, get_config
from .builder import Sen12ms

try:
    import fcntl
except ImportError:  # not POSIX: no advisory locks, so nothing that might be in use is ever removed
    fcntl = None

DATASET_NAME = "sen12ms"
#: Suffix of the owner file beside each folder ``prepare-hf`` prepares.
OWNER_SUFFIX = ".sen12ms-owner"
#: Suffix ``datasets`` gives the folder it writes into, renamed when complete.
INCOMPLETE_SUFFIX = ".incomplete"


@dataclass
class PrepareReport:
    """Where each configuration was prepared, its split sizes, and what was found beside it."""

    root: Path
    cache_dir: Path
    locations: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Older preparations of this root, and unfinished folders of dead prepare-hf runs.
    removed: list[Path] = field(default_factory=list)
    #: Preparations of other roots (or of an unknown one), kept: ``{folder: its root or None}``.
    kept: dict[Path, str | None] = field(default_factory=dict)
    #: Unfinished folders left alone, and why.
    left_alone: dict[Path, str] = field(default_factory=dict)
    #: Finished folders under the name that no prepare-hf made (no source record): what each is.
    foreign: dict[Path, str] = field(default_factory=dict)
    #: Foreign folders removed (``remove_foreign``): what each was.
    removed_foreign: dict[Path, str] = field(default_factory=dict)


def default_cache_dir() -> Path:
    """The folder ``load_dataset`` looks in: ``$HF_DATASETS_CACHE``, else ``$HF_HOME/datasets``, else ``~/.cache/huggingface/datasets``."""
    return Path(os.path.expanduser(str(datasets.config.HF_DATASETS_CACHE)))


def prepare_hf(
    root: str | os.PathLike[str] | None = None,
    *,
    configs: Sequence[str] = (DEFAULT_CONFIG,),
    cache_dir: str | os.PathLike[str] | None = None,
    num_proc: int | None = None,
    force: bool = False,
    remove_foreign: bool = False,
) -> PrepareReport:
    """Prepare ``configs`` of ``root`` (default ``$SEN12MS_ROOT``) in the ``datasets`` cache.

    Afterwards ``load_dataset("sen12ms", "all", split="holdout")`` (or ``load_dataset("sen12ms",
    "s2", …)``) loads them, offline, from any working directory; pass the same
    ``cache_dir`` to ``load_dataset`` when you give one here.  ``force`` regenerates data
    already prepared from this root as it is now; ``remove_foreign`` removes the foreign
    entries under the name (see the module docstring), which are otherwise reported.
    """
    names = list(dict.fromkeys(configs))
    if not names:
        raise ValueError("no configuration to prepare")
    for name in names:
        get_config(name)  # unknown names fail before any work
    if num_proc is not None and num_proc < 1:
        raise ValueError(f"num_proc must be at least 1, got {num_proc}")
    root = resolve_root(root)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    report = PrepareReport(root=root, cache_dir=cache)
    current: dict[str, str] = {}
    for name in names:
        builder = Sen12ms(config_name=name, root=root, cache_dir=str(cache))
        location = Path(builder.cache_dir)
        with _owning(location, root, name):
            builder.download_and_prepare(
                num_proc=num_proc, download_mode="force_redownload" if force else "reuse_dataset_if_exists"
            )
        report.locations[name] = location
        report.counts[name] = {split: info.num_examples for split, info in builder.info.splits.items()}
        current = {config: builder.fingerprint_for(config) for config in CONFIGS}
    _tidy(cache / DATASET_NAME, root, current, set(report.locations.values()), report, remove_foreign)
    _make_current(cache / DATASET_NAME, root)
    return report


# --- owner files -------------------------------------------------------------------------


def _owner_path(folder: Path) -> Path:
    """``<version>/<hash>.sen12ms-owner`` for ``<version>/<hash>`` and ``<version>/<hash>.incomplete``."""
    name = folder.name.removesuffix(INCOMPLETE_SUFFIX)
    return folder.with_name(name + OWNER_SUFFIX)


@contextlib.contextmanager
def _locked(path: Path, *, wait: bool) -> Iterator[IO[bytes] | None]:
    """The owner file ``path`` opened and locked (``flock``); None when ``wait`` is False
    and another process holds it.  The lock is taken on the file that is at ``path``
    once locked (one removed meanwhile by :func:`_tidy` is opened again)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        f = open(path, "a+b")
        try:
            if fcntl is None:
                yield f if wait else None
                return
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    yield None
                    return
                f.seek(0)
                write_message(f"sen12ms: waiting for {_holder(path, f.read())} to finish preparing {path.name}")
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                same = os.fstat(f.fileno()).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                yield f
                return
        finally:
            f.close()  # closing releases the lock


def _holder(path: Path, data: bytes) -> str:
    """Who holds an owner file, from its record (written by :func:`_owning`)."""
    try:
        owner = Record(path).decode(data)
        return f"{owner['command']} (pid {owner['pid']} on {owner['host']}, root {owner['root']})"
    except (RecordError, KeyError):
        return "another process"  # written by no prepare-hf of this release: the lock still says it is held


@contextlib.contextmanager
def _owning(location: Path, root: Path, config: str) -> Iterator[None]:
    """Hold ``location``'s owner file while it is prepared, saying who prepares it."""
    with _locked(_owner_path(location), wait=True) as f:
        assert f is not None  # waited for it
        owner = {"command": "sen12ms prepare-hf", "pid": os.getpid(), "host": socket.gethostname(),
                 "root": str(root.resolve()), "config": config, "started": utc_now()}
        f.seek(0)
        f.truncate()
        f.write(Record(_owner_path(location)).encode(owner))  # in place: the lock is on this very file
        f.flush()
        yield


# --- what else is in the cache ------------------------------------------------------------


def _folders(dataset_dir: Path) -> list[Path]:
    """Every ``<config>/<version>/<hash>`` folder, as the cache builder globs them."""
    return sorted(p for p in dataset_dir.glob("*/*/*") if p.is_dir())


def _source(folder: Path) -> dict:
    """What a prepared folder says it was made from (:data:`~sen12ms_plugins.acquisition.bookkeeping.SOURCE_RECORD`); empty when
    it says nothing (a folder prepared by something else); RecordError when it cannot be read."""
    return Record(folder / SOURCE_RECORD).read() or {}


def _tidy(dataset_dir: Path, root: Path, current: dict[str, str], keep: set[Path], report: PrepareReport,
          remove_foreign: bool) -> None:
    """Remove preparations of ``root`` made from files it no longer holds as they are
    (another fingerprint than ``current``, per configuration), unfinished folders of
    prepare-hf runs that are gone and, when asked, foreign entries; report everything else
    left alone."""
    this_root = str(root.resolve())
    for folder in _folders(dataset_dir):
        if folder in keep:
            continue
        if not (folder / "dataset_info.json").is_file():
            _tidy_unfinished(folder, report)
            continue
        source = _source(folder)
        if not source:
            _tidy_foreign(folder, dataset_dir.parent, report, remove_foreign)
        elif source.get("root") != this_root:
            report.kept[folder] = source.get("root")
        elif source.get("fingerprint") != current.get(source.get("config")):
            with _locked(_owner_path(folder), wait=False) as f:
                if f is None or _builder_busy(folder):
                    report.left_alone[folder] = "an older preparation of this root, in use by another process"
                    continue
                shutil.rmtree(folder)
                _owner_path(folder).unlink()
            report.removed.append(folder)
    for version in {p.parent for p in [*report.removed, *report.removed_foreign]}:
        with contextlib.suppress(OSError):
            version.rmdir()  # only when empty
            version.parent.rmdir()


def _tidy_unfinished(folder: Path, report: PrepareReport) -> None:
    owner = _owner_path(folder)
    if not owner.is_file():
        report.left_alone[folder] = ("unfinished, not made by prepare-hf (another process may be writing it); "
                                     "load_dataset(\"sen12ms\", ...) of its configuration, or without one, fails while it is "
                                     "there; remove it once nothing writes it")
        return
    with _locked(owner, wait=False) as f:
        if f is None:
            owner_data = owner.read_bytes() if owner.is_file() else b""
            report.left_alone[folder] = f"being prepared by {_holder(owner, owner_data)}"
            return
        if _builder_busy(folder):  # e.g. the builder used directly, finishing what prepare-hf left
            report.left_alone[folder] = "being written by another process (it holds the datasets builder lock)"
            return
        shutil.rmtree(folder)  # its prepare-hf run is gone and nobody else writes it
        owner.unlink()
    report.removed.append(folder)


def _tidy_foreign(folder: Path, cache: Path, report: PrepareReport, remove: bool) -> None:
    """A finished folder no prepare-hf made: say what it is, or remove it (with the lock files
    ``datasets`` keeps for it) when asked and nothing is writing it."""
    what = describe_foreign(folder)
    if not remove:
        report.foreign[folder] = what
        return
    if _builder_busy(folder):
        report.left_alone[folder] = f"{what}; being written by another process (it holds the datasets builder lock)"
        return
    shutil.rmtree(folder)
    for lock in (folder.with_name(folder.name + "_builder.lock"), folder.with_name(folder.name + ".incomplete_info.lock"),
                 cache / (folder.as_posix().replace("/", "_") + ".lock")):  # datasets' own names for them
        lock.unlink(missing_ok=True)
    report.removed_foreign[folder] = what


def describe_foreign(folder: Path) -> str:
    """What a foreign folder under the name holds, from the ``dataset_info.json`` ``datasets`` wrote."""
    try:
        info = json.loads((folder / "dataset_info.json").read_text())
        splits = ", ".join(f"{name} {split.get('num_examples', '?')}" for name, split in (info.get("splits") or {}).items())
        return (f"datasets' {info.get('builder_name')!r} builder, configuration {info.get('config_name')!r}, "
                f"splits {splits or 'none'}, columns {', '.join(info.get('features') or {}) or 'none'}")
    except (OSError, ValueError, AttributeError) as exc:
        return f"a dataset_info.json that cannot be read ({exc})"


def _builder_busy(folder: Path) -> bool:
    """True while a process holds the lock ``datasets`` takes beside a folder it prepares
    (``<hash>_builder.lock``, a ``flock`` through ``filelock``)."""
    lock = folder.with_name(folder.name.removesuffix(INCOMPLETE_SUFFIX) + "_builder.lock")
    if fcntl is None:
        return True  # cannot tell: assume it is in use
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases it
    return False


def _make_current(dataset_dir: Path, root: Path) -> None:
    """Make ``root``'s preparations the newest folders, its default configuration the newest of
    all, so that the cache builder's choice without a configuration name is this root."""
    this_root = str(root.resolve())
    folders = _folders(dataset_dir)
    mine = [p for p in folders if _source(p).get("root") == this_root and (p / "dataset_info.json").is_file()]
    if not mine:
        return
    stamp = max([time.time()] + [p.stat().st_mtime + 1.0 for p in folders if p not in mine])
    for folder in sorted(mine, key=lambda p: p.parts[-3] == DEFAULT_CONFIG):  # the default last: newest
        stamp += 1.0
        os.utime(folder, (stamp, stamp))
