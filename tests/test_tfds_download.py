"""The TFDS builder without a local copy, asked to download (``download=True``): it fills
the root with the core downloader (a real HTTP mirror of the sample archives on loopback:
the shared ``http_mirror`` fixture; the sample's md5s), then prepares from it.
What happens without ``download=True`` is in ``tests/test_tfds_root_check.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tensorflow_datasets as tfds

import sen12ms_plugins.tfds  # noqa: F401  (registers the builder)
from sen12ms_plugins.acquisition.download import DownloadError
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.root import ENV_VAR
from sen12ms_plugins.dataset.splits import SPLITS, compute_splits
from sen12ms_plugins.demo.sample import MANIFEST_NAME


@pytest.fixture(autouse=True)
def _no_root_from_environment(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def _from(mirror) -> dict:
    return {"download": True, "mirrors": [mirror.url], "checksums": mirror.url + MANIFEST_NAME}


def _archive_requests(mirror) -> list[str]:
    return sorted(r.name for r in mirror.requests() if r.name != MANIFEST_NAME)


def _assert_prepared_from(builder, root: Path, sample_root: Path) -> None:
    assert build_index(root).triplets == build_index(sample_root).triplets
    splits = compute_splits(build_index(sample_root))
    assert {s: builder.info.splits[s].num_examples for s in SPLITS} == {s: len(splits[s]) for s in SPLITS}


def test_missing_root_is_filled_by_the_core_downloader(tmp_path, http_mirror, sample_root):
    root = tmp_path / "SEN12MS"  # does not exist yet
    builder = tfds.builder("sen12ms/s2", data_dir=tmp_path / "tfds", root=str(root), **_from(http_mirror))
    builder.download_and_prepare()
    assert _archive_requests(http_mirror) == sorted(facts.ARCHIVE_MD5)  # every archive, once
    _assert_prepared_from(builder, root, sample_root)

    # The root now holds the whole tree: another preparation transfers nothing.
    http_mirror.clear()
    again = tfds.builder("sen12ms/s1s2", data_dir=tmp_path / "tfds", root=str(root), **_from(http_mirror))
    again.download_and_prepare()
    assert _archive_requests(http_mirror) == []
    assert again.info.splits["holdout"].num_examples == builder.info.splits["holdout"].num_examples


def test_empty_manual_folder_is_the_download_target(tmp_path, http_mirror, sample_root):
    manual = tmp_path / "manual"
    builder = tfds.builder("sen12ms/s2", data_dir=tmp_path / "tfds", **_from(http_mirror))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    _assert_prepared_from(builder, manual, sample_root)


def test_interrupted_download_fails_then_is_completed_not_built_partially(tmp_path, http_mirror, sample_root):
    broken = "ROIs1970_fall_s2.tar.gz"
    root = tmp_path / "SEN12MS"
    http_mirror.add_fault(broken, "status", times=None, status=404)
    builder = tfds.builder("sen12ms/s2", data_dir=tmp_path / "tfds", root=str(root), **_from(http_mirror))
    with pytest.raises(DownloadError, match=broken):
        builder.download_and_prepare()
    assert not builder.is_prepared()
    assert not Path(builder.data_dir).exists()
    # The other archives are in place: the root has triplets, but not all of them.
    assert 0 < len(build_index(root).triplets) < len(build_index(sample_root).triplets)

    # Next time the mirror delivers: the builder finishes the download instead of
    # building from the partial tree, and fetches only what is missing.
    http_mirror.clear()
    builder = tfds.builder("sen12ms/s2", data_dir=tmp_path / "tfds", root=str(root), **_from(http_mirror))
    builder.download_and_prepare()
    assert _archive_requests(http_mirror) == [broken]
    _assert_prepared_from(builder, root, sample_root)
