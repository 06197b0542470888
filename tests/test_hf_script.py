"""The classic loading script ``hf_loading_script/sen12ms.py``, and what works without it.

With ``datasets<4`` (CI runs this file in a second environment with datasets 3.6,
the last version that runs scripts) the script loads every split and configuration.
With ``datasets>=4`` the same file checks what users meet there: the script is
refused, and the builder it names is the package's.

Tests for one generation of ``datasets`` are marked ``datasets_version`` and skipped by
``skipif`` in the other, with a reason starting with ``DATASETS_VERSION_SKIP``: the only
skip the SEN12MS_FAIL_ON_SKIP guard (tests/conftest.py) accepts.  Every such test runs in
one of the two CI environments.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
from datasets.info import DatasetInfosDict

from sen12ms_plugins.dataset.ids import parse_patch_id
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import SPLITS, compute_splits
from sen12ms_plugins.reading.configs import CONFIGS
from sen12ms_plugins.reading.reader import read_triplet

from .conftest import DATASETS_VERSION_SKIP

SCRIPT = Path(__file__).resolve().parents[1] / "hf_loading_script" / "sen12ms.py"
SCRIPTS_SUPPORTED = int(datasets.__version__.split(".")[0]) < 4
#: For tests of datasets < 4 (scripts run) ...
WITH_SCRIPTS = pytest.mark.skipif(
    not SCRIPTS_SUPPORTED,
    reason=f"{DATASETS_VERSION_SKIP}: needs datasets<4 (runs loading scripts), this is {datasets.__version__}")
#: ... and for tests of datasets >= 4 (scripts refused).
WITHOUT_SCRIPTS = pytest.mark.skipif(
    SCRIPTS_SUPPORTED,
    reason=f"{DATASETS_VERSION_SKIP}: needs datasets>=4 (refuses loading scripts), this is {datasets.__version__}")

#: The sample (conftest): 7 hold-out scenes x 4 patches.
SAMPLE_HOLDOUT = 28


def test_script_names_the_package_builder():
    spec = importlib.util.spec_from_file_location("sen12ms_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from sen12ms_plugins.hf.builder import Sen12ms

    assert issubclass(module.Sen12ms, Sen12ms) and module.Sen12ms is not Sen12ms
    assert [c.name for c in module.Sen12ms.BUILDER_CONFIGS] == list(CONFIGS)
    assert module.Sen12ms.DEFAULT_CONFIG_NAME == "all"


def _load(**kwargs):
    return datasets.load_dataset(str(SCRIPT), trust_remote_code=True, **kwargs)


@pytest.mark.datasets_version
@WITHOUT_SCRIPTS
def test_script_is_refused_by_datasets_4_and_later(sample_root, tmp_path):
    with pytest.raises(RuntimeError, match="Dataset scripts are no longer supported"):
        datasets.load_dataset(str(SCRIPT), data_dir=str(sample_root), split="holdout", cache_dir=str(tmp_path))


@pytest.mark.datasets_version
@WITH_SCRIPTS
def test_script_loads_every_split(sample_root, tmp_path):
    core = compute_splits(build_index(sample_root))
    loaded = _load(data_dir=str(sample_root), cache_dir=str(tmp_path))
    assert list(loaded) == list(SPLITS)
    for split in SPLITS:
        assert sorted(loaded[split]["id"]) == sorted(p.name for p in core[split])
    holdout = loaded["holdout"]
    assert len(holdout) == SAMPLE_HOLDOUT
    assert holdout["id"] == [p.name for p in core["holdout"]]
    assert holdout.features["s2"].dtype == "uint16"
    for row in holdout.with_format("numpy"):
        truth = read_triplet(sample_root, parse_patch_id(row["id"]))
        for sensor in ("s1", "s2", "lc"):
            np.testing.assert_array_equal(row[sensor], truth[sensor])


@pytest.mark.datasets_version
@WITHOUT_SCRIPTS
def test_the_scripts_builder_as_a_package_with_datasets_4_and_later(sample_root, tmp_path):
    """What replaces the script on datasets 4/5: the same builder, imported from the package."""
    from sen12ms_plugins.hf import Sen12ms

    builder = Sen12ms(config_name="s1s2", data_dir=str(sample_root), cache_dir=str(tmp_path))
    builder.download_and_prepare()
    holdout = builder.as_dataset(split="holdout")
    assert len(holdout) == SAMPLE_HOLDOUT
    assert [k for k in holdout.features if k in ("s1", "s2", "lc")] == ["s1", "s2"]


@pytest.mark.datasets_version
@WITH_SCRIPTS
def test_script_configs_split_argument_and_streaming(sample_root, tmp_path):
    core = compute_splits(build_index(sample_root))
    for name in CONFIGS:
        ds = _load(name=name, data_dir=str(sample_root), split="validation", cache_dir=str(tmp_path))
        assert ds["id"] == [p.name for p in core["validation"]]
        assert ds.info.config_name == name
    stream = _load(data_dir=str(sample_root), split="train", streaming=True, cache_dir=str(tmp_path))
    assert sorted(r["id"] for r in stream) == sorted(p.name for p in core["train"])
    # the root rule: root= beats data_dir
    ds = _load(root=str(sample_root), data_dir=str(tmp_path / "nowhere"), split="holdout", cache_dir=str(tmp_path))
    assert ds["id"] == [p.name for p in core["holdout"]]


def test_exported_directory_loads_in_this_datasets_version(sample_root, tmp_path):
    """The data-only export needs no script: it loads with datasets 3.6 as with 5.x."""
    from sen12ms_plugins.hf import export_hf

    out = tmp_path / "export"
    export_hf(sample_root, out, configs=["s2"], quiet=True)
    core = compute_splits(build_index(sample_root))
    loaded = datasets.load_dataset(str(out), "s2", cache_dir=str(tmp_path / "cache"))
    assert list(loaded) == list(SPLITS)
    assert {s: sorted(loaded[s]["id"]) for s in SPLITS} == {s: sorted(p.name for p in core[s]) for s in SPLITS}
    assert loaded["holdout"].features["s2"].dtype == "uint16"
    stream = datasets.load_dataset(str(out), "s2", split="validation", streaming=True)
    assert [r["id"] for r in stream] == [p.name for p in core["validation"]]


#: Load the script in ``argv[1]`` on the root ``argv[2]`` in a fresh process; print the hold-out ids.
LOAD_SCRIPT = r"""
import json, sys
import datasets
ds = datasets.load_dataset(sys.argv[1], data_dir=sys.argv[2], split="holdout", trust_remote_code=True)
print(json.dumps(list(ds["id"])))
"""


def _isolated(hf_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return env


def _holdout_loaded(script: Path, root: Path, hf_home: Path, cwd: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(script), str(root)], env=_isolated(hf_home),
                          cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _other_root(sample_root: Path, copy_tree) -> Path:
    other = copy_tree(sample_root, "other")
    for pid in compute_splits(build_index(other))["holdout"][:3]:
        for sensor in ("s1", "s2", "lc"):
            pid.path(other, sensor).unlink()
    return other


@pytest.mark.datasets_version
@WITH_SCRIPTS
def test_contributor_save_info_then_another_root_loads(sample_root, copy_tree, tmp_path):
    """The contributor command (``datasets-cli test … --save_info --all_configs``) on one root,
    then the script on another root, in the same HF_HOME: split sizes depend on the root,
    so none is recorded, and the other root's own sizes load."""
    scripts = tmp_path / "hf_loading_script"
    shutil.copytree(SCRIPT.parent, scripts)  # the command writes its card next to the script
    card = (scripts / "README.md").read_bytes()
    home = tmp_path / "hf-home"
    cli = Path(sys.executable).with_name("datasets-cli")
    done = subprocess.run([str(cli), "test", str(scripts / "sen12ms.py"), "--save_info", "--all_configs",
                           "--data_dir", str(sample_root), "--trust_remote_code"], env=_isolated(home), cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert done.stdout.count("sen12ms: no dataset infos recorded: split sizes and array shapes depend on the root") \
        == len(CONFIGS)
    assert (scripts / "README.md").read_bytes() == card, "no split sizes were written into the card"

    other = _other_root(sample_root, copy_tree)
    expected = [p.name for p in compute_splits(build_index(other))["holdout"]]
    assert len(expected) == SAMPLE_HOLDOUT - 3
    assert _holdout_loaded(scripts / "sen12ms.py", other, home, tmp_path) == expected


@pytest.mark.datasets_version
@WITH_SCRIPTS
def test_a_card_with_another_roots_infos_is_not_trusted(sample_root, copy_tree, tmp_path):
    """A card that does hold split sizes and shapes (written by an earlier version of this
    builder, as datasets' own ``_save_infos`` writes them) does not stop another root loading."""
    scripts = tmp_path / "hf_loading_script"
    shutil.copytree(SCRIPT.parent, scripts)
    recorded = datasets.load_dataset_builder(str(scripts / "sen12ms.py"), data_dir=str(sample_root),
                                             cache_dir=str(tmp_path / "c"), trust_remote_code=True)
    recorded.download_and_prepare()
    DatasetInfosDict(all=recorded.info).write_to_directory(str(scripts))
    assert "num_examples: 28" in (scripts / "README.md").read_text()

    other = _other_root(sample_root, copy_tree)
    expected = [p.name for p in compute_splits(build_index(other))["holdout"]]
    assert _holdout_loaded(scripts / "sen12ms.py", other, tmp_path / "hf-home", tmp_path) == expected
