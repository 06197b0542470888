"""Shared fixtures: sample trees made by the project's own generator (real GeoTIFFs).

The session-wide trees are read-only by convention; a test that changes a tree
copies it first (``copy_tree``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sen12ms_plugins._import_order import load_triton_first
from sen12ms_plugins.demo.sample import make_sample
from tests.servers.fixtures import ftp_mirror, http_mirror, sample_md5s  # noqa: F401  (loopback mirrors)

# Tests of several ecosystems share worker processes: TensorFlow must not come first.
load_triton_first()

#: Small patches keep the suite fast; the layout, names, dtypes and bands are the real ones.
TEST_PATCH_SIZE = 32
TEST_PATCHES_PER_SCENE = 4


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory) -> Path:
    """A sample tree: 20 scenes x 4 patches, 32x32 px."""
    root = tmp_path_factory.mktemp("sample") / "root"
    make_sample(root, patch_size=TEST_PATCH_SIZE, patches_per_scene=TEST_PATCHES_PER_SCENE)
    return root


@pytest.fixture(scope="session")
def crafted_root(tmp_path_factory) -> Path:
    """A tiny root whose land cover, georeference and scenes were chosen by hand
    (``tests/crafted.py``, which also holds what it must give, worked out by hand)."""
    from tests.crafted import make_crafted_root

    return make_crafted_root(tmp_path_factory.mktemp("crafted") / "root")


@pytest.fixture(scope="session")
def sample_archives(tmp_path_factory) -> Path:
    """The same sample as the 12 archives plus md5sums.txt (no extracted tree)."""
    out = tmp_path_factory.mktemp("archives") / "mirror"
    make_sample(out, patch_size=TEST_PATCH_SIZE, patches_per_scene=TEST_PATCHES_PER_SCENE, archives=True, tree=False)
    return out


@pytest.fixture
def archive_root(tmp_path, sample_archives) -> Path:
    """A writable root holding copies of the 12 sample archives, nothing extracted."""
    root = tmp_path / "root"
    root.mkdir()
    for archive in sample_archives.glob("*.tar.gz"):
        shutil.copyfile(archive, root / archive.name)
    return root


@pytest.fixture
def copy_tree(tmp_path):
    """Copy a tree into this test's tmp folder and return the copy."""

    def _copy(src: Path, name: str = "copy") -> Path:
        dst = tmp_path / name
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".sen12ms"))
        return dst

    return _copy


def touch_tree(root: Path, relpaths) -> Path:
    """Create empty files at the given root-relative paths (names only matter to the index)."""
    for rel in relpaths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return root


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """With SEN12MS_FAIL_ON_SKIP=1 (set by CI) a skipped test fails the run: every
    ecosystem must be installed and tested, not quietly left out."""
    import os

    if os.environ.get("SEN12MS_FAIL_ON_SKIP") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == 0:
        reporter.ensure_newline()
        reporter.write_line(f"SEN12MS_FAIL_ON_SKIP=1: {len(skipped)} test(s) skipped, failing the run", red=True)
        session.exitstatus = 1
