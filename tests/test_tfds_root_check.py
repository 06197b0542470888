"""The TFDS builder starts no download it was not asked for (``download=True``).

A root given by argument or ``SEN12MS_ROOT`` that does not exist, holds no SEN12MS or
holds an unfinished download is an error at once, one line naming the root and the
command that downloads; nothing is created and no mirror is contacted.  The download
path itself (``download=True``) is in ``tests/test_tfds_download.py``, partial downloads
in ``tests/test_partial_download.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow_datasets as tfds

import sen12ms_plugins.tfds  # noqa: F401  (registers the builder)
from sen12ms_plugins.acquisition.download import download
from sen12ms_plugins.dataset.root import ENV_VAR
from sen12ms_plugins.demo.sample import MANIFEST_NAME
from sen12ms_plugins.errors import DownloadError, RootError

REPO = Path(__file__).resolve().parents[1]
#: What tfds.load prints as its error when the root is missing (TFDS's opt-in in the builder's words).
OPT_IN = 'or pass builder_kwargs={"root": ..., "download": True} to download through TFDS'

#: A user's call, run in a network namespace without any network: ``tfds.load`` on the root
#: given by argv[1] (or by SEN12MS_ROOT when empty) into the data_dir argv[2].
LOAD = r"""
import sys, time
import sen12ms_plugins.tfds
import tensorflow_datasets as tfds

kwargs = {"builder_kwargs": {"root": sys.argv[1]}} if sys.argv[1] else {}
started = time.monotonic()
try:
    tfds.load("sen12ms", split="holdout", data_dir=sys.argv[2], **kwargs)
finally:
    print(f"tfds.load returned after {time.monotonic() - started:.2f} s", file=sys.stderr)
"""


@pytest.fixture(autouse=True)
def _no_root_from_environment(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def _from(mirror) -> dict:
    return {"mirrors": [mirror.url], "checksums": mirror.url + MANIFEST_NAME}


@pytest.mark.needs_root
@pytest.mark.parametrize("given", ["argument", "environment"])
def test_mistyped_root_fails_at_once_offline_and_creates_nothing(tmp_path, given):
    data = tmp_path / "data"
    data.mkdir()
    root = data / "sen12mss"  # the real one would be /data/sen12ms
    data_dir = tmp_path / "tfds"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    env.pop(ENV_VAR, None)
    if given == "environment":
        env[ENV_VAR] = str(root)
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", LOAD, str(root) if given == "argument" else "",
                           str(data_dir)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 1, done.stderr[-3000:]
    reasons = [line for line in done.stderr.splitlines() if line.startswith("sen12ms_plugins.errors.RootError: ")]
    assert reasons == [f"sen12ms_plugins.errors.RootError: {root}: SEN12MS root does not exist; to download SEN12MS "
                       f"into it run `sen12ms download --root {root} --extract` (all 12 archives, about 510 GB), "
                       f"{OPT_IN}"], done.stderr[-3000:]
    took = [line for line in done.stderr.splitlines() if line.startswith("tfds.load returned after")]
    assert len(took) == 1, done.stderr[-3000:]
    assert list(data.iterdir()) == [], "the mistyped root was not created"
    assert not data_dir.exists(), f"TFDS wrote nothing either ({took[0]})"


def test_folder_without_sen12ms_is_an_error_and_is_left_as_it_was(tmp_path, http_mirror):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"\xff\xd8\xff")
    builder = tfds.builder("sen12ms/s2", data_dir=tmp_path / "tfds", root=str(folder), **_from(http_mirror))
    with pytest.raises(RootError) as error:
        builder.download_and_prepare()
    assert str(error.value) == (
        f"{folder}: holds no SEN12MS triplet (the s1, s2, lc files of a patch in <season>/<sensor>_<scene>/ "
        f"folders); to download SEN12MS into it run `sen12ms download --root {folder} --extract` (all 12 archives, "
        f"about 510 GB), {OPT_IN}")
    assert sorted(p.name for p in folder.iterdir()) == ["holiday.jpg"]
    assert not (tmp_path / "tfds").exists()
    assert http_mirror.log == []


def test_missing_manual_folder_says_how_to_download(tmp_path, http_mirror):
    """No root given: TFDS's own manual-folder error, with instructions that name `sen12ms download`."""
    manual = tmp_path / "manual"
    builder = tfds.builder("sen12ms/s2", data_dir=tmp_path / "tfds", **_from(http_mirror))
    with pytest.raises(AssertionError) as error:
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    message = str(error.value)
    assert f"Manual directory {manual} does not exist or is empty" in message
    assert "sen12ms download --root /data/SEN12MS --extract" in message
    assert '"download": True' in message
    assert not manual.exists() and http_mirror.log == []


def test_interrupted_download_is_an_error_not_completed(tmp_path, http_mirror):
    broken = "ROIs1970_fall_s2.tar.gz"
    root = tmp_path / "SEN12MS"
    http_mirror.add_fault(broken, "status", times=None, status=404)
    with pytest.raises(DownloadError, match=broken):
        download(root, extract=True, quiet=True, **_from(http_mirror))
    http_mirror.clear()

    builder = tfds.builder("sen12ms/s2", data_dir=tmp_path / "tfds", root=str(root), **_from(http_mirror))
    with pytest.raises(RootError) as error:
        builder.download_and_prepare()
    assert str(error.value) == (
        f"{root}: unfinished download: 1 of the 12 archives recorded in {root / '.sen12ms' / 'selection.json'} are "
        f"not extracted ({broken}); complete it with `sen12ms download --root {root} --extract`, {OPT_IN}")
    assert http_mirror.log == [], "nothing was fetched"
    assert not builder.is_prepared() and not (tmp_path / "tfds").exists()
