"""Data prepared in a TFDS ``data_dir`` is served only for the root it was prepared from, as
that root was then; nothing is rebuilt unasked, not even after the builder's version changed.

``tfds.load`` skips ``download_and_prepare`` once a version folder is prepared, so before
2.0.0 another root, a misspelled root or a root whose files changed all got the old
examples without a word.  Every case is reproduced here with two real sample roots told
apart by their patch size, through the calls users make: ``tfds.load`` (default
``download=True``, and ``download=False``), ``builder.download_and_prepare`` and
``tfds.data_source``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

import sen12ms_plugins.tfds  # noqa: F401  (registers the builder)
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.root import ENV_VAR
from sen12ms_plugins.dataset.splits import compute_splits
from sen12ms_plugins.demo.sample import make_sample
from sen12ms_plugins.errors import PreparedDataMismatchError, RootError

#: The call the errors name to prepare again (TFDS's own mode for it), as the user pastes it.
PREPARE_AGAIN = ('tfds.load(..., download_and_prepare_kwargs={"download_config": tfds.download.DownloadConfig('
                 'download_mode=tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS)}) (`tfds build --overwrite`)')
AGAIN = {"download_config": tfds.download.DownloadConfig(download_mode=tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS)}


@pytest.fixture(autouse=True)
def _no_root_from_environment(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    """Two sample roots: ``a`` of 8 px patches, ``b`` of 16 px patches from another seed."""
    base = tmp_path_factory.mktemp("provenance")
    make_sample(base / "a", patch_size=8, patches_per_scene=1)
    make_sample(base / "b", patch_size=16, patches_per_scene=2, seed=1)
    return {"a": base / "a", "b": base / "b"}


def _holdout(root: Path) -> list[str]:
    return sorted(p.name for p in compute_splits(build_index(root))["holdout"])


def _load(data_dir: Path, root: Path | str | None, **kwargs) -> list[dict]:
    builder_kwargs = {} if root is None else {"root": str(root)}
    ds = tfds.load("sen12ms/s2", split="holdout", data_dir=data_dir, builder_kwargs=builder_kwargs, **kwargs)
    return list(tfds.as_numpy(ds))


def _snapshot(data_dir: Path) -> dict[str, int]:
    """Every file under ``data_dir`` with its modification time: what a rebuild would change."""
    return {str(p.relative_to(data_dir)): p.stat().st_mtime_ns for p in sorted(data_dir.rglob("*"))}


@pytest.fixture
def prepared(tmp_path, roots) -> Path:
    """A data_dir prepared from root ``a``, as the README's call does it."""
    data_dir = tmp_path / "tfds"
    examples = _load(data_dir, roots["a"])
    assert sorted(e["id"].decode() for e in examples) == _holdout(roots["a"])
    return data_dir


def test_the_preparation_records_its_root_and_content_stamp(prepared, roots):
    builder = tfds.builder("sen12ms/s2", data_dir=prepared)
    record = json.loads((Path(builder.data_dir) / "sen12ms_source.json").read_text())
    from sen12ms_plugins.dataset.index import content_stamp  # the same stamp the Hugging Face key is made of

    assert record["version"] == 1 and record["root"] == str(roots["a"].resolve())
    assert record["content_stamp"] == content_stamp(build_index(roots["a"]))
    assert (record["config"], record["builder_version"], record["patch_size"]) == ("s2", "2.0.0", 8)


def test_the_same_root_is_served_without_rebuilding(prepared, roots):
    before = _snapshot(prepared)
    assert sorted(e["id"].decode() for e in _load(prepared, roots["a"])) == _holdout(roots["a"])
    assert _snapshot(prepared) == before


@pytest.mark.parametrize("download", [True, False], ids=["download", "no-download"])
def test_another_root_is_an_error_naming_both(prepared, roots, download):
    before = _snapshot(prepared)
    with pytest.raises(PreparedDataMismatchError) as error:
        _load(prepared, roots["b"], download=download)
    version_dir = prepared / "sen12ms" / "s2" / "2.0.0"
    assert str(error.value) == (
        f"{version_dir} does not hold {roots['b'].resolve()} as it is now, which was prepared from "
        f"{roots['a'].resolve()}: prepare it again from {roots['b'].resolve()} with {PREPARE_AGAIN}, "
        f"or give another data_dir")
    assert "\n" not in str(error.value)
    assert _snapshot(prepared) == before, "nothing was rebuilt"


