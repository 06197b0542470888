"""download(): real loopback HTTP and FTP servers serving the sample archives, with faults."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
from pathlib import Path

import pytest

from sen12ms_plugins.acquisition.checksums import UnknownChecksumError
from sen12ms_plugins.acquisition.download import DownloadError, download, ensure_dataset, select_archives
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.demo.sample import MANIFEST_NAME
from tests.servers import FaultyHTTPServer, FtpTestServer

ALL = list(facts.ARCHIVE_MD5)
S2_SPRING = "ROIs1158_spring_s2.tar.gz"
S1_FALL = "ROIs1970_fall_s1.tar.gz"
FAST = {"backoff": 0.01, "timeout": 2.0, "quiet": True}


def visible(root: Path) -> list[str]:
    """Everything in the root except the bookkeeping folder."""
    return sorted(p.name for p in root.iterdir() if p.name != ".sen12ms")


def assert_archives_match(root: Path, mirror: Path, names=ALL) -> None:
    for name in names:
        assert (root / name).read_bytes() == (mirror / name).read_bytes(), name


def manifest_url(server) -> str:
    return server.url + MANIFEST_NAME


def test_download_verifies_every_archive_and_leaves_nothing_else(tmp_path, http_mirror, sample_archives):
    root = tmp_path / "root"
    report = download(root, mirrors=[http_mirror.url], checksums=manifest_url(http_mirror), **FAST)
    assert report.ok and [a.status for a in report.archives] == ["downloaded"] * 12
    assert visible(root) == sorted(ALL)
    assert_archives_match(root, sample_archives)
    assert report.fetched == sum((sample_archives / n).stat().st_size for n in ALL)
    # one GET per archive, none resumed
    assert sorted(r.name for r in http_mirror.requests() if r.name != MANIFEST_NAME) == sorted(ALL)


def test_second_run_transfers_nothing(tmp_path, http_mirror):
    root = tmp_path / "root"
    download(root, mirrors=[http_mirror.url], checksums=manifest_url(http_mirror), **FAST)
    http_mirror.clear()
    report = download(root, mirrors=[http_mirror.url], checksums=manifest_url(http_mirror), **FAST)
    assert [a.status for a in report.archives] == ["present"] * 12
    assert report.fetched == 0
    assert [r.name for r in http_mirror.requests()] == [MANIFEST_NAME]


def assert_resumed(requests, size: int, fault_after: int) -> int:
    """Two GETs of one file: the first cut after ``fault_after`` bytes, the second a Range
    request resuming at a positive offset no later than that, which delivered exactly the
    rest of the file.  Returns the offset resumed at."""
    first, second = requests
    assert (first.range, first.status, first.sent) == (None, 200, fault_after)
    assert second.status == 206 and second.range == f"bytes={second.offset}-"
    assert 0 < second.offset <= fault_after, "resumed, not restarted from zero"
    assert second.offset + second.sent == size, "the bytes kept and the bytes resumed make up the file"
    return second.offset


def test_faults_are_retried_and_resumed(tmp_path, http_mirror, sample_archives):
    """Clean drops (FIN) on two archives at once, and a 503: every byte sent before a drop
    reaches the client, so each resumes exactly where its first transfer stopped.  (Resets
    and stalls: test_reset_and_stall_resume_from_the_last_whole_read.)"""
    http_mirror.add_fault(S2_SPRING, "drop", after=100_000)
    http_mirror.add_fault(S1_FALL, "drop", after=50_000)
    http_mirror.add_fault("ROIs1868_summer_s2.tar.gz", "status", status=503)
    root = tmp_path / "root"
    report = download(root, mirrors=[http_mirror.url], checksums=manifest_url(http_mirror),
                      jobs=4, backoff=0.01, timeout=0.5, quiet=True)
    assert report.ok
    assert visible(root) == sorted(ALL)
    assert_archives_match(root, sample_archives)
    for name, after in ((S2_SPRING, 100_000), (S1_FALL, 50_000)):
        size = (sample_archives / name).stat().st_size
        assert assert_resumed(http_mirror.requests(name), size, after) == after, name
    retried = http_mirror.requests("ROIs1868_summer_s2.tar.gz")
    assert [(r.status, r.range) for r in retried] == [(503, None), (200, None)]
    # resuming fetched no byte twice: the bytes received are the 12 archives' sizes
    assert report.fetched == sum((sample_archives / n).stat().st_size for n in ALL)


@pytest.mark.parametrize("kind", ["reset", "stall"])
def test_reset_and_stall_resume_from_the_last_whole_read(tmp_path, kind):
    """A connection reset (RST) or a stall past the timeout in the middle of a read: the
    client keeps the bytes of its completed reads (1 MiB each, sinks.CHUNK) and resumes
    after them; the bytes of the read in progress are lost.  So the file is about 3 MB and the
    fault comes after 2,500,000 bytes: the resume is at a positive offset at most one read
    before the fault.  (A fault within the first 1 MiB loses every byte: the sample
    archives, all smaller than 1 MiB, would restart from zero.)"""
    from sen12ms_plugins.acquisition.fetch import fetch_archive
    from sen12ms_plugins.acquisition.transfer import CHUNK

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    # a gzip stream, as an archive is (the client refuses bytes that do not start like one)
    data = gzip.compress(random.Random(11).randbytes(3_000_000), compresslevel=1, mtime=0)
    (mirror / S1_FALL).write_bytes(data)
    after = 2_500_000
    with FaultyHTTPServer(mirror) as server:
        server.add_fault(S1_FALL, kind, after=after, seconds=1.5)
        path = fetch_archive(S1_FALL, [server.url], tmp_path / "root", hashlib.md5(data).hexdigest(),
                             timeout=0.5, backoff=0.01, quiet=True)
        offset = assert_resumed(server.requests(S1_FALL), len(data), after)
    assert after - offset < CHUNK, "at most the read in progress is lost"
    assert path.read_bytes() == data


def test_part_from_an_interrupted_run_is_hashed_then_resumed(tmp_path, http_mirror, sample_archives, sample_md5s, capsys):
    root = tmp_path / "root"
    root.mkdir()
    data = (sample_archives / S2_SPRING).read_bytes()
    (root / f"{S2_SPRING}.part").write_bytes(data[:200_000])
    report = download(root, sensors="s2", seasons="spring", mirrors=[http_mirror.url],
                      checksums=manifest_url(http_mirror), backoff=0.01, quiet=False)
    assert report.archives[0].status == "downloaded"
    assert report.archives[0].fetched == len(data) - 200_000
    assert [r.range for r in http_mirror.requests(S2_SPRING)] == ["bytes=200000-"]
    assert (root / S2_SPRING).read_bytes() == data and visible(root) == [S2_SPRING]
    assert "resuming" in capsys.readouterr().err


def test_corrupt_part_is_fetched_again_from_zero(tmp_path, http_mirror, sample_archives, capsys):
    root = tmp_path / "root"
    root.mkdir()
    data = (sample_archives / S2_SPRING).read_bytes()
    (root / f"{S2_SPRING}.part").write_bytes(b"\0" * 1000 + data[1000:150_000])
    report = download(root, sensors="s2", seasons="spring", mirrors=[http_mirror.url],
                      checksums=manifest_url(http_mirror), backoff=0.01, quiet=False)
    assert report.ok
    assert [r.range for r in http_mirror.requests(S2_SPRING)] == ["bytes=150000-", None]
    assert (root / S2_SPRING).read_bytes() == data and visible(root) == [S2_SPRING]
    assert "fetching it again from zero" in capsys.readouterr().err


def test_server_ignoring_range_restarts_from_zero_said_once(tmp_path, http_mirror, sample_archives, capsys):
    root = tmp_path / "root"
    root.mkdir()
    names = select_archives("spring,summer", "s2")
    for name in names:
        (root / f"{name}.part").write_bytes((sample_archives / name).read_bytes()[:30_000])
        http_mirror.add_fault(name, "ignore_range", times=None)
    report = download(root, seasons="spring,summer", sensors="s2", mirrors=[http_mirror.url],
                      checksums=manifest_url(http_mirror), backoff=0.01, quiet=False)
    assert report.ok
    assert_archives_match(root, sample_archives, names)
    assert visible(root) == sorted(names)
    assert capsys.readouterr().err.count("cannot resume") == 1


def test_tampered_archive_is_rejected_naming_both_md5s(tmp_path, http_mirror, sample_archives, sample_md5s):
    http_mirror.add_fault(S2_SPRING, "corrupt", offset=5000, times=None)
    bad = bytearray((sample_archives / S2_SPRING).read_bytes())
    bad[5000] ^= 0xFF
    bad_md5 = hashlib.md5(bad).hexdigest()
    root = tmp_path / "root"
    with pytest.raises(DownloadError) as caught:
        download(root, mirrors=[http_mirror.url], checksums=manifest_url(http_mirror), **FAST)
    message = str(caught.value)
    assert S2_SPRING in message and sample_md5s[S2_SPRING] in message and bad_md5 in message
    assert not (root / S2_SPRING).exists()  # never at the final name
    assert (root / f"{S2_SPRING}.rejected").read_bytes() == bytes(bad)
    report = caught.value.report
    assert [a.name for a in report.archives if a.status == "failed"] == [S2_SPRING]
    assert_archives_match(root, sample_archives, [n for n in ALL if n != S2_SPRING])


def test_official_md5s_by_default(tmp_path, http_mirror):
    """Without --checksums the official md5s apply: the sample's archives do not match them."""
    with pytest.raises(DownloadError) as caught:
        download(tmp_path / "root", seasons="winter", sensors="lc", mirrors=[http_mirror.url], **FAST)
    assert facts.ARCHIVE_MD5["ROIs2017_winter_lc.tar.gz"] in str(caught.value)


