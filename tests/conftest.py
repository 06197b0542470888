"""Shared fixtures: sample trees made by the project's own generator (real GeoTIFFs).

The session-wide trees are read-only by convention; a test that changes a tree
copies it first (``copy_tree``).

Every ecosystem cache of a test session is a temporary folder (:data:`ISOLATED_CACHES`,
set in the environment when this file is imported, before any test module imports
``datasets`` or ``tensorflow_datasets``, and inherited by the processes tests start):
no result depends on the user's ``~/.cache/huggingface``, ``~/tensorflow_datasets`` or
``~/.cache/sen12ms-plugins``, and the suite writes none of them (``tests/test_caches.py``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from sen12ms_plugins._import_order import load_triton_first
from sen12ms_plugins.demo.sample import make_sample
from tests.dfc2020_fixtures import dfc_root, dfc_zips, plain_root  # noqa: F401  (DFC2020-like zips and roots)
from tests.servers.fixtures import ftp_mirror, http_mirror, sample_md5s  # noqa: F401  (loopback mirrors)

# Tests of several ecosystems share worker processes: TensorFlow must not come first.
load_triton_first()

#: This process's temporary folder for every ecosystem cache (removed when the session ends).
SESSION_CACHES = Path(tempfile.mkdtemp(prefix="sen12ms-test-caches-"))
#: The variables that move them there; set unconditionally, as a user's own HF_HOME or
#: TFDS_DATA_DIR would be just as shared as the defaults under ~.
ISOLATED_CACHES = {
    "HF_HOME": SESSION_CACHES / "huggingface",  # the Hub cache, token and the two below by default
    "HF_DATASETS_CACHE": SESSION_CACHES / "huggingface" / "datasets",
    "HF_MODULES_CACHE": SESSION_CACHES / "huggingface" / "modules",  # loading scripts and their cards
    "TFDS_DATA_DIR": SESSION_CACHES / "tensorflow_datasets",
    "SEN12MS_CACHE_DIR": SESSION_CACHES / "sen12ms-plugins",  # bookkeeping of read-only roots
}
os.environ.update({name: str(path) for name, path in ISOLATED_CACHES.items()})
os.environ["HF_HUB_OFFLINE"] = "1"  # tests never reach the Hub

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
def real_layout_root(tmp_path_factory) -> Path:
    """A sample in the real files' layout (pixel-interleaved, 1-row S2 and 4-row S1 strips,
    uint8 land cover): 20 scenes x 2 patches, 32x32 px."""
    root = tmp_path_factory.mktemp("real-layout") / "root"
    make_sample(root, patch_size=TEST_PATCH_SIZE, patches_per_scene=2, layout="real", lc_dtype="uint8")
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


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    """A ``needs_root`` test FAILS at once, naming why, when not run as root (it is never skipped)."""
    import os

    if item.get_closest_marker("needs_root") is not None and os.geteuid() != 0:
        pytest.fail(f"{item.nodeid} needs root: it mounts a file system (tmpfs or a read-only bind mount); "
                    f"run the suite as root, as CI does (running as uid {os.geteuid()})", pytrace=False)


#: The reason prefix of the one kind of skip SEN12MS_FAIL_ON_SKIP accepts.  Tests marked
#: ``datasets_version`` (tests/test_hf_script.py) are for one generation of Hugging Face
#: ``datasets``: loading scripts run with datasets<4 only.  CI runs that file in both
#: environments (datasets 5 and datasets 3.6), so each of them runs in one and is skipped,
#: by ``skipif`` with a reason starting with this text, in the other.
DATASETS_VERSION_SKIP = "for the other generation of datasets"


def pytest_unconfigure(config):
    shutil.rmtree(SESSION_CACHES, ignore_errors=True)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "datasets_version: runs with one generation of Hugging Face datasets (<4 or >=4) and is skipped in the "
        "other by skipif, with a reason starting with DATASETS_VERSION_SKIP: the only skip SEN12MS_FAIL_ON_SKIP "
        "accepts (tests/conftest.py)",
    )


#: The only file whose tests may be ``datasets_version`` tests.
DATASETS_VERSION_FILE = "tests/test_hf_script.py"


def accepted_skip(report) -> bool:
    """True for the skip of a ``datasets_version`` test in the other datasets generation, the
    only skip SEN12MS_FAIL_ON_SKIP lets through: a test of DATASETS_VERSION_FILE with the
    marker, skipped with the reason ``"<DATASETS_VERSION_SKIP>: needs datasets<4 ..."`` (or
    ``>=4``), and the datasets installed really is of the other generation."""
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3 else ""
    prefix = f"Skipped: {DATASETS_VERSION_SKIP}: needs datasets"
    if not (report.nodeid.startswith(f"{DATASETS_VERSION_FILE}::") and "datasets_version" in report.keywords
            and reason.startswith(prefix)):
        return False
    import datasets

    major = int(datasets.__version__.split(".")[0])
    needs = reason[len(prefix):].split(" ", 1)[0]
    return (needs == "<4" and major >= 4) or (needs == ">=4" and major < 4)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """With SEN12MS_FAIL_ON_SKIP=1 (set by CI) a skipped test fails the run: every
    ecosystem must be installed and tested, not quietly left out.  The one exception is a
    ``datasets_version`` test skipped in the datasets generation it is not for
    (:func:`accepted_skip`); it is reported as skipped, never as passed."""
    import os

    if os.environ.get("SEN12MS_FAIL_ON_SKIP") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    refused = [r for r in skipped if not accepted_skip(r)]
    if reporter is not None and len(refused) < len(skipped):
        # Expected, not a failure: say which tests, why, and where they do run.
        import datasets

        other = ".venv-hf36 (datasets<4)" if int(datasets.__version__.split(".")[0]) >= 4 else ".venv (datasets>=4)"
        reporter.ensure_newline()
        reporter.write_line(f"as expected: {len(skipped) - len(refused)} test(s) of {DATASETS_VERSION_FILE} are for the "
                            f"other generation of Hugging Face datasets than this one ({datasets.__version__}); "
                            f"'make test' runs them in {other}")
    if refused and exitstatus == 0:
        reporter.ensure_newline()
        reporter.write_line(f"SEN12MS_FAIL_ON_SKIP=1: {len(refused)} test(s) skipped, failing the run:", red=True)
        for report in refused:
            reporter.write_line(f"  {report.nodeid}", red=True)
        session.exitstatus = 1
