"""FTP resume against a strict server: REST must come right before RETR (RFC 959).

A strict server clears its restart marker when PASV (or PORT) opens a data connection;
a client that sends REST before PASV then gets the file from byte 0 while it appends
to its part.  These tests run a real pyftpdlib server on 127.0.0.1 in that mode.
"""

from __future__ import annotations

from sen12ms_plugins.acquisition.download import download
from sen12ms_plugins.demo.sample import MANIFEST_NAME
from tests.servers import FtpTestServer

S2_SPRING = "ROIs1158_spring_s2.tar.gz"
FAST = {"backoff": 0.01, "timeout": 2.0, "quiet": True}


def _sessions_commands(server: FtpTestServer) -> list[list[str]]:
    sessions: dict[int, list[str]] = {}
    for session, command in server.session_commands:
        sessions.setdefault(session, []).append(command)
    return list(sessions.values())


def test_a_part_is_resumed_by_a_strict_server(tmp_path, sample_archives):
    data = (sample_archives / S2_SPRING).read_bytes()
    root = tmp_path / "root"
    root.mkdir()
    (root / f"{S2_SPRING}.part").write_bytes(data[:100_000])
    with FtpTestServer(sample_archives, strict_rest=True) as server:
        report = download(root, seasons="spring", sensors="s2", mirrors=[server.url],
                          checksums=sample_archives / MANIFEST_NAME, **FAST)
        retrieved = list(server.retrieved)
        sessions = _sessions_commands(server)
    assert report.ok and (root / S2_SPRING).read_bytes() == data
    # the server saw the offset at RETR time: it sent only the rest, once
    assert retrieved == [(S2_SPRING, 100_000)]
    assert report.archives[0].fetched == len(data) - 100_000
    # and REST came immediately before RETR, after the data connection was set up
    (commands,) = [c for c in sessions if "RETR" in c]
    assert commands[commands.index("RETR") - 1] == "REST"
    assert commands.index("PASV") < commands.index("REST")


def test_a_dropped_transfer_is_resumed_by_a_strict_server(tmp_path, sample_archives):
    data = (sample_archives / S2_SPRING).read_bytes()
    root = tmp_path / "root"
    with FtpTestServer(sample_archives, strict_rest=True) as server:
        server.drop_after(S2_SPRING, 120_000)
        report = download(root, seasons="spring", sensors="s2", mirrors=[server.url],
                          checksums=sample_archives / MANIFEST_NAME, **FAST)
        offsets = [offset for name, offset in server.retrieved if name == S2_SPRING]
    assert report.ok and (root / S2_SPRING).read_bytes() == data
    assert len(offsets) == 2 and offsets[0] == 0 and 0 < offsets[1] <= 120_000
    # nothing was fetched twice: the second RETR sent exactly the bytes that were missing
    assert report.archives[0].fetched == len(data)


def test_a_server_refusing_rest_after_pasv_restarts_from_zero(tmp_path, sample_archives, capsys):
    """REST refused (502) inside transfercmd: the same connection retries RETR from byte 0."""
    data = (sample_archives / S2_SPRING).read_bytes()
    root = tmp_path / "root"
    root.mkdir()
    (root / f"{S2_SPRING}.part").write_bytes(data[:40_000])
    with FtpTestServer(sample_archives, no_rest=True, strict_rest=True) as server:
        report = download(root, seasons="spring", sensors="s2", mirrors=[server.url],
                          checksums=sample_archives / MANIFEST_NAME, backoff=0.01, quiet=False)
        assert [offset for _, offset in server.retrieved] == [0]
    assert report.ok and (root / S2_SPRING).read_bytes() == data
    assert "cannot resume" in capsys.readouterr().err


def test_a_server_that_acknowledges_rest_but_sends_from_zero_is_caught(tmp_path, sample_archives, capsys):
    """350 to REST, then the whole file: the surplus byte gives it away, the archive restarts without REST."""
    data = (sample_archives / S2_SPRING).read_bytes()
    root = tmp_path / "root"
    root.mkdir()
    (root / f"{S2_SPRING}.part").write_bytes(data[:40_000])
    with FtpTestServer(sample_archives, ignore_rest=True) as server:
        report = download(root, seasons="spring", sensors="s2", mirrors=[server.url],
                          checksums=sample_archives / MANIFEST_NAME, backoff=0.01, quiet=False)
        assert len(server.retrieved) == 2  # once appending (caught at the end), once from zero
    assert report.ok and (root / S2_SPRING).read_bytes() == data
    err = capsys.readouterr().err
    assert "ignored the resume offset (REST)" in err and "cannot resume" in err
