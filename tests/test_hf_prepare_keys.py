"""``prepare-hf`` is keyed on what the files hold, and removes only what it left unfinished itself.

* A patch file rewritten in place (same name, same folder times) is prepared anew, and
  ``load_dataset("sen12ms")`` returns the new pixels.
* A second root prepared in the same cache is kept beside the first; the last root
  prepared is the one the bare name loads.
* Real processes: one ``prepare_hf`` paused inside its generation (its owner file locked)
  while ``sen12ms prepare-hf`` runs in another; one killed (SIGKILL) inside its generation.

Loads run in fresh processes with ``HF_HUB_OFFLINE=1`` and their own ``HF_HOME``
(``tests/test_hf_prepare.py``'s helpers).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
from filelock import FileLock

from sen12ms_plugins import __version__
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import compute_splits
from sen12ms_plugins.hf.prepare import prepare_hf

from .test_hf_prepare import _env, _load

#: ``prepare_hf(root, configs=[config], cache_dir=cache)`` with one change: when the first
#: example is read (the owner file locked, ``<hash>.incomplete`` being written), the process
#: either kills itself (``kill``) or says so (``<flag>.reached``) and waits for ``<flag>.go``.
PAUSED_PREPARE = r"""
import os, signal, sys, time
from pathlib import Path
import sen12ms_plugins.hf.builder as builder
from sen12ms_plugins.hf.prepare import prepare_hf

root, cache, config, mode, flag = sys.argv[1:6]
read_example = builder.read_example

def paused_read_example(*args, **kwargs):
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    Path(flag + ".reached").touch()
    while not Path(flag + ".go").exists():
        time.sleep(0.05)
    builder.read_example = read_example
    return read_example(*args, **kwargs)