def test_archive_without_known_md5_is_refused_before_any_transfer(tmp_path, http_mirror, sample_md5s):
    manifest = tmp_path / "partial.md5"
    manifest.write_text("".join(f"{md5}  {name}\n" for name, md5 in sample_md5s.items() if name != S1_FALL))
    with pytest.raises(UnknownChecksumError, match=S1_FALL):
        download(tmp_path / "root", mirrors=[http_mirror.url], checksums=manifest, **FAST)
    assert http_mirror.requests() == []


def test_4xx_fails_at_once_and_the_next_mirror_is_used(tmp_path, http_mirror, ftp_mirror, sample_archives):
    http_mirror.add_fault(S2_SPRING, "status", status=404, times=None)
    root = tmp_path / "root"
    report = download(root, mirrors=[http_mirror.url, ftp_mirror.url], checksums=manifest_url(http_mirror), **FAST)
    result = {a.name: a for a in report.archives}[S2_SPRING]
    assert result.source.startswith("ftp://sen12ms:***@127.0.0.1")
    assert len(http_mirror.requests(S2_SPRING)) == 1  # no retry on 404
    assert_archives_match(root, sample_archives)


def test_4xx_on_the_only_mirror_is_a_clear_error(tmp_path, http_mirror):
    http_mirror.add_fault(S2_SPRING, "status", status=404, times=None)
    with pytest.raises(DownloadError, match=rf"{S2_SPRING}.*not found \(HTTP 404"):
        download(tmp_path / "root", mirrors=[http_mirror.url], checksums=manifest_url(http_mirror), **FAST)
    assert len(http_mirror.requests(S2_SPRING)) == 1


