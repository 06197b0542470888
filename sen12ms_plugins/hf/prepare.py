"""Prepare the ``datasets`` cache so that ``load_dataset("sen12ms")`` works by bare name, offline, anywhere.

How ``datasets`` 4.x/5.x resolves ``load_dataset("sen12ms", …)`` (``datasets/load.py``,
``dataset_module_factory``), in order:

1. a packaged builder of that name (``json``, ``parquet`` …) — there is none called ``sen12ms``;
2. ``./sen12ms/sen12ms.py`` in the working directory — an error ("Dataset scripts are
   no longer supported");
3. a folder ``./sen12ms`` in the working directory — loaded as a data directory;
4. the Hub repository ``sen12ms`` — unless ``HF_HUB_OFFLINE=1``, or the Hub cannot be
   reached, or it has no such repository;
5. the ``datasets`` cache: ``<HF_DATASETS_CACHE>/sen12ms/<config>/<version>/<hash>/``
   (the ``cache`` builder; it logs "Using the latest cached version …").

:func:`prepare_hf` fills step 5 with our builder (:class:`~sen12ms_plugins.hf.Sen12ms`),
so the bare name works from any working directory once steps 3 and 4 find nothing.
``HF_HUB_OFFLINE=1`` makes step 4 certain to find nothing.

Each prepared configuration keeps one copy: older preparations (other roots, other
package versions) are removed, and so are unfinished folders of any configuration,
which would make the cache builder fail.  Without a configuration name the cache
builder takes the most recently modified preparation; the default configuration
(``all``), when prepared, is kept the newest, so the bare name means ``all``.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import datasets

from ..dataset.root import resolve_root
from ..reading.configs import DEFAULT_CONFIG, get_config
from .builder import Sen12ms

DATASET_NAME = "sen12ms"


@dataclass
class PrepareReport:
    """Where each configuration was prepared, and its split sizes."""

    root: Path
    cache_dir: Path
    locations: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    removed: list[Path] = field(default_factory=list)


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
) -> PrepareReport:
    """Prepare ``configs`` of ``root`` (default ``$SEN12MS_ROOT``) in the ``datasets`` cache.

    Afterwards ``load_dataset("sen12ms", split="holdout")`` (or ``load_dataset("sen12ms",
    "s2", …)``) loads them, offline, from any working directory; pass the same
    ``cache_dir`` to ``load_dataset`` when you give one here.  ``force`` regenerates data
    already prepared from this root.
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
    for name in names:
        builder = Sen12ms(config_name=name, root=root, cache_dir=str(cache))
        builder.download_and_prepare(
            num_proc=num_proc, download_mode="force_redownload" if force else "reuse_dataset_if_exists"
        )
        location = Path(builder.cache_dir)
        report.removed += _remove_others(cache / DATASET_NAME / name, keep=location)
        report.locations[name] = location
        report.counts[name] = {split: info.num_examples for split, info in builder.info.splits.items()}
    report.removed += _remove_unfinished(cache / DATASET_NAME, keep=set(report.locations.values()))
    _default_newest(cache / DATASET_NAME)
    return report


def _default_newest(dataset_dir: Path) -> None:
    """Make the default configuration's preparation, if there is one, the newest of all.

    Without a configuration name the cache builder loads the newest preparation, so
    ``load_dataset("sen12ms")`` means ``all`` whenever ``all`` is prepared, whatever was
    prepared after it.
    """
    prepared = [p for p in dataset_dir.glob("*/*/*") if p.is_dir()]
    default = [p for p in prepared if p.parts[-3] == DEFAULT_CONFIG]
    if not default:
        return
    newest_other = max((p.stat().st_mtime for p in prepared if p not in default), default=0.0)
    stamp = max(time.time(), newest_other + 1.0)
    os.utime(max(default, key=lambda p: p.stat().st_mtime), (stamp, stamp))


def _remove_others(config_dir: Path, keep: Path) -> list[Path]:
    """Remove every other ``<version>/<hash>`` folder of one configuration (older or unfinished preparations)."""
    removed = []
    for version in sorted(config_dir.iterdir()):
        if not version.is_dir():
            continue
        for entry in sorted(version.iterdir()):
            if entry.is_dir() and entry.resolve() != keep.resolve():
                shutil.rmtree(entry)
                removed.append(entry)
        if not any(version.iterdir()):
            version.rmdir()
    return removed


def _remove_unfinished(dataset_dir: Path, keep: set[Path]) -> list[Path]:
    """Remove folders of any configuration without ``dataset_info.json`` (left by a killed run):
    the cache builder reads that file in every ``<config>/<version>/<hash>`` folder and fails on one without."""
    removed = []
    for entry in sorted(dataset_dir.glob("*/*/*")):
        if entry.is_dir() and entry not in keep and not (entry / "dataset_info.json").is_file():
            shutil.rmtree(entry)
            removed.append(entry)
    return removed
