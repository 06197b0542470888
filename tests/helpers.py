"""Helpers for tests that need special file-system conditions."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from sen12ms_plugins.acquisition.checksums import parse_manifest


@contextlib.contextmanager
def read_only(path: Path):
    """Make ``path`` read-only with a read-only bind mount onto itself; undone afterwards.

    Needs root (``mount``): permission bits do not stop root's writes, and the suite runs as
    root in CI.  A test using it is marked ``needs_root``.
    """
    require_root("bind-mount a folder read-only")
    subprocess.run(["mount", "--bind", "-o", "ro", str(path), str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def require_root(doing: str) -> None:
    """Fail (never skip) with a clear message when not running as root."""
    if os.geteuid() != 0:
        import pytest

        pytest.fail(f"this test needs root to {doing} (mount); run the suite as root, as CI does "
                    f"(running as uid {os.geteuid()})", pytrace=False)


def make_tar_gz(members: list[tuple[str, str, bytes | str]]) -> bytes:
    """(name, kind, data or link target) with kind in file, dir, symlink, hardlink, chardev, fifo."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                         "chardev": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}[kind]
            if kind in ("symlink", "hardlink"):
                info.linkname = payload
            tar.addfile(info)
    return buffer.getvalue()


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def torchgeo_root(sample_root: Path, root: Path) -> Path:
    """A copy of ``sample_root`` laid out as torchgeo wants a root: the tree, the 12 archives
    and both upstream patch lists (train, hold-out)."""
    from sen12ms_plugins.dataset.ids import write_patch_list
    from sen12ms_plugins.dataset.index import build_index
    from sen12ms_plugins.dataset.splits import compute_splits
    from sen12ms_plugins.demo.sample import write_archives

    shutil.copytree(sample_root, root, ignore=shutil.ignore_patterns(".sen12ms"))
    write_archives(root, root)
    splits = compute_splits(build_index(sample_root))
    write_patch_list(root / "train_list.txt", splits["train"])
    write_patch_list(root / "test_list.txt", splits["holdout"])
    return root


def patch_md5s(monkeypatch, dataset_class: type, root: Path) -> list[str]:
    """Give ``dataset_class`` the md5s of ``root``'s files, as torchgeo's own tests do."""
    md5s = [md5(root / name) for name in dataset_class.filenames]
    monkeypatch.setattr(dataset_class, "md5s", md5s)
    return md5s


def read_manifest(path: Path) -> dict[str, str]:
    """``{file name: md5}`` of an md5sum-format manifest, as the package parses it."""
    return parse_manifest(path.read_text(encoding="utf-8"), path)


def assert_same_batch(got: dict, want: dict, what: str = "") -> None:
    """Same keys in the same order; tensors of the same dtype and shape, equal (NaN where NaN); the rest equal."""
    import torch

    assert list(got) == list(want), what
    for key, expected in want.items():
        if isinstance(expected, torch.Tensor):
            assert got[key].dtype == expected.dtype and got[key].shape == expected.shape, (what, key)
            torch.testing.assert_close(got[key], expected, rtol=0, atol=0, equal_nan=True, msg=f"{what} {key}")
        else:
            assert got[key] == expected, (what, key)
