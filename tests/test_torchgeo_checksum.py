"""``checksum=True`` in the torchgeo plugin: the core's remembered verification, not a re-hash."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torchgeo.datasets
from torchgeo.datasets import DatasetNotFoundError

import sen12ms_plugins.torchgeo  # noqa: F401  (registers the plugin)
from sen12ms_plugins.dataset import facts

from .helpers import patch_md5s, torchgeo_root

#: The class torchgeo users get by name, now that the plugin is registered.
SEN12MS = torchgeo.datasets.SEN12MS
ARCHIVE = facts.archive_name("ROIs1970_fall", "s2")


def notes(error: pytest.ExceptionInfo) -> str:
    return "\n".join(getattr(error.value, "__notes__", []))


@pytest.fixture
def full_root(sample_root, tmp_path) -> Path:
    """A writable root with the tree, the 12 archives and both patch lists."""
    return torchgeo_root(sample_root, tmp_path / "root")


@pytest.fixture
def own_md5s(full_root, monkeypatch) -> list[str]:
    return patch_md5s(monkeypatch, SEN12MS, full_root)


def tamper_keeping_size_and_mtime(path: Path) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    with open(path, "r+b") as f:  # in place: same inode
        f.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_archives_are_verified_once_and_remembered(full_root, own_md5s):
    SEN12MS(full_root, checksum=True)  # hashes the archives and remembers them
    # A change that keeps size, mtime and inode is not seen: nothing is read again ...
    tamper_keeping_size_and_mtime(full_root / ARCHIVE)
    assert len(SEN12MS(full_root, "test", checksum=True)) > 0
    # ... while a file that changed on disk is hashed again, and fails.
    os.utime(full_root / ARCHIVE)
    with pytest.raises(DatasetNotFoundError, match="Dataset not found") as error:
        SEN12MS(full_root, checksum=True)
    assert ARCHIVE in notes(error) and "md5 mismatch" in notes(error)


def test_the_classes_md5s_are_the_ones_checked(full_root, own_md5s, monkeypatch):
    wrong = list(own_md5s)
    wrong[SEN12MS.filenames.index(ARCHIVE)] = "0" * 32
    monkeypatch.setattr(SEN12MS, "md5s", wrong)
    with pytest.raises(DatasetNotFoundError) as error:
        SEN12MS(full_root, checksum=True)
    assert ARCHIVE in notes(error)
    assert len(SEN12MS(full_root, checksum=False)) > 0  # upstream: checksum=False checks no md5


def test_patch_lists_are_md5_checked_as_upstream_does(full_root, own_md5s):
    with open(full_root / "train_list.txt", "ab") as f:
        f.write(b"\r\n")
    with pytest.raises(DatasetNotFoundError) as error:
        SEN12MS(full_root, "test", checksum=True)
    assert "train_list.txt: md5" in notes(error)


def test_published_md5s_reject_other_archives(full_root):
    # The sample's archives are not the published ones: with torchgeo's md5s they fail.
    for name in ("train_list.txt", "test_list.txt"):
        (full_root / name).unlink()
    with pytest.raises(DatasetNotFoundError) as error:
        SEN12MS(full_root, "holdout", checksum=True)
    assert "md5 mismatch" in notes(error)


def test_a_tree_without_archives_gets_the_tree_check(sample_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(sample_root, root, ignore=shutil.ignore_patterns(".sen12ms"))
    assert len(SEN12MS(root, "validation", checksum=True)) > 0
    victim = next(root.glob("ROIs1158_spring/s1_*/*.tif"))
    victim.unlink()
    with pytest.raises(DatasetNotFoundError) as error:
        SEN12MS(root, "validation", checksum=True)
    assert "incomplete triplets" in notes(error) and victim.name in notes(error)


def test_archives_without_a_tree_are_not_a_dataset(sample_archives):
    with pytest.raises(DatasetNotFoundError, match="Dataset not found"):
        SEN12MS(sample_archives, checksum=True)
