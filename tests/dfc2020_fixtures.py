"""Fixtures for the DFC2020 tests: DFC2020-like zips from the project's generator, a root they
were added to, and a reader of the zips' own pixels that goes through neither the core nor
add-dfc2020 (zipfile + rasterio's MemoryFile), to compare what the ecosystems return with.

Import the fixtures into a test module (``from tests.dfc2020_fixtures import dfc_root, …``).
The session-wide trees are read-only by convention.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.io import MemoryFile

from sen12ms_plugins.acquisition.dfc2020 import add_dfc2020
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.demo.dfc2020_sample import make_dfc2020_sample
from sen12ms_plugins.demo.sample import make_sample

PATCH_SIZE = 16
#: Patches per set: the test set goes past p10, so that text and number order differ.
COUNTS = {"ROIs0000_validation": 3, "ROIs0000_test": 11}
#: The root's variant: the wider dtypes and the zips without the set's folder.
VARIANT = {"s1_dtype": "float64", "dfc_dtype": "int32", "structure": "sensor"}


def zip_arrays(path: Path) -> dict[int, np.ndarray]:
    """patch number -> the array of every patch file in a zip, as rasterio reads it from the
    zip's bytes (no core function involved)."""
    found: dict[int, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            base = name.rsplit("/", 1)[-1]
            if not base.endswith(".tif"):
                continue
            with MemoryFile(archive.read(name)) as memory, memory.open() as src:
                found[int(base[:-4].rsplit("_p", 1)[1])] = src.read()
    return found


def zip_labels(zips: Path, folder: str) -> dict[int, np.ndarray]:
    """patch number -> the [H, W] label of a set as its dfc zip holds it (any integer dtype)."""
    return {n: a[0] for n, a in zip_arrays(zips / facts.dfc2020_zip_name(folder, "dfc")).items()}


def as_uint8(label: np.ndarray) -> np.ndarray:
    """A label the way every ecosystem must give it: uint8, the values unchanged (checked here)."""
    assert label.min() >= 0 and label.max() <= 255, "a DFC2020 label holds 0-255"
    return label.astype(np.uint8)


@pytest.fixture(scope="session")
def dfc_zips(tmp_path_factory) -> Path:
    """The 8 DFC2020-like zips of :data:`VARIANT` (s1 float64, dfc int32, no set folder)."""
    out = tmp_path_factory.mktemp("dfc2020") / "zips"
    make_dfc2020_sample(out, patch_size=PATCH_SIZE, counts=COUNTS, **VARIANT)
    return out


@pytest.fixture(scope="session")
def dfc_root(tmp_path_factory, dfc_zips) -> Path:
    """A SEN12MS sample root (20 scenes x 2 patches) with :func:`dfc_zips` added to it."""
    root = tmp_path_factory.mktemp("dfc2020-root") / "root"
    make_sample(root, patch_size=PATCH_SIZE, patches_per_scene=2)
    add_dfc2020(root, dfc_zips, quiet=True)
    return root


@pytest.fixture(scope="session")
def plain_root(tmp_path_factory) -> Path:
    """The same SEN12MS sample without DFC2020."""
    root = tmp_path_factory.mktemp("plain-root") / "root"
    make_sample(root, patch_size=PATCH_SIZE, patches_per_scene=2)
    return root


def read_tif(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()