def test_another_root_in_the_environment_is_the_same_error(prepared, roots, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(roots["b"]))
    with pytest.raises(PreparedDataMismatchError, match=f"which was prepared from {roots['a'].resolve()}"):
        _load(prepared, None)


def test_download_and_prepare_with_another_root_is_the_same_error(prepared, roots):
    builder = tfds.builder("sen12ms/s2", data_dir=prepared, root=str(roots["b"]))
    with pytest.raises(PreparedDataMismatchError, match="which was prepared from"):
        builder.download_and_prepare()


@pytest.mark.parametrize("load", ["first", "prepared"])
def test_a_misspelled_root_is_always_the_one_line_root_error(tmp_path, prepared, roots, load):
    data_dir = tmp_path / "fresh" if load == "first" else prepared
    before = _snapshot(prepared)
    typo = roots["a"].parent / "aa"
    with pytest.raises(RootError) as error:
        _load(data_dir, typo)
    assert str(error.value).startswith(f"{typo}: SEN12MS root does not exist; to download SEN12MS into it run ")
    assert "\n" not in str(error.value)
    assert _snapshot(prepared) == before and not (tmp_path / "fresh").exists()


def test_a_root_whose_files_changed_is_an_error(tmp_path, roots):
    root = tmp_path / "root"
    shutil.copytree(roots["a"], root)
    data_dir = tmp_path / "tfds"
    _load(data_dir, root)
    victim = next(root.glob("ROIs1158_spring/s2_*/*.tif"))
    data = victim.read_bytes()
    victim.write_bytes(data)  # rewritten in place: same name and size, a new modification time
    os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 10**9))
    with pytest.raises(PreparedDataMismatchError) as error:
        _load(data_dir, root)
    assert f"does not hold {root.resolve()} as it is now, which was prepared from it before its files changed" in (
        str(error.value))


def test_preparing_again_is_asked_for_and_then_served(prepared, roots):
    examples = _load(prepared, roots["b"], download_and_prepare_kwargs=AGAIN)
    assert sorted(e["id"].decode() for e in examples) == _holdout(roots["b"])
    assert examples[0]["s2"].shape == (16, 16, 13)
    assert sorted(e["id"].decode() for e in _load(prepared, roots["b"])) == _holdout(roots["b"])  # served now
    with pytest.raises(PreparedDataMismatchError, match=f"which was prepared from {roots['b'].resolve()}"):
        _load(prepared, roots["a"])


def test_without_a_root_the_prepared_data_is_served(prepared, roots):
    """No root by argument nor environment: what the data_dir holds (how prepared data is read
    where the GeoTIFFs are not); the record says where it came from."""
    examples = _load(prepared, None)
    assert sorted(e["id"].decode() for e in examples) == _holdout(roots["a"])


def test_data_saying_nothing_of_its_root_is_an_error(prepared, roots):
    record = prepared / "sen12ms" / "s2" / "2.0.0" / "sen12ms_source.json"
    record.unlink()
    with pytest.raises(PreparedDataMismatchError, match="which does not say which root it was prepared from"):
        _load(prepared, roots["a"])


def test_data_source_checks_the_root_too(tmp_path, roots):
    data_dir = tmp_path / "ar"
    tfds.builder("sen12ms/s2", data_dir=data_dir, root=str(roots["a"])).download_and_prepare(
        file_format="array_record")
    source = tfds.data_source("sen12ms/s2", split="holdout", data_dir=data_dir, builder_kwargs={"root": str(roots["a"])})
    assert sorted(source[i]["id"].decode() for i in range(len(source))) == _holdout(roots["a"])
    with pytest.raises(PreparedDataMismatchError, match="which was prepared from"):
        tfds.data_source("sen12ms/s2", split="holdout", data_dir=data_dir, builder_kwargs={"root": str(roots["b"])})


# --- the version changed: nothing is rebuilt unasked -------------------------------------------


