"""The builder's download and verification path, through the download core, from a real HTTP mirror on loopback."""

from __future__ import annotations

import pytest

from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import compute_splits
from sen12ms_plugins.demo.sample import MANIFEST_NAME
from sen12ms_plugins.errors import SEN12MSError
from sen12ms_plugins.hf import Sen12ms

from .servers import FaultyHTTPServer


@pytest.fixture
def mirror(sample_archives):
    with FaultyHTTPServer(sample_archives) as server:
        yield server


def test_download_true_fetches_verifies_extracts_then_prepares(mirror, sample_root, tmp_path):
    root = tmp_path / "root"  # does not exist yet
    builder = Sen12ms(config_name="s2", root=root, download=True, mirrors=[mirror.url],
                      checksums=mirror.url + MANIFEST_NAME, cache_dir=str(tmp_path / "cache"))
    assert mirror.requests() == [] and not root.exists(), "the constructor downloads nothing"
    builder.download_and_prepare()
    assert sorted(build_index(root).triplets) == sorted(build_index(sample_root).triplets)
    core = compute_splits(build_index(root))
    assert list(builder.as_dataset(split="holdout")["id"]) == [p.name for p in core["holdout"]]
    # a second builder finds everything in place: nothing is transferred again
    fetched = len(mirror.requests())
    again = Sen12ms(config_name="s2", root=root, download=True, mirrors=[mirror.url], cache_dir=str(tmp_path / "cache"))
    assert len(mirror.requests()) == fetched
    assert again.cache_dir == builder.cache_dir


def test_verify_true_fails_with_the_problems(mirror, tmp_path):
    root = tmp_path / "root"
    Sen12ms(root=root, download=True, mirrors=[mirror.url], checksums=mirror.url + MANIFEST_NAME,
            cache_dir=str(tmp_path / "cache")).download_and_prepare()
    victim = build_index(root).triplets[3].path(root, "s1")
    victim.unlink()
    builder = Sen12ms(config_name="s2", root=root, verify=True, cache_dir=str(tmp_path / "cache2"))
    with pytest.raises(SEN12MSError, match="verification failed"):
        builder.download_and_prepare()
    assert not list((tmp_path / "cache2").rglob("dataset_info.json"))
