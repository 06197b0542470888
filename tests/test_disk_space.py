"""Full disks, for real: small tmpfs mounts (we are root), loopback servers, the real download.

* a disk that fills up while writing surfaces ENOSPC as a clear error, keeps a part
  that holds exactly what was hashed, and leaves no hashing thread behind;
* the free-space check counts every parallel transfer together;
* in stream mode it counts the estimated extracted size, not the archive's.
"""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import threading
from pathlib import Path

import pytest

from sen12ms_plugins.acquisition.download import download
from sen12ms_plugins.acquisition.extract import EXTRACTED_FACTOR, extracted_estimate
from sen12ms_plugins.demo.sample import MANIFEST_NAME
from sen12ms_plugins.errors import DownloadError
from tests.servers import FaultyHTTPServer

pytestmark = pytest.mark.needs_root

S2_SPRING = "ROIs1158_spring_s2.tar.gz"
S2_SUMMER = "ROIs1868_summer_s2.tar.gz"
FAST = {"backoff": 0.01, "timeout": 5.0, "quiet": True}


@contextlib.contextmanager
def tmpfs(path: Path, size: int):
    path.mkdir(parents=True)
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True,
                           check=False)
    assert mount.returncode == 0, f"this test needs root to mount a tmpfs: {mount.stderr!r}"
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def resize(path: Path, size: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def hashing_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "sen12ms-md5"]


def test_a_disk_that_fills_up_while_writing_keeps_a_resumable_part(tmp_path, sample_archives):
    """No size announced (so nothing to check up front): the disk fills at 256 KiB of 428 KiB."""
    data = (sample_archives / S2_SPRING).read_bytes()
    before = hashing_threads()
    with tmpfs(tmp_path / "disk", 256 * 1024) as root, FaultyHTTPServer(sample_archives) as server:
        server.add_fault(S2_SPRING, "no_length", times=None)
        with pytest.raises(DownloadError) as caught:
            download(root, seasons="spring", sensors="s2", mirrors=[server.url],
                     checksums=sample_archives / MANIFEST_NAME, **FAST)
        message = str(caught.value)
        assert f"disk full while downloading {S2_SPRING} (No space left on device)" in message
        assert "is kept: free space and run again to resume" in message
        assert hashing_threads() == before  # the hashing thread was joined
        part = (root / f"{S2_SPRING}.part").read_bytes()
        assert 0 < len(part) < len(data) and part == data[: len(part)]  # exactly the bytes that arrived
        assert f"({len(part):,} bytes)" in message
        resize(root, 2 * 1024 * 1024)
        server.clear()
        report = download(root, seasons="spring", sensors="s2", mirrors=[server.url],
                          checksums=sample_archives / MANIFEST_NAME, **FAST)
        assert report.ok and report.archives[0].fetched == len(data) - len(part)  # resumed, not restarted
        assert hashlib.md5((root / S2_SPRING).read_bytes()).hexdigest() == report.archives[0].md5
    assert hashing_threads() == before


def test_parallel_transfers_are_counted_together(tmp_path, sample_archives):
    """Each of two archives fits on its own, not both: the second to start is refused before it writes."""
    sizes = {n: (sample_archives / n).stat().st_size for n in (S2_SPRING, S2_SUMMER)}
    with tmpfs(tmp_path / "disk", sum(sizes.values()) - 64 * 1024) as root, \
            FaultyHTTPServer(sample_archives) as server:
        for name in sizes:  # both stay under way for a while
            server.add_fault(name, "stall", after=10_000, seconds=3.0)
        with pytest.raises(DownloadError) as caught:
            download(root, seasons="spring,summer", sensors="s2", mirrors=[server.url], jobs=2,
                     checksums=sample_archives / MANIFEST_NAME, **FAST)
        results = {a.name: a for a in caught.value.report.archives}
        (failed,) = [a for a in results.values() if a.status == "failed"]
        (done,) = [a for a in results.values() if a.status == "downloaded"]
        besides = [f"besides {sizes[done.name] - sent:,} for 1 other transfer(s) under way" for sent in (0, 4096, 10_000)]
        assert f"not enough free space for {failed.name}: {sizes[failed.name]:,} more bytes needed" in failed.error
        assert any(b in failed.error for b in besides), failed.error  # the other's remaining bytes
        assert failed.fetched == 0 and not (root / f"{failed.name}.part").exists()  # refused before writing
        assert "disk full" not in str(caught.value)  # the kernel never had to say it
        # alone, it fits once the other one is gone
        (root / done.name).unlink()
        server.clear()
        season = "spring" if failed.name == S2_SPRING else "summer"
        assert download(root, seasons=season, sensors="s2", mirrors=[server.url],
                        checksums=sample_archives / MANIFEST_NAME, **FAST).ok


def test_stream_mode_counts_the_extracted_size(tmp_path, sample_archives):
    size = (sample_archives / S2_SPRING).stat().st_size
    estimate = extracted_estimate(S2_SPRING, size)
    assert estimate == int(size * EXTRACTED_FACTOR["s2"] + 0.999999)
    room = (size + estimate) // 2  # the archive fits, its estimated content does not
    with tmpfs(tmp_path / "disk", room + 64 * 1024) as root, FaultyHTTPServer(sample_archives) as server:
        with pytest.raises(DownloadError) as caught:
            download(root, seasons="spring", sensors="s2", mirrors=[server.url], stream=True,
                     checksums=sample_archives / MANIFEST_NAME, **FAST)
        error = caught.value.report.archives[0].error
        assert f"not enough free space for {S2_SPRING}: {estimate:,} more bytes needed (its estimated extracted " \
               f"size, for {size:,} bytes of archive still to come)" in error
        assert caught.value.report.archives[0].fetched == 0
        assert sorted(p.name for p in root.iterdir() if p.name != ".sen12ms") == []
        report = download(root, seasons="spring", sensors="s2", mirrors=[server.url],  # the archive itself fits
                          checksums=sample_archives / MANIFEST_NAME, **FAST)
        assert report.ok
