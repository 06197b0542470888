"""Bad input, run through the ``sen12ms`` command as a user runs it.

Every case checks three things: a non-zero exit, a message that names the file and the
problem, and that good data already there is left exactly as it was (and nothing
half-written appears).  docs/bad-input.md lists the cases; keep the two in step.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import rasterio

from sen12ms_plugins.acquisition.checksums import write_manifest
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import PatchId
from sen12ms_plugins.demo.sample import MANIFEST_NAME

from .helpers import make_tar_gz, read_manifest, read_only, require_root

REPO = Path(__file__).resolve().parents[1]
SPRING = [facts.archive_name("ROIs1158_spring", s) for s in facts.SENSORS]
SUMMER_S2 = facts.archive_name("ROIs1868_summer", "s2")
PID = PatchId("ROIs1970_fall", 1, 514)


def sen12ms(*args, check_exit: int | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run the ``sen12ms`` command in a fresh process."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300, check=False, **kwargs)
    if check_exit is not None:
        assert done.returncode == check_exit, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def snapshot(root: Path) -> dict[str, str]:
    """md5 of every file below ``root`` except the bookkeeping folder."""
    return {p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".sen12ms" not in p.parts}


def no_traceback(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stderr, done.stderr


@pytest.fixture
def archives(tmp_path, sample_archives) -> Path:
    """A root holding the 12 sample archives and their manifest, nothing extracted."""
    root = tmp_path / "root"
    shutil.copytree(sample_archives, root)
    return root


@pytest.fixture
def extracted(archives) -> Path:
    """A root with every archive extracted (by the command) and kept."""
    sen12ms("extract", "--root", archives, "--checksums", archives / MANIFEST_NAME, "--quiet", check_exit=0)
    return archives


# --- archives -------------------------------------------------------------------------------


def test_truncated_archive(archives):
    sen12ms("extract", "--root", archives, "--checksums", archives / MANIFEST_NAME, "--quiet", check_exit=0)
    good = snapshot(archives)
    data = (archives / SUMMER_S2).read_bytes()
    (archives / SUMMER_S2).write_bytes(data[: len(data) // 2])
    shutil.rmtree(archives / ".sen12ms")  # forget that it was extracted: a fresh attempt at the damaged file
    done = sen12ms("extract", "--root", archives, "--checksums", archives / MANIFEST_NAME, "--quiet", check_exit=1)
    no_traceback(done)
    assert f"{SUMMER_S2}: not a valid tar.gz archive" in done.stderr and "nothing was extracted" in done.stderr
    after = snapshot(archives)
    assert after.pop(SUMMER_S2) != good.pop(SUMMER_S2)
    assert after == good  # every extracted file as it was; nothing new, nothing half-written


def test_archive_with_a_wrong_md5_is_refused_by_download(tmp_path, sample_archives):
    mirror = tmp_path / "mirror"
    shutil.copytree(sample_archives, mirror)
    data = bytearray((mirror / SUMMER_S2).read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    (mirror / SUMMER_S2).write_bytes(bytes(data))
    expected = read_manifest(sample_archives / MANIFEST_NAME)[SUMMER_S2]
    actual = hashlib.md5(bytes(data)).hexdigest()
    root = tmp_path / "root"
    done = sen12ms("download", "--root", root, "--mirror", mirror, "--checksums", sample_archives / MANIFEST_NAME,
                   "--quiet", check_exit=1)
    no_traceback(done)
    assert SUMMER_S2 in done.stderr and expected in done.stderr and actual in done.stderr
    assert not (root / SUMMER_S2).exists()  # never at the final name
    assert (root / f"{SUMMER_S2}.rejected").exists()  # moved aside, for inspection
    assert not list(root.glob("*.part"))
    others = sorted(p.name for p in root.glob("*.tar.gz"))
    assert others == sorted(set(facts.ARCHIVE_MD5) - {SUMMER_S2})  # the good ones arrived


def test_archive_with_a_wrong_md5_is_refused_by_verify(archives):
    data = bytearray((archives / SUMMER_S2).read_bytes())
    data[100] ^= 0x01
    (archives / SUMMER_S2).write_bytes(bytes(data))
    done = sen12ms("verify", "--root", archives, "--checksums", archives / MANIFEST_NAME, check_exit=1)
    no_traceback(done)
    assert SUMMER_S2 in done.stdout + done.stderr
    assert hashlib.md5(bytes(data)).hexdigest() in done.stdout + done.stderr


@pytest.mark.parametrize("member", [
    ("/tmp/sen12ms-bad-input-evil.txt", "file", b"pwned"),
    ("ROIs1158_spring/s2_1/../../../sen12ms-bad-input-evil.txt", "file", b"pwned"),
    ("ROIs1158_spring/s2_1/link.tif", "symlink", "../../../sen12ms-bad-input-evil.txt"),
], ids=["absolute path", "parent path", "symlink escaping the root"])
def test_malicious_archive_writes_nothing(tmp_path, member):
    root = tmp_path / "root"
    root.mkdir()
    name = SPRING[1]
    good = [("ROIs1158_spring", "dir", b""), ("ROIs1158_spring/s2_1", "dir", b""),
            ("ROIs1158_spring/s2_1/ROIs1158_spring_s2_1_p0.tif", "file", b"harmless, and first")]
    data = make_tar_gz(good + [member])
    (root / name).write_bytes(data)
    write_manifest(tmp_path / "md5sums.txt", {name: hashlib.md5(data).hexdigest()})
    before = sorted(p.name for p in tmp_path.iterdir())
    done = sen12ms("extract", "--root", root, "--checksums", tmp_path / "md5sums.txt", check_exit=1)
    no_traceback(done)
    assert name in done.stderr and "nothing was written" in done.stderr
    assert sorted(p.name for p in root.iterdir() if p.name != ".sen12ms") == [name]
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not Path("/tmp/sen12ms-bad-input-evil.txt").exists()


# --- patch files ----------------------------------------------------------------------------


def _replace(path: Path, array: np.ndarray) -> None:
    with rasterio.open(path) as src:
        profile = src.profile
    profile.update(count=array.shape[0], dtype=array.dtype)
    path.unlink()
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)


@pytest.mark.parametrize("damage", ["truncated GeoTIFF", "wrong band count", "wrong dtype"])
def test_bad_geotiff(extracted, tmp_path, damage):
    bad = PID.path(extracted, "s2")
    if damage == "truncated GeoTIFF":
        data = bad.read_bytes()
        bad.write_bytes(data[: len(data) // 3])
        expected = "truncated: its image data ends at byte "
    elif damage == "wrong band count":
        _replace(bad, np.zeros((12, 32, 32), np.uint16))
        expected = "has 12 bands, a s2 patch has 13"
    else:
        _replace(bad, np.zeros((13, 32, 32), np.float32))
        expected = "has data type float32, a s2 patch has uint16"
    good = snapshot(extracted)

    done = sen12ms("verify", "--root", extracted, "--deep", "--patch-size", 32, check_exit=1)
    no_traceback(done)
    words = re.search(rf"{re.escape(bad.relative_to(extracted).as_posix())}: (.*?)\)$", done.stdout, re.MULTILINE).group(1)
    assert words.startswith(expected)
    done = sen12ms("stats", "--root", extracted, "--out", tmp_path / "stats", "--quiet", check_exit=1)
    no_traceback(done)
    assert f"{bad}: {words}\n" in done.stderr  # the readers say what verify --deep says
    done = sen12ms("export-hf", "--root", extracted, "--out", tmp_path / "hf", "--config", "s2", check_exit=1)
    no_traceback(done)
    assert str(bad) in done.stderr and expected in done.stderr
    assert not (tmp_path / "hf" / "README.md").exists()  # no card: the export does not look complete
    assert snapshot(extracted) == good


def test_triplet_missing_a_sensor(extracted):
    PID.path(extracted, "lc").unlink()
    good = snapshot(extracted)
    done = sen12ms("index", "--root", extracted, check_exit=1)
    assert f"{PID.name} (missing lc)" in done.stdout
    done = sen12ms("verify", "--root", extracted, check_exit=1)
    no_traceback(done)
    assert PID.filename("lc") in done.stdout + done.stderr or PID.name in done.stdout + done.stderr
    assert snapshot(extracted) == good


def test_holdout_list_with_a_malformed_line(extracted):
    (extracted / "test_list.txt").write_bytes(b"ROIs1158_spring_s2_124_p505.tif\r\nROIs1158_spring_s2_124_p5O5.tif\r\n")
    done = sen12ms("splits", "--root", extracted, check_exit=1)
    no_traceback(done)
    assert f"{extracted / 'test_list.txt'}:2: malformed line" in done.stderr


# --- roots ----------------------------------------------------------------------------------


def test_root_that_does_not_exist(tmp_path):
    for command in (["index"], ["splits"], ["verify"], ["extract"], ["stats", "--out", str(tmp_path / "o")]):
        done = sen12ms(*command, "--root", tmp_path / "missing", check_exit=1)
        no_traceback(done)
        assert f"{tmp_path / 'missing'}: SEN12MS root does not exist" in done.stderr, command


@pytest.mark.needs_root
def test_root_that_is_not_writable(tmp_path, sample_archives):
    """Needs root: the root is made read-only with a read-only bind mount (helpers.read_only)."""
    root = tmp_path / "root"
    root.mkdir()
    with read_only(root):
        done = sen12ms("download", "--root", root, "--mirror", sample_archives,
                       "--checksums", sample_archives / MANIFEST_NAME, check_exit=1)
        no_traceback(done)
        assert f"{root}: cannot write into the SEN12MS root" in done.stderr
        done = sen12ms("sample", "--out", root / "sub", check_exit=1)
        no_traceback(done)
        assert f"{root / 'sub'}: cannot create the sample output folder" in done.stderr
    assert list(root.iterdir()) == []


@pytest.mark.needs_root
def test_disk_full_during_extraction(tmp_path, sample_archives):
    """A real ENOSPC from a small tmpfs: the archive that does not fit leaves nothing behind.

    Needs root: it mounts (and remounts smaller) a tmpfs."""
    root = tmp_path / "small-disk"
    root.mkdir()
    names = [*SPRING, SUMMER_S2]
    require_root("mount a tmpfs")
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(root)], capture_output=True, check=False)
    assert mount.returncode == 0, f"this test needs root to mount a tmpfs: {mount.stderr!r}"
    try:
        for name in names:
            shutil.copy(sample_archives / name, root / name)
        sums = tmp_path / "md5sums.txt"
        write_manifest(sums, {n: read_manifest(sample_archives / MANIFEST_NAME)[n] for n in names})
        sen12ms("extract", "--root", root, "--checksums", sums, "--seasons", "spring", "--quiet", check_exit=0)
        # Shrink the disk to what is used plus half of what the summer S2 patches need.
        with tarfile.open(sample_archives / SUMMER_S2) as tar:
            needed = sum(m.size for m in tar.getmembers())
        stat = os.statvfs(root)
        used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
        subprocess.run(["mount", "-o", f"remount,size={used + needed // 2}", str(root)], check=True)
        good = snapshot(root)
        done = sen12ms("extract", "--root", root, "--checksums", sums, "--quiet", check_exit=1)
        no_traceback(done)
        assert f"disk full while extracting {SUMMER_S2}" in done.stderr
        assert snapshot(root) == good  # nothing half-extracted, the spring data untouched
        assert not (root / "ROIs1868_summer").exists()
        assert [p.name for p in root.iterdir() if p.name.startswith(".") and p.name != ".sen12ms"] == []
    finally:
        subprocess.run(["umount", str(root)], check=True)


# --- interrupted work -------------------------------------------------------------------------


#: Run ``sen12ms`` with one change: once SEN12MS_TEST_KILL_AFTER_SHARDS shards are complete
#: (write_shard returned: written, fsynced, renamed into place), the process SIGKILLs itself
#: as soon as the next shard converts its first rows, when that shard's temporary file is
#: open.  The interruption comes at the same point of the export every time.
KILL_AFTER_SHARDS = """
import os, signal, sys
import sen12ms_plugins.hf.export as export

