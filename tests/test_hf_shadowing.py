"""What the name ``sen12ms`` means to ``datasets.load_dataset`` when a folder called ``sen12ms``
gets in the way, and what ``prepare-hf`` does about what it left in the cache.

The trap, reproduced with real processes: a user's SEN12MS root called ``sen12ms`` in the
working directory.  ``load_dataset("sen12ms", split="holdout")`` there loads that folder
(datasets' ``imagefolder`` of its GeoTIFFs: "Unknown split") and caches it under the name as
``sen12ms/default``; from then on the call without a configuration, anywhere, returned that
folder's rows without a word (the cache builder takes the newest entry).  The call the README
gives names the configuration, ``load_dataset("sen12ms", "all", split=…)``: it reads only
``sen12ms/all`` entries, so nothing can shadow it silently, and in the folder holding
``sen12ms/`` it fails loudly and caches nothing.  ``prepare-hf`` lists such foreign entries,
and removes them with ``--remove-foreign``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import compute_splits

from .test_hf_prepare import _env

#: load_dataset in a fresh process: argv = config ("" for none), split; prints what came back.
LOAD = r"""
import json, sys
import datasets
config, split = sys.argv[1] or None, sys.argv[2]
ds = datasets.load_dataset("sen12ms", config, split=split)
print(json.dumps({"columns": ds.column_names, "rows": len(ds), "builder": ds.info.builder_name,
                  "config": ds.info.config_name, "ids": list(ds["id"]) if "id" in ds.column_names else None}))
"""


def _load(home: Path, cwd: Path, config: str, split: str) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, "-c", LOAD, config, split], cwd=cwd, env=_env(home), capture_output=True,
                          text=True, timeout=300, check=False)


def _loaded(done: subprocess.CompletedProcess) -> dict:
    import json

    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _prepare_hf(home: Path, root: Path, *options: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", "prepare-hf", "--root", str(root), *options],
                          env=_env(home), cwd=home.parent, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _entries(home: Path) -> list[str]:
    """Every entry under the name in the cache, as <config>/<version>/<name>."""
    return sorted(p.relative_to(home / "datasets" / "sen12ms").as_posix()
                  for p in (home / "datasets" / "sen12ms").glob("*/*/*"))


@pytest.fixture
def project(sample_root, tmp_path) -> Path:
    """A working directory holding the user's SEN12MS root under the name ``sen12ms``."""
    cwd = tmp_path / "project"
    cwd.mkdir()
    (cwd / "sen12ms").symlink_to(sample_root, target_is_directory=True)
    return cwd


def test_the_named_call_cannot_be_shadowed_and_prepare_hf_removes_what_shadowed_the_bare_one(
        sample_root, project, tmp_path):
    home = tmp_path / "hf"
    prepared = _prepare_hf(home, sample_root)
    assert 'load it with: datasets.load_dataset("sen12ms", "all", split="holdout")' in prepared.stdout
    ours = _entries(home)
    holdout = [p.name for p in compute_splits(build_index(sample_root))["holdout"]]
    elsewhere = tmp_path / "elsewhere"

    # In the folder holding sen12ms/, the README's call fails loudly, and caches nothing.
    done = _load(home, project, "all", "holdout")
    assert done.returncode != 0 and "BuilderConfig 'all' not found" in done.stderr, done.stderr[-3000:]
    assert _entries(home) == ours

    # The call without a configuration loads the folder instead, and caches it under the name.
    done = _load(home, project, "", "holdout")
    assert done.returncode != 0 and 'Unknown split "holdout"' in done.stderr, done.stderr[-3000:]
    [foreign] = [entry for entry in _entries(home) if entry not in ours and not entry.endswith(".lock")]
    assert foreign.startswith("default/0.0.0/")

    # From then on, anywhere, that call silently returns the folder's images ...
    shadowed = _loaded(_load(home, elsewhere, "", "train"))
    assert (shadowed["builder"], shadowed["columns"]) == ("imagefolder", ["image", "label"])
    # ... while the README's call still returns SEN12MS.
    named = _loaded(_load(home, elsewhere, "all", "holdout"))
    assert (named["config"], named["ids"]) == ("all", holdout)

    # prepare-hf says what the foreign entry is and how to remove it, and leaves it ...
    folder = home / "datasets" / "sen12ms" / foreign
    said = _prepare_hf(home, sample_root)
    rows = len(list(sample_root.glob("*/*/*.tif")))
    assert (f"not from prepare-hf (datasets' 'imagefolder' builder, configuration 'default', splits train {rows}, "
            f"columns image, label; load_dataset(\"sen12ms\") without a configuration may load it): {folder}; "
            f"remove it with: sen12ms prepare-hf --remove-foreign") in said.stdout.splitlines()
    assert "kept, prepared from an unknown root" not in said.stdout
    assert folder.is_dir()

    # ... and removes it when asked, with the lock files datasets keeps for it.
    removed = _prepare_hf(home, sample_root, "--remove-foreign")
    assert "removed, not from prepare-hf (datasets' 'imagefolder' builder, configuration 'default', " in removed.stdout
    assert _entries(home) == ours and not (home / "datasets" / "sen12ms" / "default").exists()
    assert not [p for p in (home / "datasets").glob("*.lock") if "_sen12ms_default_" in p.name]
    bare = _loaded(_load(home, elsewhere, "", "holdout"))
    assert (bare["config"], bare["ids"]) == ("all", holdout)
