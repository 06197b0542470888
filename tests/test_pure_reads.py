"""Reading a root changes nothing in it, and a read-only root reads as any other, without a word.

A fresh copy of the sample (no ``.sen12ms/`` bookkeeping, as ``sen12ms sample`` writes it) is
read by every command that only reads (``download --dry-run`` offline, ``splits``, ``index``,
``verify``, ``stats``, ``map``) and by each ecosystem (torchgeo's dataset and datamodule,
TFDS, Hugging Face), each in a fresh process; afterwards every entry of the root, folders
included, has the name, size and modification time it had.  The same reads then run on a
read-only bind mount of it (needs root, as CI runs), where each succeeds and says nothing
about the root being read-only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import compute_splits

from .helpers import read_only

REPO = Path(__file__).resolve().parents[1]

#: Every command that only reads a root; ``{out}`` is a folder outside it.  The dry run asks a
#: mirror that nothing listens on, as an offline machine would.
COMMANDS = [
    ["download", "--dry-run", "--mirror", "http://127.0.0.1:9/"],
    ["splits"],
    ["index"],
    ["verify"],
    ["verify", "--tree", "--deep", "--patch-size", "0"],
    ["stats", "--out", "{out}/stats", "--jobs", "1"],
    ["map", "--out", "{out}/map.png"],
]

#: Each ecosystem reads the root (their own caches are in ``out``).
ADAPTERS = r"""
import sys
from pathlib import Path

root, out = sys.argv[1], Path(sys.argv[2])

import sen12ms_plugins.torchgeo  # registers the plugin
from torchgeo.datamodules import SEN12MSDataModule
from torchgeo.datasets import SEN12MS

sample = SEN12MS(root, split="holdout")[0]
datamodule = SEN12MSDataModule(root=root, batch_size=2, num_workers=0)
datamodule.setup("fit")
next(iter(datamodule.train_dataloader()))

import sen12ms_plugins.tfds  # registers the builder
import tensorflow_datasets as tfds

tfds_holdout = tfds.load("sen12ms/s2", split="holdout", data_dir=str(out / "tfds"), builder_kwargs={"root": root})

import datasets
from sen12ms_plugins.hf.prepare import prepare_hf

prepare_hf(root, configs=["s2"], cache_dir=out / "hf")
hf_holdout = datasets.load_dataset("sen12ms", "s2", split="holdout", cache_dir=str(out / "hf"))
print("read", sample["image"].shape[0], len(tfds_holdout), len(hf_holdout))
"""


def entries(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every entry below ``root`` and ``root`` itself: kind, size and modification time (ns)."""
    found = {".": ("dir", 0, root.stat().st_mtime_ns)}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        kind = "dir" if path.is_dir() else "file"
        found[path.relative_to(root).as_posix()] = (kind, st.st_size if kind == "file" else 0, st.st_mtime_ns)
    return found


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=600, check=False)


def read_everything(root: Path, out: Path) -> list[subprocess.CompletedProcess]:
    """Run every read; each must succeed (exit 0)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    done = []
    for command in COMMANDS:
        args = [arg.format(out=out) for arg in command]
        done.append(run([sys.executable, "-m", "sen12ms_plugins.cli", args[0], "--root", str(root), *args[1:]],
                        out, env))
    done.append(run([sys.executable, "-c", ADAPTERS, str(root), str(out)], out, env))
    for result in done:
        assert result.returncode == 0, f"{result.args[2:5]}: {result.stdout[-1500:]}{result.stderr[-3000:]}"
    holdout = len(compute_splits(build_index(root))["holdout"])
    assert done[-1].stdout.splitlines()[-1] == f"read 15 {holdout} {holdout}", done[-1].stdout
    return done


@pytest.mark.slow
def test_reads_leave_the_root_as_it_was(tmp_path, sample_root, copy_tree):
    root = copy_tree(sample_root, "root")
    out = tmp_path / "out"
    out.mkdir()
    before = entries(root)
    assert ".sen12ms" not in before
    read_everything(root, out)
    assert entries(root) == before


@pytest.mark.slow
@pytest.mark.needs_root
def test_a_read_only_root_reads_without_a_word(tmp_path, sample_root, copy_tree):
    """Needs root: the root is made read-only with a read-only bind mount (helpers.read_only)."""
    root = copy_tree(sample_root, "root")
    out = tmp_path / "out"
    out.mkdir()
    before = entries(root)
    with read_only(root):
        with pytest.raises(OSError):
            (root / "probe").touch()
        done = read_everything(root, out)
    for result in done:
        said = (result.stdout + result.stderr).lower()
        assert "read-only" not in said and "cannot write" not in said and "not writable" not in said, said[-2000:]
    assert entries(root) == before