limit = int(os.environ["SEN12MS_TEST_KILL_AFTER_SHARDS"])
finished = 0
write_shard, examples_to_table = export.write_shard, export.examples_to_table

def counting_write_shard(*args, **kwargs):
    global finished
    result = write_shard(*args, **kwargs)
    finished += 1
    return result

def killing_examples_to_table(*args, **kwargs):
    if finished >= limit:
        os.kill(os.getpid(), signal.SIGKILL)
    return examples_to_table(*args, **kwargs)

export.write_shard = counting_write_shard  # looked up by export._run at each call
export.examples_to_table = killing_examples_to_table  # looked up by write_shard at each call
from sen12ms_plugins.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_interrupted_export_is_finished_by_a_rerun(sample_root, tmp_path):
    """An export killed (SIGKILL) after its 3rd shard, inside the 4th, then run again."""
    out = tmp_path / "hf"
    folder = out / "data" / "all"
    args = ["export-hf", "--root", sample_root, "--out", out, "--config", "all", "--shard-size", "40000",
            "--num-proc", "1", "--quiet"]
    env = dict(os.environ, SEN12MS_TEST_KILL_AFTER_SHARDS="3",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    killed = subprocess.Popen([sys.executable, "-c", KILL_AFTER_SHARDS, *map(str, args)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, stderr = killed.communicate(timeout=300)
    assert killed.returncode == -signal.SIGKILL, stderr
    # The interrupted state, always the same: shards are written in plan order (holdout first,
    # one triplet each at this shard size: 28 + 16 + 35 = 79); 3 complete, the 4th a temporary file.
    done = ["holdout-00000-of-00028.parquet", "holdout-00001-of-00028.parquet", "holdout-00002-of-00028.parquet"]
    assert sorted(p.name for p in folder.glob("*.parquet")) == done
    hidden = sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
    assert hidden == [f".holdout-00003-of-00028.parquet.{killed.pid}.tmp"]
    assert not (out / "README.md").exists(), "an interrupted export must not look complete"
    kept = {name: (folder / name).stat() for name in done}

    rerun = sen12ms(*args, check_exit=0)
    no_traceback(rerun)
    assert "wrote 76 shards (76 triplets), kept 3" in rerun.stdout
    for name, before in kept.items():  # the finished shards were kept, not written again
        after = (folder / name).stat()
        assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)
    assert (out / "README.md").exists()
    assert len(list(folder.glob("*.parquet"))) == 79
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # the temporary shard is gone
    assert not (out / ".sen12ms-export.lock").exists()
    import datasets

    loaded = datasets.load_dataset(str(out), "all")
    # The sample: 7 hold-out scenes x 4 = 28; 13 other scenes x 4 less the damaged patch = 51 train.
    # Validation takes each season's first train scene by sha256 key (spring 101, summer 56, fall 1,
    # winter 63: sha256sum), 4 patches each, already past 10%: 16; train_minus_validation 35.
    assert {split: len(loaded[split]) for split in loaded} == {
        "train": 51, "holdout": 28, "validation": 16, "train_minus_validation": 35}
