"""Generation as an Apache Beam pipeline (DirectRunner, 2 worker processes) gives the
same dataset as the plain generator, through the Python API and through ``tfds build``.

Needs apache-beam (``pip install -e '.[beam,test]'``): without it these tests fail
rather than skip, so a CI without Beam cannot pass by accident.

The runner is named: ``FnApiRunner``, the engine of Beam's local DirectRunner.  Left
to itself, the DirectRunner of Beam 2.77 first tries the Prism runner, which it
downloads from GitHub, and tests never touch the internet.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

import sen12ms_plugins.tfds  # noqa: F401  (registers the builder)
from sen12ms_plugins.dataset.root import ENV_VAR
from sen12ms_plugins.dataset.splits import SPLITS
from sen12ms_plugins.tfds import generation

REPO = Path(__file__).resolve().parent.parent
TWO_PROCESSES = ["runner=FnApiRunner", "direct_num_workers=2", "direct_running_mode=multi_processing"]


@pytest.fixture(autouse=True)
def _no_root_from_environment(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture(autouse=True)
def _beam_installed():
    """Fail (not skip) where apache-beam is missing: this environment cannot test the Beam path."""
    try:
        import apache_beam  # noqa: F401
        import mlcroissant  # noqa: F401  (the tfds command line imports it)
    except ImportError as exc:
        pytest.fail(f"the Beam tests need the beam extra: pip install -e '.[beam,test]' ({exc})", pytrace=False)


def _by_id(data_dir: Path, split: str) -> dict[str, dict]:
    loaded = tfds.as_numpy(tfds.load("sen12ms", split=split, data_dir=data_dir))
    return {e["id"].decode(): e for e in loaded}


def _assert_same_dataset(plain_dir: Path, other_dir: Path) -> None:
    plain = tfds.builder("sen12ms", data_dir=plain_dir).info.splits
    other = tfds.builder("sen12ms", data_dir=other_dir).info.splits
    assert {s: other[s].num_examples for s in SPLITS} == {s: plain[s].num_examples for s in SPLITS}
    for split in SPLITS:
        expected, got = _by_id(plain_dir, split), _by_id(other_dir, split)
        assert got.keys() == expected.keys(), split
        for pid, example in expected.items():
            for name, value in example.items():
                np.testing.assert_array_equal(got[pid][name], value, err_msg=f"{split} {pid} {name}")


@pytest.fixture(scope="module")
def plain_dir(sample_root, tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("plain")
    os.environ.pop(ENV_VAR, None)
    tfds.builder("sen12ms", data_dir=data_dir, root=str(sample_root)).download_and_prepare()
    return data_dir


def test_beam_pipeline_in_two_processes_gives_the_plain_dataset(plain_dir, sample_root, tmp_path, monkeypatch):
    calls_here = []
    original = generation.make_example

    def counting(*args, **kwargs):
        calls_here.append(args[0])
        return original(*args, **kwargs)

    # The workers import the module afresh; only this process sees the patch.
    monkeypatch.setattr(generation, "make_example", counting)
    from apache_beam.options.pipeline_options import PipelineOptions

    builder = tfds.builder("sen12ms", data_dir=tmp_path, root=str(sample_root))
    options = PipelineOptions(flags=[f"--{option}" for option in TWO_PROCESSES])
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(beam_options=options))
    written = sum(builder.info.splits[s].num_examples for s in ("holdout", "validation", "train_minus_validation"))
    assert builder.beam_counters == {"examples": written}
    assert calls_here == [], "examples were made in the test process, not in the Beam workers"
    _assert_same_dataset(plain_dir, tmp_path)
    train = builder.info.splits["train"]
    assert all(os.stat(f).st_nlink == 2 for f in train.filepaths)  # linked, not copied


def _tfds_cli(*args: str, cwd: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    env.pop(ENV_VAR, None)
    result = subprocess.run([sys.executable, "-m", "tensorflow_datasets.scripts.cli.main", "build", *args],
                            capture_output=True, text=True, cwd=cwd, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-4000:]


def test_tfds_build_command_with_beam_pipeline_options(plain_dir, sample_root, tmp_path):
    # The builder folder by path, as `tfds new` users run it, from another folder.
    _tfds_cli(str(REPO / "tfds_builder" / "sen12ms"), "--config=all", f"--data_dir={tmp_path}",
              f"--manual_dir={sample_root}", f"--beam_pipeline_options={','.join(TWO_PROCESSES)}", cwd=tmp_path)
    _assert_same_dataset(plain_dir, tmp_path)


def test_tfds_build_command_by_name_with_imports(plain_dir, sample_root, tmp_path):
    _tfds_cli("sen12ms/all", "--imports=sen12ms_plugins.tfds", f"--data_dir={tmp_path}",
              f"--manual_dir={sample_root}", cwd=tmp_path)
    _assert_same_dataset(plain_dir, tmp_path)