def test_retries_give_up_with_a_clear_error(tmp_path, http_mirror):
    http_mirror.add_fault(S2_SPRING, "status", status=503, times=None)
    with pytest.raises(DownloadError, match=r"HTTP 503.*gave up after 2 retries"):
        download(tmp_path / "root", seasons="spring", sensors="s2", mirrors=[http_mirror.url],
                 checksums=manifest_url(http_mirror), retries=2, backoff=0.01, quiet=True)
    assert len(http_mirror.requests(S2_SPRING)) == 3
    assert not (tmp_path / "root" / S2_SPRING).exists()


def test_http_authentication(tmp_path, sample_archives):
    with FaultyHTTPServer(sample_archives, auth=("user", "pa:ss")) as server:
        with pytest.raises(DownloadError, match="authentication failed"):
            download(tmp_path / "a", seasons="spring", sensors="lc", mirrors=[server.url],
                     checksums=sample_archives / MANIFEST_NAME, **FAST)
        assert len(server.requests("ROIs1158_spring_lc.tar.gz")) == 1  # not retried
        url = server.url.replace("http://", "http://user:pa%3Ass@")
        report = download(tmp_path / "b", seasons="spring", sensors="lc", mirrors=[url],
                          checksums=sample_archives / MANIFEST_NAME, **FAST)
    assert report.ok and "pa%3Ass" not in report.archives[0].source


