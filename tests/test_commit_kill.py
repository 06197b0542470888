"""A real ``kill -9`` at every step of an extraction's final moves loses no scene folder.

The child process runs ``sen12ms extract``; a wrapper installed in that child only
(counting the renames, swaps and the marker write that ``extract.commit`` makes)
sends itself SIGKILL right after step k.  Afterwards every scene folder holds its old
content or its new one (a folder moved aside is recoverable, and the next run's
recovery puts it back), and a fresh run completes with the new content.  Both ways of
committing are run: the atomic swap (``renameat2``) and, where a file system cannot
swap, rename-aside-then-in.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sen12ms_plugins.acquisition.bookkeeping import Bookkeeping
from sen12ms_plugins.acquisition.checksums import write_manifest
from sen12ms_plugins.acquisition.extract import REPLACED_DIRNAME, TEMP_PREFIX, recover_stale_temps

from .helpers import make_tar_gz

REPO = Path(__file__).resolve().parents[1]
SEASON = "ROIs1158_spring"
NAME = "ROIs1158_spring_s2.tar.gz"
SCENES = ("s2_1", "s2_2")

CHILD = r"""
import os, signal, sys
from sen12ms_plugins.acquisition import extract
from sen12ms_plugins.cli import main

kill_after, swap = int(sys.argv[1]), sys.argv[2] == "swap"
root, manifest = sys.argv[3], sys.argv[4]
state = {"inside": False, "steps": 0}

def after_step():
    state["steps"] += 1
    if state["steps"] == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)

def counted(fn):
    def wrapper(*args, **kwargs):
        result = fn(*args, **kwargs)
        if state["inside"]:
            after_step()
        return result
    return wrapper

os.rename, os.replace = counted(os.rename), counted(os.replace)
real_exchange = extract.exchange_paths
extract.exchange_paths = counted(real_exchange) if swap else (lambda a, b: False)
real_commit = extract.commit

def commit(staged, record):
    state["inside"] = True
    if kill_after == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    real_commit(staged, record)
    state["inside"] = False
    print(f"steps={state['steps']}", file=sys.stderr)

extract.commit = commit
sys.exit(main(["extract", "--root", root, "--checksums", manifest, "--quiet"]))
"""


def version(tag: str) -> bytes:
    """An archive of the two scenes; old and new differ in content and in their file sets."""
    members = [(SEASON, "dir", b"")]
    for scene in SCENES:
        members.append((f"{SEASON}/{scene}", "dir", b""))
        patches = (0, 1) if tag == "old" else (0, 2)
        n = scene.split("_")[1]
        members += [(f"{SEASON}/{scene}/{SEASON}_s2_{n}_p{p}.tif", "file", f"{tag} {scene} p{p}".encode())
                    for p in patches]
    return make_tar_gz(members)


def folder(path: Path) -> dict[str, bytes] | None:
    if not path.is_dir():
        return None
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def expected(tag: str) -> dict[str, dict[str, bytes]]:
    patches = (0, 1) if tag == "old" else (0, 2)
    return {scene: {f"{SEASON}_s2_{scene[3:]}_p{p}.tif": f"{tag} {scene} p{p}".encode() for p in patches}
            for scene in SCENES}


def run_child(root: Path, manifest: Path, kill_after: int, mode: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-c", CHILD, str(kill_after), mode, str(root), str(manifest)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def prepare(tmp_path: Path) -> tuple[Path, Path, str]:
    """A root with the old archive extracted, and the new archive in its place."""
    root = tmp_path / "root"
    root.mkdir(parents=True)
    manifest = tmp_path / "md5sums.txt"
    for tag in ("old", "new"):
        data = version(tag)
        (root / NAME).write_bytes(data)
        write_manifest(manifest, {NAME: hashlib.md5(data).hexdigest()})
        if tag == "old":
            assert run_child(root, manifest, -1, "swap").returncode == 0  # a normal extraction
    return root, manifest, hashlib.md5((root / NAME).read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("mode, steps", [("swap", 3), ("rename", 5)])
def test_a_kill_at_any_step_of_the_commit_leaves_old_or_new(tmp_path, mode, steps):
    """swap: 2 atomic swaps + the marker; rename: 2 x (aside, in) + the marker."""
    full = run_child(*prepare(tmp_path / "count")[:2], 99, mode)
    assert full.returncode == 0 and f"steps={steps}" in full.stderr, full.stderr
    old, new = expected("old"), expected("new")
    for kill_after in range(steps + 1):
        root, manifest, new_md5 = prepare(tmp_path / f"k{kill_after}")
        done = run_child(root, manifest, kill_after, mode)
        assert done.returncode == -signal.SIGKILL, (kill_after, done.stderr)
        # at the moment of the kill: each scene folder is in place, or moved aside whole where the next run finds it
        temps = [p for p in root.iterdir() if p.name.startswith(TEMP_PREFIX)]
        for scene in SCENES:
            here = folder(root / SEASON / scene)
            aside = [folder(t / REPLACED_DIRNAME / SEASON / scene) for t in temps
                     if (t / REPLACED_DIRNAME / SEASON / scene).is_dir()]
            assert here in (old[scene], new[scene]) or (here is None and aside == [old[scene]]), (kill_after, scene)
        # what the next run does first: every folder back in place, old or new, nothing temporary left
        recover_stale_temps(root, NAME)
        for scene in SCENES:
            assert folder(root / SEASON / scene) in (old[scene], new[scene]), (kill_after, scene)
        assert not [p for p in root.iterdir() if p.name.startswith(TEMP_PREFIX)]
        marker = Bookkeeping(root).marker(NAME)
        assert marker is not None and (marker["md5"] == new_md5) == (kill_after == steps)
        # and a fresh run completes
        again = run_child(root, manifest, -1, mode)
        assert again.returncode == 0, again.stderr
        assert {scene: folder(root / SEASON / scene) for scene in SCENES} == new
        assert json.loads((root / ".sen12ms" / "extracted" / f"{NAME}.json").read_bytes())["md5"] == new_md5
        assert sorted(p.name for p in root.iterdir()) == sorted([".sen12ms", NAME, SEASON])
