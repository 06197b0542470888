"""What a server sends back, judged before the md5: pages instead of archives, sizes, ends without a size.

Real loopback HTTP servers (tests/servers/http_server.py) answer with an HTML or text
page, leave out Content-Length, drop connections cleanly, or serve another file of the
same name; the download must notice each at once and lose nothing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from sen12ms_plugins.acquisition.bookkeeping import Bookkeeping, RecordFile
from sen12ms_plugins.acquisition.download import download
from sen12ms_plugins.cli import main
from sen12ms_plugins.errors import DownloadError
from tests.servers import FaultyHTTPServer

S2_SPRING = "ROIs1158_spring_s2.tar.gz"
FAST = {"backoff": 0.01, "timeout": 2.0, "quiet": True}


def visible(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name != ".sen12ms")


def one(root: Path, mirrors, md5s, **kwargs):
    return download(root, seasons="spring", sensors="s2", mirrors=mirrors, checksums={S2_SPRING: md5s[S2_SPRING]},
                    **{**FAST, **kwargs})


# --- pages instead of archives -------------------------------------------------------------


@pytest.mark.parametrize("kind, expected", [
    ("html", r"got an HTML page \(text/html, 1\d\d bytes: '<!DOCTYPE html> <html><head><title>Service unavailable"),
    ("text", r"got a text response \(text/plain, \d\d bytes: 'Service temporarily unavailable: the download quota"),
])
def test_a_page_instead_of_the_archive_is_refused_at_once(tmp_path, http_mirror, sample_md5s, kind, expected):
    http_mirror.add_fault(S2_SPRING, kind, times=None)
    with pytest.raises(DownloadError, match=rf"{http_mirror.url}{S2_SPRING}: {expected}.*\) instead of a gzip archive"):
        one(tmp_path / "root", [http_mirror.url], sample_md5s)
    assert len(http_mirror.requests(S2_SPRING)) == 1  # not retried: a page does not turn into the archive
    assert visible(tmp_path / "root") == []  # no .part, no .rejected: nothing of it is kept


def test_a_page_from_the_first_mirror_moves_on_to_the_next(tmp_path, sample_archives, ftp_mirror, sample_md5s,
                                                           capsys):
    with FaultyHTTPServer(sample_archives) as share:
        share.add_fault(S2_SPRING, "html", times=None)
        report = one(tmp_path / "root", [share.url, ftp_mirror.url], sample_md5s, quiet=False)
    assert report.ok and report.archives[0].source.startswith("ftp://")
    assert report.archives[0].fetched == (sample_archives / S2_SPRING).stat().st_size  # nothing counted from the page
    assert "got an HTML page" in capsys.readouterr().err
    assert visible(tmp_path / "root") == [S2_SPRING]


def test_a_page_instead_of_the_rest_keeps_the_part(tmp_path, http_mirror, sample_archives, sample_md5s):
    """A part to resume, and the server answers the Range with a page (200): the part stays as it was."""
    root = tmp_path / "root"
    root.mkdir()
    data = (sample_archives / S2_SPRING).read_bytes()
    (root / f"{S2_SPRING}.part").write_bytes(data[:50_000])
    http_mirror.add_fault(S2_SPRING, "html")
    with pytest.raises(DownloadError, match="got an HTML page"):
        one(root, [http_mirror.url], sample_md5s)
    assert (root / f"{S2_SPRING}.part").read_bytes() == data[:50_000]
    report = one(root, [http_mirror.url], sample_md5s)  # the page is gone: the part is resumed
    assert report.ok and report.archives[0].fetched == len(data) - 50_000
    assert (root / S2_SPRING).read_bytes() == data


def test_a_page_in_stream_mode_leaves_nothing(tmp_path, http_mirror, sample_md5s):
    http_mirror.add_fault(S2_SPRING, "html", times=None)
    with pytest.raises(DownloadError, match="got an HTML page"):
        one(tmp_path / "root", [http_mirror.url], sample_md5s, stream=True)
    assert visible(tmp_path / "root") == []


# --- ends without a size ---------------------------------------------------------------------


def test_a_clean_drop_without_content_length_is_resumed(tmp_path, http_mirror, sample_archives, sample_md5s, capsys):
    """No Content-Length and the connection closes cleanly part way: it looks like the end, the md5 says it is not."""
    data = (sample_archives / S2_SPRING).read_bytes()
    http_mirror.add_fault(S2_SPRING, "no_length", after=100_000)
    report = one(tmp_path / "root", [http_mirror.url], sample_md5s, quiet=False)
    assert report.ok and (tmp_path / "root" / S2_SPRING).read_bytes() == data
    assert [r.range for r in http_mirror.requests(S2_SPRING)] == [None, "bytes=100000-"]
    assert report.archives[0].fetched == len(data)  # nothing fetched twice
    assert "without saying the size, and the md5 does not match yet: asking for more from byte 100,000" in \
        capsys.readouterr().err


def test_repeated_clean_drops_without_any_size_are_resumed_each_time(tmp_path, http_mirror, sample_archives,
                                                                     sample_md5s):
    data = (sample_archives / S2_SPRING).read_bytes()
    http_mirror.add_fault(S2_SPRING, "no_length", after=60_000, times=None)  # every answer: 60,000 bytes, no size
    report = one(tmp_path / "root", [http_mirror.url], sample_md5s, stream=True)
    assert report.ok and report.archives[0].status == "streamed"
    ranges = [r.range for r in http_mirror.requests(S2_SPRING)]
    assert ranges == [None] + [f"bytes={k * 60_000}-" for k in range(1, len(ranges))]
    assert len(ranges) == -(-len(data) // 60_000)


def test_a_whole_file_without_content_length_is_accepted_by_its_md5(tmp_path, http_mirror, sample_archives,
                                                                    sample_md5s):
    http_mirror.add_fault(S2_SPRING, "no_length", times=None)
    report = one(tmp_path / "root", [http_mirror.url], sample_md5s)
    assert report.ok and [r.range for r in http_mirror.requests(S2_SPRING)] == [None]  # no extra request


def test_bad_data_without_a_size_asks_once_more_then_is_rejected(tmp_path, http_mirror, sample_archives):
    data = (sample_archives / S2_SPRING).read_bytes()
    http_mirror.add_fault(S2_SPRING, "no_length", times=None)
    root = tmp_path / "root"
    with pytest.raises(DownloadError, match="md5 mismatch"):
        one(root, [http_mirror.url], {S2_SPRING: "0" * 32})
    # the whole file came; one more request from its end (416: nothing more) before rejecting it
    assert [(r.range, r.status) for r in http_mirror.requests(S2_SPRING)] == [(None, 200), (f"bytes={len(data)}-", 416)]
    assert (root / f"{S2_SPRING}.rejected").read_bytes() == data


def test_a_short_end_without_content_length_is_resumed_against_the_remembered_size(tmp_path, http_mirror,
                                                                                  sample_archives, sample_md5s):
    """The size was announced once (an earlier, interrupted run); a later answer without a size is held to it."""
    data = (sample_archives / S2_SPRING).read_bytes()
    root = tmp_path / "root"
    http_mirror.add_fault(S2_SPRING, "drop", after=30_000, times=None)
    with pytest.raises(DownloadError):
        one(root, [http_mirror.url], sample_md5s, retries=0)
    assert Bookkeeping(root).remembered_size(S2_SPRING, sample_md5s[S2_SPRING]).size == len(data)
    http_mirror.clear()
    http_mirror.add_fault(S2_SPRING, "ignore_range")  # 200 with the whole file ...
    http_mirror.add_fault(S2_SPRING, "no_length", after=70_000)  # ... then no size, cut short
    report = one(root, [http_mirror.url], sample_md5s)
    assert report.ok and (root / S2_SPRING).read_bytes() == data


# --- sizes -----------------------------------------------------------------------------------------


def repacked_mirror(tmp_path: Path, sample_archives: Path) -> Path:
    """A mirror whose S2 spring archive is another file (re-packed: same content, other bytes and size)."""
    import gzip

    mirror = tmp_path / "repacked"
    shutil.copytree(sample_archives, mirror)
    raw = gzip.decompress((sample_archives / S2_SPRING).read_bytes())
    (mirror / S2_SPRING).write_bytes(gzip.compress(raw, compresslevel=1, mtime=0))
    assert (mirror / S2_SPRING).stat().st_size != (sample_archives / S2_SPRING).stat().st_size
    return mirror


def test_sizes_are_remembered_next_to_the_md5(tmp_path, http_mirror, sample_archives, sample_md5s):
    root = tmp_path / "root"
    one(root, [http_mirror.url], sample_md5s)
    sizes = json.loads((root / ".sen12ms" / RecordFile.SIZES).read_text())["archives"]
    assert sizes[S2_SPRING]["md5"] == sample_md5s[S2_SPRING]
    assert sizes[S2_SPRING]["size"] == (sample_archives / S2_SPRING).stat().st_size
    assert sizes[S2_SPRING]["verified"] is True


def test_a_repacked_archive_is_refused_before_its_transfer_once_the_size_is_verified(tmp_path, http_mirror,
                                                                                      sample_archives, sample_md5s):
    root = tmp_path / "root"
    one(root, [http_mirror.url], sample_md5s)
    (root / S2_SPRING).unlink()  # lost; fetch it again, first from a mirror that re-packed it
    http_mirror.clear()
    size = (sample_archives / S2_SPRING).stat().st_size
    with FaultyHTTPServer(repacked_mirror(tmp_path, sample_archives)) as repacked:
        report = one(root, [repacked.url, http_mirror.url], sample_md5s)
        assert len(repacked.requests(S2_SPRING)) == 1  # asked once, not retried
    assert report.ok and report.archives[0].source == http_mirror.url + S2_SPRING
    assert report.archives[0].fetched == size  # no byte of the re-packed file was taken
    assert visible(root) == [S2_SPRING]  # no .rejected: it never got that far


def test_the_refusal_of_a_repacked_archive_names_both_sizes(tmp_path, http_mirror, sample_archives, sample_md5s):
    root = tmp_path / "root"
    one(root, [http_mirror.url], sample_md5s)
    (root / S2_SPRING).unlink()
    size = (sample_archives / S2_SPRING).stat().st_size
    mirror = repacked_mirror(tmp_path, sample_archives)
    with FaultyHTTPServer(mirror) as repacked:
        with pytest.raises(DownloadError) as caught:
            one(root, [repacked.url], sample_md5s)
    assert (f"announces {(mirror / S2_SPRING).stat().st_size:,} bytes, but {S2_SPRING} with the expected md5 has "
            f"{size:,} bytes") in str(caught.value)


def test_a_part_whose_announced_size_changed_is_restarted_not_appended(tmp_path, sample_archives, sample_md5s,
                                                                       capsys):
    """A part fetched against one size, and the server now announces another: start over, say so."""
    root = tmp_path / "root"
    mirror = repacked_mirror(tmp_path, sample_archives)
    old = (mirror / S2_SPRING).read_bytes()
    new = (sample_archives / S2_SPRING).read_bytes()
    with FaultyHTTPServer(mirror) as server:  # the re-packed file first: its size is remembered
        server.add_fault(S2_SPRING, "drop", after=80_000, times=None)
        with pytest.raises(DownloadError):
            one(root, [server.url], sample_md5s, retries=0)
    assert (root / f"{S2_SPRING}.part").read_bytes() == old[:80_000]
    with FaultyHTTPServer(sample_archives) as server:  # then the server holds the real one
        report = one(root, [server.url], sample_md5s, quiet=False)
        ranges = [r.range for r in server.requests(S2_SPRING)]
    assert report.ok and (root / S2_SPRING).read_bytes() == new
    assert ranges == ["bytes=80000-", None]  # the resume found another size: restarted at once
    notes = report.archives[0].notes
    assert len(notes) == 1 and f"announces {len(new):,} bytes, {len(old):,} were announced before" in notes[0]
    assert "the part is restarted, not appended to" in notes[0]
    assert "md5 mismatch" not in capsys.readouterr().err  # not found out by the md5 at the end


def test_the_cli_prints_size_notes(tmp_path, sample_archives, sample_md5s, capsys):
    root = tmp_path / "root"
    mirror = repacked_mirror(tmp_path, sample_archives)
    manifest = tmp_path / "md5sums.txt"
    manifest.write_text(f"{sample_md5s[S2_SPRING]}  {S2_SPRING}\n")
    with FaultyHTTPServer(mirror) as server:
        server.add_fault(S2_SPRING, "drop", after=80_000, times=None)
        assert main(["download", "--root", str(root), "--mirror", server.url, "--checksums", str(manifest),
                     "--seasons", "spring", "--sensors", "s2", "--retries", "0", "--backoff", "0.01", "--quiet"]) == 1
    with FaultyHTTPServer(sample_archives) as server:
        assert main(["download", "--root", str(root), "--mirror", server.url, "--checksums", str(manifest),
                     "--seasons", "spring", "--sensors", "s2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "note: ROIs1158_spring_s2.tar.gz: " in out and "were announced before" in out
    assert hashlib.md5((root / S2_SPRING).read_bytes()).hexdigest() == sample_md5s[S2_SPRING]


def test_the_cli_names_the_url_and_the_page_in_one_line(tmp_path, http_mirror, sample_md5s, capsys):
    http_mirror.add_fault(S2_SPRING, "html", times=None)
    manifest = tmp_path / "md5sums.txt"
    manifest.write_text(f"{sample_md5s[S2_SPRING]}  {S2_SPRING}\n")
    assert main(["download", "--root", str(tmp_path / "root"), "--mirror", http_mirror.url, "--checksums",
                 str(manifest), "--seasons", "spring", "--sensors", "s2", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"{http_mirror.url}{S2_SPRING}: got an HTML page (text/html, " in err and "Traceback" not in err


def test_a_dry_run_does_not_take_a_pages_length_for_the_archives_size(tmp_path, http_mirror, sample_md5s):
    http_mirror.add_fault(S2_SPRING, "html", times=None)
    report = one(tmp_path / "root", [http_mirror.url], sample_md5s, dry_run=True)
    assert report.archives[0].size is None
    assert report.archives[0].source.startswith(f"size unknown: {http_mirror.url}{S2_SPRING}: got an HTML page")
