"""Bookkeeping that must lose nothing: the root lock across threads, records across processes, rejected copies."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sen12ms_plugins.acquisition.bookkeeping import Bookkeeping, RecordFile
from sen12ms_plugins.acquisition.download import download, require_ready
from sen12ms_plugins.acquisition.fetch import move_aside, rejected_path, rejected_paths
from sen12ms_plugins.acquisition.verify import verify_archives
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.demo.sample import MANIFEST_NAME
from sen12ms_plugins.errors import DownloadError, RecordError, RootBusyError
from tests.servers import FaultyHTTPServer

REPO = Path(__file__).resolve().parents[1]
S2_SPRING = "ROIs1158_spring_s2.tar.gz"
FAST = {"backoff": 0.01, "timeout": 2.0, "quiet": True}


def child_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


# --- the root lock ---------------------------------------------------------------------------


def test_the_root_lock_refuses_a_second_thread_at_once_and_lets_the_same_thread_nest(tmp_path):
    seen: list[str] = []

    def second() -> None:
        started = time.monotonic()
        try:
            with Bookkeeping(tmp_path).lock("sen12ms extract"):
                seen.append("acquired")
        except RootBusyError as exc:
            seen.append(f"{time.monotonic() - started:.3f} {exc}")

    with Bookkeeping(tmp_path).lock("sen12ms download"):
        with Bookkeeping(tmp_path).lock("sen12ms extract"):  # the holder may take it again
            thread = threading.Thread(target=second)
            thread.start()
            thread.join(10)
        thread = threading.Thread(target=second)  # still held by the outer level
        thread.start()
        thread.join(10)
    assert len(seen) == 2
    for entry in seen:
        seconds, message = entry.split(" ", 1)
        assert float(seconds) < 1.0  # at once, not after waiting
        assert f"{tmp_path}: busy: sen12ms download (pid {os.getpid()}, another thread of this process)" in message
    thread = threading.Thread(target=second)  # released: now another thread gets it
    thread.start()
    thread.join(10)
    assert seen[-1] == "acquired"


def test_two_downloads_in_two_threads_of_one_process(tmp_path, sample_archives):
    """The second download on the same root fails at once while the first (stalled) one runs."""
    root = tmp_path / "root"
    outcome: dict[str, object] = {}
    with FaultyHTTPServer(sample_archives) as server:
        server.add_fault(S2_SPRING, "stall", after=1000, seconds=1.5)

        def first() -> None:
            outcome["first"] = download(root, seasons="spring", sensors="s2", mirrors=[server.url],
                                        checksums=sample_archives / MANIFEST_NAME, backoff=0.01, timeout=5.0,
                                        quiet=True)

        thread = threading.Thread(target=first)
        thread.start()
        while not server.requests(S2_SPRING, wait=0):  # do not wait for the stalled body
            time.sleep(0.01)
        with pytest.raises(RootBusyError, match="busy: sen12ms download .*another thread of this process"):
            download(root, seasons="spring", sensors="lc", mirrors=[server.url],
                     checksums=sample_archives / MANIFEST_NAME, **FAST)
        thread.join(30)
        assert server.requests("ROIs1158_spring_lc.tar.gz") == []
    assert outcome["first"].ok


# --- records written by two processes at once ------------------------------------------------------


RECORDER = r"""
import os, sys, time
from sen12ms_plugins.acquisition.bookkeeping import Bookkeeping
root, prefix, go = sys.argv[1], sys.argv[2], float(sys.argv[3])
books = Bookkeeping(root)
st = os.stat(os.path.join(root, "blob"))
while time.time() < go:
    pass
for i in range(60):
    books.remember_md5(f"{prefix}{i}.tar.gz", f"{i:032x}", st)
    books.remember_sizes({f"{prefix}{i}.tar.gz": (f"{i:032x}", i, prefix)}, verified=False)