def test_ftp_with_login_resumes_with_rest(tmp_path, ftp_mirror, sample_archives):
    ftp_mirror.drop_after(S2_SPRING, 120_000)
    root = tmp_path / "root"
    report = download(root, mirrors=[ftp_mirror.url], checksums=sample_archives / MANIFEST_NAME, **FAST)
    assert report.ok
    assert_archives_match(root, sample_archives)
    assert visible(root) == sorted(ALL)
    first, second = ftp_mirror.transfers(S2_SPRING)
    # the first RETR was cut after 120,000 bytes (426), closed cleanly: the client kept them all
    assert (first.offset, first.sent, first.completed) == (0, 120_000, False)
    # ... and asked the server to restart there: REST 120000, then RETR of the rest
    commands = [c for c in ftp_mirror.commands if c[0] == "REST" or c[1] == S2_SPRING]
    assert commands == [("RETR", S2_SPRING), ("REST", "120000"), ("RETR", S2_SPRING)]
    size = (sample_archives / S2_SPRING).stat().st_size
    assert (second.offset, second.sent, second.completed) == (120_000, size - 120_000, True)
    # the other 11 archives: one whole RETR each, from 0
    others = [t for t in ftp_mirror.transfers() if t.name != S2_SPRING]
    assert sorted((t.name, t.offset, t.sent) for t in others) == sorted(
        (n, 0, (sample_archives / n).stat().st_size) for n in ALL if n != S2_SPRING)


def test_ftp_without_rest_restarts_from_zero(tmp_path, sample_archives, capsys):
    root = tmp_path / "root"
    root.mkdir()
    (root / f"{S2_SPRING}.part").write_bytes((sample_archives / S2_SPRING).read_bytes()[:40_000])
    with FtpTestServer(sample_archives, no_rest=True) as server:
        report = download(root, seasons="spring", sensors="s2", mirrors=[server.url],
                          checksums=sample_archives / MANIFEST_NAME, backoff=0.01, quiet=False)
        # the client asked to resume at its part's size; refused (502), it fetched the whole file
        assert server.commands == [("REST", "40000"), ("RETR", S2_SPRING)]
        size = (sample_archives / S2_SPRING).stat().st_size
        assert [(t.offset, t.sent, t.completed) for t in server.transfers()] == [(0, size, True)]
    assert report.ok and (root / S2_SPRING).read_bytes() == (sample_archives / S2_SPRING).read_bytes()
    assert "cannot resume" in capsys.readouterr().err


def test_ftp_refused_login(tmp_path, ftp_mirror, sample_archives):
    url = ftp_mirror.url.replace(":s3cret@", ":wrong@")
    with pytest.raises(DownloadError, match="login refused"):
        download(tmp_path / "root", seasons="spring", sensors="lc", mirrors=[url],
                 checksums=sample_archives / MANIFEST_NAME, **FAST)


def test_local_folder_and_file_url_mirrors(tmp_path, sample_archives):
    for i, mirror in enumerate([str(sample_archives), sample_archives.as_uri()]):
        root = tmp_path / f"root{i}"
        report = download(root, mirrors=mirror, checksums=sample_archives / MANIFEST_NAME, **FAST)
        assert report.ok
        assert_archives_match(root, sample_archives)


def test_share_url_template(tmp_path, http_mirror, sample_archives):
    """A mirror URL with {name}, as the official Nextcloud share is addressed."""
    template = http_mirror.url + "download?path=%2F&files={name}"
    report = download(tmp_path / "root", seasons="fall", sensors="s1", mirrors=[template],
                      checksums=manifest_url(http_mirror), **FAST)
    assert report.archives[0].status == "downloaded"
    assert (tmp_path / "root" / S1_FALL).read_bytes() == (sample_archives / S1_FALL).read_bytes()