builder.read_example = paused_read_example  # looked up by _generate_examples at each call
prepare_hf(root, configs=[config], cache_dir=cache)
"""


def _prepare_hf_cli(hf_home: Path, root: Path, *options: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", "prepare-hf", "--root", str(root), *options],
                          env=_env(hf_home), cwd=hf_home.parent, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _paused(root: Path, cache: Path, config: str, mode: str, flag: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PAUSED_PREPARE, str(root), str(cache), config, mode, str(flag)],
                            env=_env(cache.parent), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _unfinished(cache: Path, config: str) -> list[str]:
    return sorted(p.name for p in (cache / "sen12ms" / config).glob("*/*") if p.name.endswith(".incomplete"))


def test_a_file_rewritten_in_place_is_prepared_anew(sample_root, copy_tree, tmp_path):
    root = copy_tree(sample_root)
    home = tmp_path / "hf"
    _prepare_hf_cli(home, root)
    first = _load(home, tmp_path / "cwd", root)
    assert first["pixels_equal"] is True

    victim = compute_splits(build_index(root))["holdout"][5].path(root, "s2")
    before = victim.stat()
    folder_before = victim.parent.stat()
    with rasterio.open(victim, "r+") as dataset:  # other pixels, same file, same size
        dataset.write(np.asarray(dataset.read(), dtype=np.uint16) ^ np.uint16(0x5A5A))
    after = victim.stat()
    assert (after.st_ino, after.st_size) == (before.st_ino, before.st_size)
    assert after.st_mtime_ns != before.st_mtime_ns
    assert victim.parent.stat().st_mtime_ns == folder_before.st_mtime_ns, "the folder's times did not move"

    again = _prepare_hf_cli(home, root)
    assert "removed (older preparation of this root" in again.stdout
    second = _load(home, tmp_path / "cwd", root)
    assert second["ids"] == first["ids"]
    assert second["pixels_equal"] is True, "the rewritten file's new pixels are what loads"


def test_a_second_root_is_kept_and_the_last_prepared_loads(sample_root, copy_tree, tmp_path):
    home = tmp_path / "hf"
    cache = home / "datasets"
    other = copy_tree(sample_root, "other")
    gone = compute_splits(build_index(other))["holdout"][-1]
    for sensor in facts.SENSORS:
        gone.path(other, sensor).unlink()
    first = prepare_hf(sample_root, configs=["s1s2"], cache_dir=cache)
    second = prepare_hf(other, configs=["s1s2"], cache_dir=cache)
    assert second.removed == []
    assert second.kept == {first.locations["s1s2"]: str(sample_root.resolve())}
    assert first.locations["s1s2"].is_dir() and second.locations["s1s2"].is_dir()
    holdout = [p.name for p in compute_splits(build_index(sample_root))["holdout"]]
    assert _load(home, tmp_path / "cwd", other)["ids"] == [n for n in holdout if n != gone.name]

    # Preparing the first root again reuses its folder as it is, and makes it the one loaded.
    info = first.locations["s1s2"] / "dataset_info.json"
    written = info.stat().st_mtime_ns
    third = prepare_hf(sample_root, configs=["s1s2"], cache_dir=cache)
    assert third.locations == first.locations and info.stat().st_mtime_ns == written
    assert third.kept == {second.locations["s1s2"]: str(other.resolve())}
    assert _load(home, tmp_path / "cwd", sample_root)["ids"] == holdout


def test_another_process_preparing_is_left_alone(sample_root, tmp_path):
    home = tmp_path / "hf"
    cache = home / "datasets"
    flag = tmp_path / "flag"
    writer = _paused(sample_root, cache, "s2", "wait", flag)
    try:
        _wait_for(Path(f"{flag}.reached"), writer)
        busy = _unfinished(cache, "s2")
        assert len(busy) == 1
        meanwhile = _prepare_hf_cli(home, sample_root, "--config", "all")
        assert f"left alone, being prepared by sen12ms prepare-hf (pid {writer.pid} " in meanwhile.stdout
        assert _unfinished(cache, "s2") == busy, "the other process's folder is untouched"
    finally:
        Path(f"{flag}.go").touch()
        _, stderr = writer.communicate(timeout=300)
    assert writer.returncode == 0, stderr[-3000:]
    assert _unfinished(cache, "s2") == []
    core = compute_splits(build_index(sample_root))
    assert _load(home, tmp_path / "cwd", sample_root, "s2")["ids"] == [p.name for p in core["holdout"]]
    assert _load(home, tmp_path / "cwd", sample_root, "all")["pixels_equal"] is True


def test_what_a_killed_prepare_hf_left_is_removed_and_nothing_else(sample_root, tmp_path):
    home = tmp_path / "hf"
    cache = home / "datasets"
    killed = _paused(sample_root, cache, "s2", "kill", tmp_path / "flag")
    _, stderr = killed.communicate(timeout=300)
    assert killed.returncode == -signal.SIGKILL, stderr[-3000:]
    [leftover] = _unfinished(cache, "s2")
    owner = leftover.removesuffix(".incomplete") + ".sen12ms-owner"
    assert sorted(p.name for p in (cache / "sen12ms" / "s2").glob("*/*.sen12ms-owner")) == [owner]
    # A folder some other program left unfinished: not prepare-hf's, so it stays.
    foreign = cache / "sen12ms" / "s1s2" / "0.0.1" / "0123456789abcdef.incomplete"
    foreign.mkdir(parents=True)
    (foreign / "sen12ms-holdout.arrow").write_bytes(b"half")

    # While a process holds the lock datasets takes beside it (the builder used directly,
    # finishing the same folder), it is that process's work: left alone.
    version = cache / "sen12ms" / "s2" / __version__
    with FileLock(version / (leftover.removesuffix(".incomplete") + "_builder.lock")):
        busy = prepare_hf(sample_root, configs=["all"], cache_dir=cache)
    assert busy.removed == [] and (version / leftover).is_dir()
    assert "datasets builder lock" in busy.left_alone[version / leftover]

    report = prepare_hf(sample_root, configs=["all"], cache_dir=cache)
    removed = [p.relative_to(cache / "sen12ms").as_posix() for p in report.removed]
    assert removed == [f"s2/{__version__}/{leftover}"]
    assert _unfinished(cache, "s2") == [] and not list((cache / "sen12ms" / "s2").glob("*/*.sen12ms-owner"))
    assert foreign.is_dir() and list(report.left_alone) == [foreign]
    assert "not made by prepare-hf" in report.left_alone[foreign]
    assert _load(home, tmp_path / "cwd", sample_root, "all")["pixels_equal"] is True