def _as_older_version(data_dir: Path, version: str = "1.0.0") -> Path:
    """Make the prepared 2.0.0 folder look like one an older release left: the same files under
    ``version``, whose dataset_info.json says that version (what TFDS reads a version from)."""
    config_dir = data_dir / "sen12ms" / "s2"
    old = config_dir / version
    (config_dir / "2.0.0").rename(old)
    info = json.loads((old / "dataset_info.json").read_text())
    info["version"] = version
    (old / "dataset_info.json").write_text(json.dumps(info))
    return old


@pytest.mark.parametrize("download", [True, False], ids=["download", "no-download"])
def test_an_older_version_is_not_rebuilt_unasked(prepared, roots, download):
    old = _as_older_version(prepared)
    before = _snapshot(prepared)
    with pytest.raises(PreparedDataMismatchError) as error:
        _load(prepared, roots["a"], download=download)
    assert str(error.value) == (
        f"{old.parent} holds sen12ms 1.0.0, not 2.0.0, the version this sen12ms-plugins reads (labels: a fixed-size "
        f"multi-hot (bool [11], entry k = dfc class k) instead of a variable-length list, so every config batches "
        f"with ds.batch(n)): prepare 2.0.0 with {PREPARE_AGAIN}, or read 1.0.0 as it is with "
        f"tfds.builder_from_directory({str(old)!r})")
    assert _snapshot(prepared) == before, "no 2.0.0 folder was started"
    builder = tfds.builder("sen12ms/s2", data_dir=prepared, root=str(roots["a"]))
    with pytest.raises(PreparedDataMismatchError, match="holds sen12ms 1.0.0, not 2.0.0"):
        builder.download_and_prepare()
    # the way out the message names: the old data as it is, read-only
    old_builder = tfds.builder_from_directory(str(old))
    assert old_builder.info.splits["holdout"].num_examples == len(_holdout(roots["a"]))


def test_an_older_version_is_rebuilt_when_asked(prepared, roots):
    _as_older_version(prepared)
    examples = _load(prepared, roots["a"], download_and_prepare_kwargs=AGAIN)
    assert sorted(e["id"].decode() for e in examples) == _holdout(roots["a"])
    assert (prepared / "sen12ms" / "s2" / "2.0.0" / "dataset_info.json").is_file()
    assert (prepared / "sen12ms" / "s2" / "1.0.0").is_dir(), "the old version is left where it is"


def test_a_first_preparation_beside_other_configs_is_not_refused(prepared, roots, tmp_path):
    """Only another *version* of the same config stops a build; other configs are other folders."""
    ds = tfds.load("sen12ms/s1s2", split="holdout", data_dir=prepared, builder_kwargs={"root": str(roots["a"])})
    assert len(ds) == len(_holdout(roots["a"]))


# --- batches and what is printed -----------------------------------------------------------------


@pytest.mark.parametrize("config", ["all", "s2", "s1s2"])
def test_every_config_batches_as_tf_data_users_write_it(tmp_path, roots, config):
    ds = tfds.load(f"sen12ms/{config}", split="train", data_dir=tmp_path, builder_kwargs={"root": str(roots["b"])})
    batch = next(iter(tfds.as_numpy(ds.batch(4))))
    assert batch["labels"].shape == (4, 11) and batch["labels"].dtype == np.bool_
    assert batch["s2"].shape == (4, 16, 16, 13) and batch["s2"].dtype == np.uint16
    assert batch["season"].dtype == np.int64 and batch["id"].shape == (4,)
    builder = tfds.builder(f"sen12ms/{config}", data_dir=tmp_path)
    assert builder.info.features["season"].names == ["spring", "summer", "fall", "winter"]


def test_loading_prints_no_deprecation_lines(prepared, roots):
    """TFDS's decoder of raw-bytes tensors read a deprecated attribute once per such feature and
    logged seven "`FeatureConnector.dtype` is deprecated" lines per process."""
    code = (f"import sen12ms_plugins.tfds, tensorflow_datasets as tfds\n"
            f"ds = tfds.load('sen12ms/s2', split='holdout', data_dir={str(prepared)!r}, "
            f"builder_kwargs={{'root': {str(roots['a'])!r}}})\n"
            f"print(len(list(ds)))\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == [str(len(_holdout(roots["a"])))]
    assert "deprecated" not in done.stderr, done.stderr[-3000:]
