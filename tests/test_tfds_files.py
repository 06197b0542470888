"""The TFDS builder folder: its derived files are up to date, and the installed
distribution carries it (``sen12ms_plugins/tfds`` is a symbolic link to ``tfds_builder/sen12ms``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import SPLITS, compute_splits

REPO = Path(__file__).resolve().parent.parent
BUILDER_DIR = REPO / "tfds_builder" / "sen12ms"
TFDS_LAYOUT = ["sen12ms_dataset_builder.py", "sen12ms_dataset_builder_test.py", "checksums.tsv", "README.md",
               "CITATIONS.bib", "TAGS.txt", "__init__.py"]


def test_builder_folder_has_the_tfds_new_layout():
    for name in TFDS_LAYOUT:
        assert (BUILDER_DIR / name).is_file(), name
    assert (BUILDER_DIR / "dummy_data").is_dir()
    assert (REPO / "sen12ms_plugins" / "tfds").resolve() == BUILDER_DIR.resolve()


def test_derived_files_are_up_to_date():
    """README.md and CITATIONS.bib follow facts.py; dummy_data/ is what the sample generator makes."""
    result = subprocess.run([sys.executable, str(REPO / "tools" / "make_tfds_files.py"), "--check"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"run python tools/make_tfds_files.py\n{result.stderr}"


def test_dummy_data_is_small_and_matches_the_builder_test():
    size = sum(f.stat().st_size for f in (BUILDER_DIR / "dummy_data").rglob("*") if f.is_file()
               and ".sen12ms" not in f.parts)
    assert size < 2 * 1024 * 1024
    from sen12ms_plugins.tfds.sen12ms_dataset_builder_test import Sen12msTest

    splits = compute_splits(build_index(BUILDER_DIR / "dummy_data"))
    assert Sen12msTest.SPLITS == {name: len(splits[name]) for name in splits.names}  # DFC2020's too
    assert set(splits.names) > set(SPLITS)


def _build_wheel(tmp_path: Path) -> Path:
    # Build from a copy: building writes build/ and *.egg-info next to pyproject.toml.
    source = tmp_path / "src"
    shutil.copytree(REPO, source, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", ".sen12ms"))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("sen12ms_plugins-*.whl")
    return wheel


def test_wheel_carries_the_builder_and_its_metadata(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in TFDS_LAYOUT + ["generation.py", "train_split.py"]:
        assert f"sen12ms_plugins/tfds/{name}" in names, name
    assert not any("dummy_data" in n for n in names)

    # Installed layout (the wheel unpacked, no repository on the path): TFDS finds the
    # README.md and CITATIONS.bib next to the builder and uses them.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = dict(os.environ, PYTHONPATH=str(site))
    code = (
        "import json, sen12ms_plugins.tfds as m, tensorflow_datasets as tfds\n"
        "info = tfds.builder('sen12ms', data_dir='unused').info\n"
        "print(json.dumps([m.__file__, info.description, info.citation]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    module_file, description, citation = json.loads(result.stdout.splitlines()[-1])
    assert Path(module_file).is_relative_to(site)
    assert description.startswith(facts.DESCRIPTION)
    assert citation.strip() == facts.CITATION_BIBTEX.strip()
