"""extract_archives(): safe, atomic per archive, idempotent; malicious archives write nothing."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sen12ms_plugins.acquisition.bookkeeping import Bookkeeping
from sen12ms_plugins.acquisition.extract import TEMP_PREFIX, extract_archives, stage
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.demo.sample import MANIFEST_NAME
from sen12ms_plugins.errors import ChecksumMismatchError, ExtractError, UnsafeArchiveError

from .helpers import make_tar_gz, read_manifest

ALL = list(facts.ARCHIVE_MD5)
S2_SPRING = "ROIs1158_spring_s2.tar.gz"


def tifs(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.tif"))}


def visible(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name != ".sen12ms")


def test_extracts_the_sample_exactly_and_only_once(archive_root, sample_archives, sample_root):
    manifest = sample_archives / MANIFEST_NAME
    report = extract_archives(archive_root, checksums=manifest, quiet=True)
    assert report.ok and [o.status for o in report.outcomes] == ["extracted"] * 12
    assert tifs(archive_root) == tifs(sample_root)
    assert visible(archive_root) == sorted([*ALL, *facts.SEASONS])  # no temporary folder left
    one = next(archive_root.rglob("*.tif"))
    stamp = one.stat().st_mtime_ns
    again = extract_archives(archive_root, quiet=True)  # md5s recorded by the first call
    assert [o.status for o in again.outcomes] == ["already extracted"] * 12
    assert one.stat().st_mtime_ns == stamp
    # the archives were hashed while extracting: verification is now remembered
    md5s = read_manifest(manifest)
    assert all(Bookkeeping(archive_root).remembered_md5(n) == md5s[n] for n in ALL)


def test_delete_archives_after_extraction(archive_root, sample_archives):
    extract_archives(archive_root, checksums=sample_archives / MANIFEST_NAME, delete_archives=True, quiet=True)
    assert visible(archive_root) == sorted(facts.SEASONS)
    assert len(build_index(archive_root)) == 80
    assert [o.status for o in extract_archives(archive_root, quiet=True).outcomes] == ["already extracted"] * 12


def test_md5_mismatch_extracts_nothing(archive_root, sample_archives):
    wrong = read_manifest(sample_archives / MANIFEST_NAME)
    wrong[S2_SPRING] = "0" * 32
    with pytest.raises(ChecksumMismatchError, match=f"{S2_SPRING}.*expected 0{{32}}, got [0-9a-f]{{32}}"):
        extract_archives(archive_root, names=[S2_SPRING], checksums=wrong, quiet=True)
    assert visible(archive_root) == sorted(ALL)


def test_missing_and_absent_archives(tmp_path, archive_root):
    with pytest.raises(ExtractError, match="archive not found"):
        extract_archives(tmp_path, names=[S2_SPRING], quiet=True)
    with pytest.raises(ExtractError, match="no SEN12MS archive to extract"):
        extract_archives(tmp_path, quiet=True)
    with pytest.raises(ValueError, match="not a SEN12MS archive name"):
        extract_archives(archive_root, names=["evil.tar.gz"], quiet=True)


def test_rerun_after_a_killed_run_replaces_half_moved_folders(archive_root, sample_archives, sample_root):
    """A killed run may leave its temporary folder and some scene folders already moved."""
    scene = min((sample_root / "ROIs1158_spring").glob("s2_*")).name
    stale = archive_root / f"{TEMP_PREFIX}{S2_SPRING}-killed"
    (stale / "ROIs1158_spring" / scene).mkdir(parents=True)
    half = archive_root / "ROIs1158_spring" / scene
    half.mkdir(parents=True)
    (half / "leftover.tif").write_bytes(b"truncated")  # replaced with the folder as the archive has it
    extract_archives(archive_root, checksums=sample_archives / MANIFEST_NAME, quiet=True)
    assert not stale.exists()
    assert tifs(archive_root) == tifs(sample_root)


# --- Malicious and broken archives ------------------------------------------------------------


GOOD = [("ROIs1158_spring", "dir", b""), ("ROIs1158_spring/s2_1", "dir", b""),
        ("ROIs1158_spring/s2_1/ROIs1158_spring_s2_1_p0.tif", "file", b"good data")]

MALICIOUS = {
    "parent": ("../evil.txt", "file", b"pwned"),
    "deep parent": ("ROIs1158_spring/s2_1/../../../evil.txt", "file", b"pwned"),
    "absolute": ("/tmp/sen12ms-evil.txt", "file", b"pwned"),
    "symlink": ("ROIs1158_spring/s2_1/link.tif", "symlink", "/etc/passwd"),
    "hardlink": ("ROIs1158_spring/s2_1/hard.tif", "hardlink", "/etc/passwd"),
    "device": ("ROIs1158_spring/s2_1/dev.tif", "chardev", ""),
    "fifo": ("ROIs1158_spring/s2_1/fifo.tif", "fifo", ""),
    "other season": ("ROIs2017_winter/s2_1/x.tif", "file", b"x"),
    "other sensor": ("ROIs1158_spring/s1_1/x.tif", "file", b"x"),
    # deeper paths and files beside the scene folders are harmless: skipped (tests/test_archive_members.py)
    "twice": ("ROIs1158_spring/s2_1/ROIs1158_spring_s2_1_p0.tif", "file", b"other"),
    "backslash": ("ROIs1158_spring\\..\\evil.txt", "file", b"x"),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_archive_is_refused_and_writes_nothing(tmp_path, case):
    root = tmp_path / "root"
    root.mkdir()
    data = make_tar_gz(GOOD + [MALICIOUS[case]])  # harmless members come first: they must vanish too
    (root / S2_SPRING).write_bytes(data)
    before_outside = sorted(tmp_path.iterdir())
    with pytest.raises(UnsafeArchiveError) as caught:
        extract_archives(root, names=[S2_SPRING], checksums={S2_SPRING: hashlib.md5(data).hexdigest()}, quiet=True)
    assert S2_SPRING in str(caught.value) and "nothing was written" in str(caught.value)
    assert visible(root) == [S2_SPRING]  # no season folder, no temporary folder
    assert not any(p.name != ".sen12ms" and p.is_dir() for p in root.iterdir())
    assert sorted(tmp_path.iterdir()) == before_outside
    assert not Path("/tmp/sen12ms-evil.txt").exists()
    assert Bookkeeping(root).marker(S2_SPRING) is None


def test_same_archive_without_the_bad_member_extracts(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    data = make_tar_gz([("./", "dir", b""), *GOOD])
    (root / S2_SPRING).write_bytes(data)
    extract_archives(root, names=[S2_SPRING], checksums={S2_SPRING: hashlib.md5(data).hexdigest()}, quiet=True)
    assert (root / "ROIs1158_spring/s2_1/ROIs1158_spring_s2_1_p0.tif").read_bytes() == b"good data"


@pytest.mark.parametrize("damage", ["truncated", "not gzip", "bad crc"])
def test_broken_archive_is_a_clear_error_and_writes_nothing(archive_root, damage):
    data = bytearray((archive_root / S2_SPRING).read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "not gzip":
        data = bytearray(b"<html>503 Service Unavailable</html>")
    else:
        data[-8] ^= 0xFF  # the gzip trailer's CRC32
    (archive_root / S2_SPRING).unlink()
    (archive_root / S2_SPRING).write_bytes(bytes(data))
    with pytest.raises(ExtractError, match=f"{S2_SPRING}: not a valid tar.gz archive"):
        extract_archives(archive_root, names=[S2_SPRING], checksums={S2_SPRING: hashlib.md5(data).hexdigest()},
                         quiet=True)
    assert visible(archive_root) == sorted(ALL)


def test_staging_reads_the_whole_stream_and_writes_only_into_its_temporary_folder(tmp_path, sample_archives):
    root = tmp_path / "root"
    root.mkdir()
    hasher = hashlib.md5()
    with open(sample_archives / S2_SPRING, "rb") as f:
        staged = stage(f, root, S2_SPRING, hasher=hasher)
    assert hasher.hexdigest() == read_manifest(sample_archives / MANIFEST_NAME)[S2_SPRING]
    assert len(staged.files) == 20 and all(d.startswith("ROIs1158_spring/s2_") for d in staged.dirs)
    assert visible(root) == [staged.temp.name] and staged.temp.name.startswith(TEMP_PREFIX)
    staged.discard()
    assert visible(root) == []


def test_disk_full_leaves_nothing_half_extracted(archive_root, sample_archives):
    """A real write error from the kernel (file-size limit: EFBIG) in a child process."""
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))\n"
        "from sen12ms_plugins.cli import main\n"
        f"sys.exit(main(['extract', '--root', {str(archive_root)!r}, '--checksums', "
        f"{str(sample_archives / MANIFEST_NAME)!r}, '--quiet']))\n"
    )
    repo = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert "disk full while extracting ROIs1158_spring_s2.tar.gz" in done.stderr
    assert "nothing was moved into place" in done.stderr
    # lc and s1 patches (8 KiB) fit under the limit, s2 patches (26 KiB) do not: the s2 archive
    # left nothing behind, the two before it are complete, extraction stopped there.
    assert visible(archive_root) == sorted([*ALL, "ROIs1158_spring"])  # no temporary folder
    assert sorted(p.name.split("_")[0] for p in (archive_root / "ROIs1158_spring").iterdir()) == ["lc"] * 5 + ["s1"] * 5
    assert [n for n in ALL if Bookkeeping(archive_root).marker(n)] == ["ROIs1158_spring_lc.tar.gz",
                                                                          "ROIs1158_spring_s1.tar.gz"]


def test_extract_cli(archive_root, sample_archives, capsys):
    from sen12ms_plugins.cli import main

    assert main(["extract", "--root", str(archive_root), "--seasons", "winter", "--sensors", "s1,lc",
                 "--checksums", str(sample_archives / MANIFEST_NAME), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "ROIs2017_winter_s1.tar.gz" in out and "extracted" in out
    assert {p.name.split("_")[0] for p in (archive_root / "ROIs2017_winter").iterdir()} == {"lc", "s1"}
    with pytest.raises(SystemExit) as caught:
        main(["extract", "--root", str(archive_root), "--seasons", "autumn"])
    assert caught.value.code == 2
    shutil.rmtree(archive_root / "ROIs2017_winter")  # the marker now lies about the folders
    assert main(["extract", "--root", str(archive_root), "--seasons", "winter", "--sensors", "lc",
                 "--quiet"]) == 0
    assert any((archive_root / "ROIs2017_winter").iterdir())