def test_selection_of_seasons_and_sensors(tmp_path, http_mirror):
    report = download(tmp_path / "root", seasons="spring,ROIs1970_fall", sensors=["s2", "lc"],
                      mirrors=[http_mirror.url], checksums=manifest_url(http_mirror), **FAST)
    assert [a.name for a in report.archives] == ["ROIs1158_spring_s2.tar.gz", "ROIs1158_spring_lc.tar.gz",
                                                 "ROIs1970_fall_s2.tar.gz", "ROIs1970_fall_lc.tar.gz"]
    assert visible(tmp_path / "root") == sorted(a.name for a in report.archives)


@pytest.mark.parametrize("kwargs, message", [
    ({"seasons": "autumn"}, "unknown season"),
    ({"sensors": "s3"}, "unknown sensor"),
    ({"seasons": ""}, "no archive selected"),
    ({"jobs": 0}, "jobs must be at least 1"),
    ({"delete_archives": True}, "delete_archives needs extract"),
    ({"mirrors": ["gopher://example.org/"]}, "unsupported mirror scheme"),
    ({"mirrors": []}, "mirrors is empty"),
])
def test_bad_arguments_fail_before_any_io(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        download(tmp_path / "root", **kwargs)
    assert not (tmp_path / "root").exists()


def test_dry_run_reports_and_changes_nothing(tmp_path, http_mirror, sample_archives):
    root = tmp_path / "root"
    download(root, seasons="spring", sensors="lc", mirrors=[http_mirror.url], checksums=manifest_url(http_mirror),
             **FAST)
    (root / f"{S2_SPRING}.part").write_bytes((sample_archives / S2_SPRING).read_bytes()[:1000])
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    report = download(root, seasons="spring", mirrors=[http_mirror.url], checksums=manifest_url(http_mirror),
                      dry_run=True, **FAST)
    status = {a.name: a for a in report.archives}
    assert status["ROIs1158_spring_lc.tar.gz"].status == "present"
    assert status[S2_SPRING].status == "would resume" and status[S2_SPRING].have == 1000
    assert status[S2_SPRING].size == (sample_archives / S2_SPRING).stat().st_size
    assert status["ROIs1158_spring_s1.tar.gz"].status == "would fetch"
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == before


def test_download_extract_delete_then_rerun_is_offline(tmp_path, http_mirror, sample_root):
    root = tmp_path / "root"
    report = download(root, mirrors=[http_mirror.url], checksums=manifest_url(http_mirror), extract=True,
                      delete_archives=True, **FAST)
    assert all(a.extracted for a in report.archives)
    assert visible(root) == list(facts.SEASONS)  # archives deleted
    assert_same_tree(root, sample_root)
    http_mirror.clear()
    # the md5s recorded at download apply; nothing is fetched, so no mirror is contacted
    report = download(root, mirrors=["http://127.0.0.1:9/unreachable/"], **FAST)
    assert [a.status for a in report.archives] == ["already extracted"] * 12


def assert_same_tree(root: Path, expected: Path) -> None:
    got = sorted(p.relative_to(root) for p in root.rglob("*.tif"))
    want = sorted(p.relative_to(expected) for p in expected.rglob("*.tif"))
    assert got == want
    for rel in want:
        assert (root / rel).read_bytes() == (expected / rel).read_bytes(), rel


def test_stream_mode_extracts_while_downloading(tmp_path, http_mirror, sample_root):
    http_mirror.add_fault(S2_SPRING, "drop", after=150_000)  # resumed within the run
    root = tmp_path / "root"
    report = download(root, mirrors=[http_mirror.url], checksums=manifest_url(http_mirror), stream=True, **FAST)
    assert [a.status for a in report.archives] == ["streamed"] * 12
    assert visible(root) == list(facts.SEASONS)  # no archive, no part, no temporary folder
    assert_same_tree(root, sample_root)
    assert [r.range for r in http_mirror.requests(S2_SPRING)] == [None, "bytes=150000-"]


def test_stream_md5_mismatch_extracts_nothing(tmp_path, http_mirror, sample_md5s):
    wrong = dict(sample_md5s)
    wrong[S2_SPRING] = sample_md5s["ROIs1158_spring_s1.tar.gz"]
    root = tmp_path / "root"
    with pytest.raises(DownloadError) as caught:
        download(root, seasons="spring", sensors="s2", mirrors=[http_mirror.url], checksums=wrong, stream=True, **FAST)
    assert wrong[S2_SPRING] in str(caught.value) and sample_md5s[S2_SPRING] in str(caught.value)
    assert visible(root) == []  # no season folder, no temporary folder


def test_stream_interrupted_leaves_nothing_that_looks_complete(tmp_path, http_mirror, sample_archives):
    http_mirror.add_fault(S2_SPRING, "drop", after=200_000)
    http_mirror.add_fault(S2_SPRING, "status", status=404, times=None)  # the resume attempt fails for good
    root = tmp_path / "root"
    with pytest.raises(DownloadError, match="not found"):
        download(root, seasons="spring", sensors="s2", mirrors=[http_mirror.url],
                 checksums=sample_archives / MANIFEST_NAME, stream=True, **FAST)
    assert visible(root) == []


def test_stale_stream_folder_of_a_killed_run_is_removed(tmp_path, http_mirror, sample_archives):
    root = tmp_path / "root"
    stale = root / f".sen12ms-extracting-{S2_SPRING}-killed"
    (stale / "ROIs1158_spring" / "s2_1").mkdir(parents=True)
    (stale / "ROIs1158_spring" / "s2_1" / "half.tif").write_bytes(b"x")
    report = download(root, seasons="spring", sensors="s2", mirrors=[http_mirror.url],
                      checksums=sample_archives / MANIFEST_NAME, stream=True, **FAST)
    assert report.ok and not stale.exists()
    assert visible(root) == ["ROIs1158_spring"]


def test_ensure_dataset_returns_the_index_and_is_idempotent(tmp_path, http_mirror, sample_root):
    from sen12ms_plugins.dataset.index import build_index

    root = tmp_path / "root"
    index = ensure_dataset(root, mirrors=[http_mirror.url], checksums=manifest_url(http_mirror), quiet=True)
    assert index.triplets == build_index(sample_root).triplets and len(index) == 80
    http_mirror.clear()
    again = ensure_dataset(root, mirrors=[http_mirror.url], quiet=True)  # recorded md5s; no transfer
    assert again.triplets == index.triplets
    assert http_mirror.requests() == []


def test_disk_full_while_downloading_keeps_the_part(tmp_path, http_mirror, sample_archives):
    """A real write error from the kernel (file-size limit: EFBIG) in a child process."""
    import subprocess
    import sys

    root = tmp_path / "root"
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (100000, 100000))\n"
        "from sen12ms_plugins.cli import main\n"
        f"sys.exit(main(['download', '--root', {str(root)!r}, '--seasons', 'spring', '--sensors', 's2', "
        f"'--mirror', {http_mirror.url!r}, '--checksums', {str(sample_archives / MANIFEST_NAME)!r}, '--quiet']))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).parents[1]),
                                                                    os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert "disk full while downloading ROIs1158_spring_s2.tar.gz" in done.stderr
    assert visible(root) == [f"{S2_SPRING}.part"]
    assert (root / f"{S2_SPRING}.part").stat().st_size <= 100_000