"""


def test_two_processes_recording_at_once_lose_no_record(tmp_path):
    """Each of two processes records 60 md5s and sizes at the same moment: all 120 of each are there."""
    (tmp_path / "blob").write_bytes(b"x")
    go = time.time() + 3.0  # both start together, after their imports
    children = [subprocess.Popen([sys.executable, "-c", RECORDER, str(tmp_path), prefix, str(go)], env=child_env())
                for prefix in ("a", "b")]
    assert [child.wait(60) for child in children] == [0, 0]
    verified = json.loads((tmp_path / ".sen12ms" / RecordFile.VERIFIED).read_bytes())["archives"]
    sizes = json.loads((tmp_path / ".sen12ms" / RecordFile.SIZES).read_bytes())["archives"]
    names = {f"{p}{i}.tar.gz" for p in "ab" for i in range(60)}
    assert set(verified) == names and set(sizes) == names


VERIFIER = r"""
import sys, time
from sen12ms_plugins.acquisition.verify import verify_archives
root, manifest, go, names = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4].split(",")
while time.time() < go:
    pass
report = verify_archives(root, names=names, checksums=manifest, jobs=1, quiet=True)
sys.exit(0 if report.ok else 1)
"""


def test_two_verify_runs_at_once_keep_both_records(archive_root, sample_archives):
    manifest = sample_archives / MANIFEST_NAME
    halves = [[n for n in facts.ARCHIVE_MD5 if "_s2" in n or "_lc" in n], [n for n in facts.ARCHIVE_MD5 if "_s1" in n]]
    go = time.time() + 3.0
    children = [subprocess.Popen([sys.executable, "-c", VERIFIER, str(archive_root), str(manifest), str(go),
                                  ",".join(half)], env=child_env()) for half in halves]
    assert [child.wait(120) for child in children] == [0, 0]
    report = verify_archives(archive_root, checksums=manifest, quiet=True)
    assert report.ok and all(a.remembered for a in report.archives)  # every archive's record survived
    sizes = json.loads((archive_root / ".sen12ms" / RecordFile.SIZES).read_bytes())["archives"]
    assert {n: e["size"] for n, e in sizes.items()} == {n: (archive_root / n).stat().st_size
                                                        for n in facts.ARCHIVE_MD5}
    assert all(e["verified"] for e in sizes.values())


# --- rejected copies ----------------------------------------------------------------------------------


def test_rejected_copies_are_numbered_and_never_overwritten(tmp_path, sample_archives):
    data = (sample_archives / S2_SPRING).read_bytes()
    root = tmp_path / "root"
    root.mkdir()
    (root / f"{S2_SPRING}.rejected").write_bytes(b"from an earlier run")
    with FaultyHTTPServer(sample_archives) as one, FaultyHTTPServer(sample_archives) as two:
        one.add_fault(S2_SPRING, "corrupt", offset=1000, times=None)
        two.add_fault(S2_SPRING, "corrupt", offset=2000, times=None)
        with pytest.raises(DownloadError) as caught:
            download(root, seasons="spring", sensors="s2", mirrors=[one.url, two.url],
                     checksums=sample_archives / MANIFEST_NAME, **FAST)
    found = rejected_paths(root, S2_SPRING)
    assert [p.name for p in found] == [f"{S2_SPRING}.rejected", f"{S2_SPRING}.rejected.1", f"{S2_SPRING}.rejected.2"]
    assert found[0].read_bytes() == b"from an earlier run"
    for path, offset in zip(found[1:], (1000, 2000)):
        expected = bytearray(data)
        expected[offset] ^= 0xFF
        assert path.read_bytes() == bytes(expected)
        assert str(path) in str(caught.value)
    # verify lists every one of them
    (root / S2_SPRING).write_bytes(data)
    report = verify_archives(root, checksums=sample_archives / MANIFEST_NAME, quiet=True)
    assert [n for n in report.notes if "failed its md5 check" in n] == [
        f"{p}: data that failed its md5 check, kept for inspection (safe to delete)" for p in found]


def test_moving_aside_never_replaces_a_rejected_copy_that_appears_meanwhile(tmp_path):
    """Two movers at once (two threads): each gets a name of its own."""
    sources = []
    for i in range(8):
        path = tmp_path / f"bad{i}"
        path.write_bytes(f"copy {i}".encode())
        sources.append(path)
    threads = [threading.Thread(target=move_aside, args=(p, tmp_path, S2_SPRING)) for p in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    kept = sorted(p.read_bytes() for p in rejected_paths(tmp_path, S2_SPRING))
    assert kept == sorted(f"copy {i}".encode() for i in range(8))
    assert rejected_path(tmp_path, S2_SPRING).name == f"{S2_SPRING}.rejected.8"


def test_a_good_download_removes_the_rejected_copies(tmp_path, sample_archives):
    root = tmp_path / "root"
    root.mkdir()
    for suffix in ("", ".1"):
        (root / f"{S2_SPRING}.rejected{suffix}").write_bytes(b"bad")
    report = download(root, seasons="spring", sensors="s2", mirrors=[str(sample_archives)],
                      checksums=sample_archives / MANIFEST_NAME, **FAST)
    assert report.ok and sorted(p.name for p in root.iterdir() if p.name != ".sen12ms") == [S2_SPRING]
    assert hashlib.md5((root / S2_SPRING).read_bytes()).hexdigest() == report.archives[0].md5


def test_a_bad_archive_on_disk_is_moved_aside_beside_older_rejected_copies(tmp_path, sample_archives):
    root = tmp_path / "root"
    root.mkdir()
    (root / f"{S2_SPRING}.rejected").write_bytes(b"older")
    shutil.copy(sample_archives / S2_SPRING, root / S2_SPRING)
    with open(root / S2_SPRING, "r+b") as f:
        f.seek(10)
        f.write(b"\0")
    with FaultyHTTPServer(sample_archives) as server:
        server.add_fault(S2_SPRING, "status", status=404, times=None)
        with pytest.raises(DownloadError):
            download(root, seasons="spring", sensors="s2", mirrors=[server.url],
                     checksums=sample_archives / MANIFEST_NAME, **FAST)
    assert [p.read_bytes()[:5] for p in rejected_paths(root, S2_SPRING)] == [b"older",
                                                                              (sample_archives / S2_SPRING).read_bytes()[:5]]


# --- records of another version ----------------------------------------------------------------------


@pytest.mark.parametrize("record, command", [
    ("checksums.json", ["download", "--dry-run", "--mirror", "http://127.0.0.1:9/"]),
    ("verified-archives.json", ["verify"]),
    ("extracted/ROIs1158_spring_s2.tar.gz.json", ["extract"]),
])
def test_a_record_of_another_version_is_an_error_naming_it_and_is_kept(archive_root, record, command):
    """Never a silent reset: what the record remembers would be lost or misread."""
    path = archive_root / ".sen12ms" / record
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"version": 99, "archives": {}}))
    env = child_env()
    done = subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", *command[:1], "--root", str(archive_root),
                           *command[1:]], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert (f"{path}: a record of version 99; this release of sen12ms-plugins reads version 1; it was written by "
            "another release of sen12ms-plugins or changed by hand: move it away") in done.stderr
    assert json.loads(path.read_text())["version"] == 99


def test_an_adapter_does_not_read_past_a_selection_of_another_version(sample_root, copy_tree):
    root = copy_tree(sample_root)
    path = root / ".sen12ms" / RecordFile.SELECTION
    path.parent.mkdir()
    path.write_text(json.dumps({"version": 2, "archives": list(facts.ARCHIVE_MD5)}))
    with pytest.raises(RecordError, match=rf"{path}: a record of version 2"):
        require_ready(root, opt_in="or pass download=True")


def test_a_file_that_is_not_a_record_is_an_error_naming_it(tmp_path):
    books = Bookkeeping(tmp_path)
    path = tmp_path / ".sen12ms" / RecordFile.CHECKSUMS
    path.parent.mkdir()
    path.write_text("{not json")
    with pytest.raises(RecordError, match=rf"{path}: not a JSON record"):
        books.read(RecordFile.CHECKSUMS)
    path.write_text(json.dumps({"archives": {}}))
    with pytest.raises(RecordError, match=rf"{path}: not a sen12ms-plugins record \(no version\)"):
        books.read(RecordFile.CHECKSUMS)
