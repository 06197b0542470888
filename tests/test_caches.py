"""No result depends on the user's caches, and the suite writes none of them.

``tests/conftest.py`` moves every ecosystem cache of a session into a temporary folder.
The last test runs two tests of this file that use the ecosystems' *default* caches (a
Hugging Face preparation loaded by bare name, a TFDS build loaded by name) in a fresh
pytest session whose home folder is an empty temporary one, and checks that the home is
still without ``.cache/huggingface``, ``tensorflow_datasets`` or ``.cache/sen12ms-plugins``
(the index cache) afterwards; the same two steps run as a plain script (no conftest) with
another empty home fill exactly those folders, so the check is one that can fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import compute_splits
from sen12ms_plugins.fsutil import user_cache_dir

from .conftest import ISOLATED_CACHES, SESSION_CACHES

REPO = Path(__file__).resolve().parents[1]
#: What the ecosystems create in a home folder when nothing moves their caches.
USER_CACHES = (".cache/huggingface", "tensorflow_datasets", ".cache/sen12ms-plugins")

#: The two steps of the tests below, as a plain script: HF default cache, TFDS default data dir.
DEFAULT_CACHE_STEPS = r"""
import sys
import datasets
import tensorflow_datasets as tfds
import sen12ms_plugins.tfds  # registers the builder
from sen12ms_plugins.hf.prepare import prepare_hf

root = sys.argv[1]
prepare_hf(root, configs=["s2"])
print(len(datasets.load_dataset("sen12ms", "s2", split="holdout")))
builder = tfds.builder("sen12ms/s2", root=root)
builder.download_and_prepare()
print(len(tfds.load("sen12ms/s2", split="holdout")))
"""


def test_every_ecosystem_cache_is_the_sessions():
    import datasets
    import huggingface_hub
    import tensorflow_datasets as tfds

    for name, path in ISOLATED_CACHES.items():
        assert os.environ[name] == str(path)
    seen = {
        "datasets cache": Path(datasets.config.HF_DATASETS_CACHE),
        "datasets modules": Path(datasets.config.HF_MODULES_CACHE),
        "hub": Path(huggingface_hub.constants.HF_HOME),
        "tfds data_dir": Path(tfds.core.constants.DATA_DIR),
        "sen12ms user cache": user_cache_dir(),
    }
    for what, path in seen.items():
        assert path.is_relative_to(SESSION_CACHES), f"{what}: {path} is outside {SESSION_CACHES}"


def test_default_hf_cache_is_the_sessions(sample_root):
    import datasets

    from sen12ms_plugins.hf.prepare import prepare_hf

    report = prepare_hf(sample_root, configs=["s2"])  # no cache_dir: the one load_dataset uses
    assert report.locations["s2"].is_relative_to(ISOLATED_CACHES["HF_DATASETS_CACHE"])
    holdout = datasets.load_dataset("sen12ms", "s2", split="holdout")
    assert holdout["id"] == [p.name for p in compute_splits(build_index(sample_root))["holdout"]]


def test_default_tfds_data_dir_is_the_sessions(sample_root):
    import tensorflow_datasets as tfds

    import sen12ms_plugins.tfds  # noqa: F401  (registers the builder)

    builder = tfds.builder("sen12ms/s2", root=str(sample_root))  # no data_dir: TFDS's default
    builder.download_and_prepare()
    assert Path(builder.data_dir).is_relative_to(ISOLATED_CACHES["TFDS_DATA_DIR"])
    assert len(tfds.load("sen12ms/s2", split="holdout")) == len(compute_splits(build_index(sample_root))["holdout"])


def _environment(home: Path) -> dict[str, str]:
    """The environment of a user whose home is ``home``: none of the cache variables set."""
    drop = ("HF_", "TFDS_", "SEN12MS_", "XDG_", "PYTEST_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(HOME=str(home), PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return env


def _user_caches(home: Path) -> list[str]:
    return [rel for rel in USER_CACHES if (home / rel).exists()]


def test_the_suite_leaves_the_users_caches_alone(tmp_path, sample_root):
    home = tmp_path / "home"
    home.mkdir()
    tests = [f"tests/test_caches.py::{name}" for name in
             ("test_default_hf_cache_is_the_sessions", "test_default_tfds_data_dir_is_the_sessions")]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=REPO,
                         env=_environment(home), capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0 and "2 passed" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]
    assert _user_caches(home) == [], f"the suite wrote into the user's home: {sorted(map(str, home.rglob('*')))[:20]}"

    # The control: the same steps without the conftest write exactly where the check looks.
    bare = tmp_path / "bare-home"
    bare.mkdir()
    control = subprocess.run([sys.executable, "-c", DEFAULT_CACHE_STEPS, str(sample_root)], cwd=tmp_path,
                             env=dict(_environment(bare), HF_HUB_OFFLINE="1"), capture_output=True, text=True,
                             timeout=600, check=False)
    assert control.returncode == 0, control.stderr[-3000:]
    assert _user_caches(bare) == list(USER_CACHES)