def test_cli_download(tmp_path, http_mirror, capsys):
    from sen12ms_plugins.cli import main

    root = tmp_path / "root"
    base = ["download", "--root", str(root), "--mirror", http_mirror.url, "--checksums", manifest_url(http_mirror),
            "--seasons", "winter", "--backoff", "0.01"]
    assert main([*base, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would fetch 3 of 3 archives" in out and "ROIs2017_winter_s2.tar.gz" in out
    assert main(base) == 0  # not a terminal: plain progress lines on stderr, summary on stdout
    captured = capsys.readouterr()
    assert "ROIs2017_winter_s2.tar.gz" in captured.out and "downloaded" in captured.out
    assert "ROIs2017_winter_s2.tar.gz: " in captured.err and "(100%)" in captured.err
    assert main([*base, "--json", "--quiet", "--extract"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["ok"] and [a["status"] for a in data["archives"]] == ["present"] * 3
    assert all(a["extracted"] for a in data["archives"]) and captured.err == ""


def test_cli_download_failure_and_usage_errors(tmp_path, http_mirror, capsys):
    from sen12ms_plugins.cli import main

    http_mirror.add_fault("ROIs2017_winter_lc.tar.gz", "corrupt", offset=10, times=None)
    root = tmp_path / "root"
    base = ["download", "--root", str(root), "--mirror", http_mirror.url, "--checksums", manifest_url(http_mirror),
            "--seasons", "winter", "--quiet"]
    assert main(base) == 1
    captured = capsys.readouterr()
    assert "ROIs2017_winter_lc.tar.gz" in captured.err and "md5 mismatch" in captured.err
    assert "failed" in captured.out
    for bad in (["--seasons", "autumn"], ["--delete-archives"], ["--jobs", "0"], ["--mirror", "gopher://x/"]):
        with pytest.raises(SystemExit) as caught:
            main([*base, *bad])
        assert caught.value.code == 2
    assert "--help" not in capsys.readouterr().err


def test_a_second_run_on_the_same_root_is_refused(tmp_path, sample_archives):
    import subprocess
    import sys

    from sen12ms_plugins.errors import RootBusyError

    root = tmp_path / "root"
    root.mkdir()
    holder = ("import sys, time\nfrom sen12ms_plugins.acquisition.bookkeeping import Bookkeeping\n"
              f"with Bookkeeping({str(root)!r}).lock('sen12ms download'):\n"
              "    print('locked', flush=True)\n    sys.stdin.read()\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).parents[1]),
                                                                    os.environ.get("PYTHONPATH")])))
    with subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True, env=env) as other:
        try:
            assert other.stdout.readline().strip() == "locked"
            with pytest.raises(RootBusyError, match=rf"busy: sen12ms download \(pid {other.pid}\)"):
                download(root, mirrors=str(sample_archives), checksums=sample_archives / MANIFEST_NAME, **FAST)
        finally:
            other.stdin.close()
    report = download(root, mirrors=str(sample_archives), checksums=sample_archives / MANIFEST_NAME, **FAST)
    assert report.ok


