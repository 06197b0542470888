"""``sen12ms prepare-hf``, then ``datasets.load_dataset("sen12ms", …)`` by name, offline, from anywhere.

Every load runs in a fresh process with ``HF_HUB_OFFLINE=1`` and a working directory
other than the repository's, as a user would run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sen12ms_plugins.cli import main
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import compute_splits
from sen12ms_plugins.hf.export import export_hf
from sen12ms_plugins.hf.prepare import prepare_hf

#: Loads the bare name and reports ids, features and whether every pixel equals the reader's.
LOAD = r"""
import json, sys
import numpy as np
import datasets
from sen12ms_plugins.dataset.ids import parse_patch_id
from sen12ms_plugins.reading.reader import read_triplet

root, config, splits = sys.argv[1], sys.argv[2] or None, sys.argv[3].split(",")
out = {}
for split in splits:
    ds = datasets.load_dataset("sen12ms", config, split=split)
    equal = True
    for row in ds.with_format("numpy"):
        truth = read_triplet(root, parse_patch_id(row["id"]))
        for sensor in ("s1", "s2", "lc"):
            if sensor in row:
                equal &= bool(np.array_equal(row[sensor], truth[sensor], equal_nan=sensor == "s1"))
    stream = [r["id"] for r in datasets.load_dataset("sen12ms", config, split=split, streaming=True)]
    out[split] = {"ids": list(ds["id"]), "features": list(ds.features), "pixels_equal": equal,
                  "streamed": stream, "config": ds.info.config_name}
print(json.dumps(out))
"""


def _env(hf_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "SEN12MS_"))}
    env.update(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return env


def _load(hf_home: Path, cwd: Path, root: Path, config: str | None = None, split: str = "holdout") -> dict:
    """Load one split (or several, comma-separated: then a dict per split) in a fresh process."""
    cwd.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-c", LOAD, str(root), config or "", split], cwd=cwd, env=_env(hf_home),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    return got if "," in split else got[split]


@pytest.fixture(scope="module")
def core(sample_root):
    return compute_splits(build_index(sample_root))


@pytest.fixture(scope="module")
def hf_home(sample_root, tmp_path_factory):
    """One documented command, as the user runs it: ``sen12ms prepare-hf --root ROOT``."""
    home = tmp_path_factory.mktemp("hf-home")
    done = subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", "prepare-hf", "--root", str(sample_root)],
                          cwd=tmp_path_factory.mktemp("elsewhere"), env=_env(home), capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'load it with: datasets.load_dataset("sen12ms", "all", split="holdout")' in done.stdout
    assert (home / "datasets" / "sen12ms" / "all").is_dir()
    return home


def test_bare_name_offline_from_another_directory(hf_home, sample_root, core, tmp_path):
    got = _load(hf_home, tmp_path / "some" / "where", sample_root)
    assert got["ids"] == [p.name for p in core["holdout"]]
    assert got["pixels_equal"] is True
    assert got["streamed"] == got["ids"]
    assert got["config"] == "all" and {"s1", "s2", "lc"} <= set(got["features"])


def test_every_split(hf_home, sample_root, core, tmp_path):
    got = _load(hf_home, tmp_path, sample_root, split="train,validation,train_minus_validation")
    for split, result in got.items():
        expected = core[split] if split != "train" else core["train_minus_validation"] + core["validation"]
        assert result["ids"] == [p.name for p in expected]
        assert sorted(result["ids"]) == sorted(p.name for p in core[split])
        assert result["pixels_equal"] is True and result["streamed"] == result["ids"]


def test_configs_side_by_side_and_the_default_stays_all(sample_root, core, tmp_path):
    home = tmp_path / "hf"
    cache = home / "datasets"
    prepare_hf(sample_root, configs=["all"], cache_dir=cache)
    prepare_hf(sample_root, configs=["s2"], cache_dir=cache)  # prepared after all
    bare = _load(home, tmp_path / "cwd", sample_root)
    assert bare["config"] == "all", "without a name, the default configuration"
    named = _load(home, tmp_path / "cwd", sample_root, "s2")
    assert named["config"] == "s2" and "s1" not in named["features"] and named["pixels_equal"]
    assert named["ids"] == [p.name for p in core["holdout"]]


def test_again_reuses(sample_root, tmp_path):
    cache = tmp_path / "cache"
    first = prepare_hf(sample_root, configs=["s2"], cache_dir=cache)
    marker = first.locations["s2"] / "dataset_info.json"
    mtime = marker.stat().st_mtime_ns
    again = prepare_hf(sample_root, configs=["s2"], cache_dir=cache)
    assert again.locations == first.locations and again.removed == []
    assert marker.stat().st_mtime_ns == mtime, "prepared data are reused, not regenerated"
    forced = prepare_hf(sample_root, configs=["s2"], cache_dir=cache, force=True)
    assert forced.locations == first.locations
    assert marker.stat().st_mtime_ns != mtime, "--force regenerates"


def test_local_folder_named_sen12ms_takes_precedence(hf_home, sample_root, tmp_path):
    """Documented: a ./sen12ms folder in the working directory wins over the prepared cache; the
    named call fails loudly where that folder lacks the configuration
    (tests/test_hf_shadowing.py: a SEN12MS root called sen12ms)."""
    cwd = tmp_path / "project"
    export_hf(sample_root, cwd / "sen12ms", configs=["s2"], quiet=True)
    got = _load(hf_home, cwd, sample_root, "s2")
    assert got["config"] == "s2" and "s1" not in got["features"], "the local s2-only export was loaded"
    done = subprocess.run([sys.executable, "-c", "import datasets; datasets.load_dataset('sen12ms', 'all', split='holdout')"],
                          cwd=cwd, env=_env(hf_home), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode != 0 and "BuilderConfig 'all' not found" in done.stderr, done.stderr[-3000:]


def test_local_script_folder_is_an_error(hf_home, sample_root, tmp_path):
    cwd = tmp_path / "project"
    (cwd / "sen12ms").mkdir(parents=True)
    (cwd / "sen12ms" / "sen12ms.py").write_text("# a loading script\n")
    done = subprocess.run([sys.executable, "-c", "import datasets; datasets.load_dataset('sen12ms', split='holdout')"],
                          cwd=cwd, env=_env(hf_home), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode != 0 and "Dataset scripts are no longer supported" in done.stderr


def test_not_prepared_says_so(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import datasets; datasets.load_dataset('sen12ms', split='holdout')"],
                          cwd=tmp_path, env=_env(tmp_path / "empty-hf"), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode != 0 and "sen12ms" in done.stderr


def test_cli_usage_errors(sample_root, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["prepare-hf", "--root", str(sample_root), "--config", "rgb"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["prepare-hf", "--root", str(sample_root), "--num-proc", "0"])
    assert info.value.code == 2
    assert main(["prepare-hf", "--root", str(tmp_path / "missing"), "--cache-dir", str(tmp_path)]) == 1