@pytest.mark.parametrize("stream", [False, True])
def test_bad_data_from_one_mirror_then_a_good_one(tmp_path, http_mirror, ftp_mirror, sample_archives, stream):
    http_mirror.add_fault(S2_SPRING, "corrupt", offset=60_000, times=None)
    root = tmp_path / "root"
    report = download(root, seasons="spring", sensors="s2", mirrors=[http_mirror.url, ftp_mirror.url],
                      checksums=manifest_url(http_mirror), stream=stream, **FAST)
    result = report.archives[0]
    assert result.status == ("streamed" if stream else "downloaded") and result.source.startswith("ftp://")
    if stream:
        assert visible(root) == ["ROIs1158_spring"]
    else:
        assert visible(root) == [S2_SPRING]  # the rejected copy from the first mirror is gone
        assert (root / S2_SPRING).read_bytes() == (sample_archives / S2_SPRING).read_bytes()


def test_dry_run_on_a_missing_root_creates_nothing(tmp_path, http_mirror, sample_archives, monkeypatch):
    monkeypatch.setenv("SEN12MS_CACHE_DIR", str(tmp_path / "cache"))
    report = download(tmp_path / "root", seasons="winter", mirrors=[http_mirror.url],
                      checksums=manifest_url(http_mirror), dry_run=True, **FAST)
    assert [a.status for a in report.archives] == ["would fetch"] * 3
    assert [a.size for a in report.archives] == [(sample_archives / a.name).stat().st_size for a in report.archives]
    assert sorted(tmp_path.iterdir()) == []


def test_stream_of_a_malicious_archive_writes_nothing(tmp_path):
    from tests.test_extract import GOOD, MALICIOUS, make_tar_gz

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    # large enough that the download is still running when the bad member is found
    filler = [(f"ROIs1158_spring/s2_1/ROIs1158_spring_s2_1_p{i}.tif", "file", os.urandom(200_000)) for i in range(1, 30)]
    data = make_tar_gz(GOOD + [MALICIOUS["parent"]] + filler)
    (mirror / S2_SPRING).write_bytes(data)
    root = tmp_path / "root"
    with FaultyHTTPServer(mirror) as server:
        with pytest.raises(DownloadError, match=r"refusing to extract: member '\.\./evil\.txt'"):
            download(root, seasons="spring", sensors="s2", mirrors=[server.url],
                     checksums={S2_SPRING: hashlib.md5(data).hexdigest()}, stream=True, **FAST)
    assert visible(root) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mirror", "root"]
