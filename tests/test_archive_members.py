"""Archive members: patches kept, harmless extras skipped and listed, dangerous ones refusing the archive.

The archives here are made by the real GNU ``tar`` binary (``tar -czf … -C dir .``: a
``./`` entry, folder entries, a README, macOS ``._*`` AppleDouble files, a
``__MACOSX/`` folder, a folder below a scene folder), served by strict loopback
servers, and run through ``download`` (file and stream mode), ``extract`` and
``verify --deep``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import pytest

from sen12ms_plugins.acquisition.bookkeeping import Bookkeeping
from sen12ms_plugins.acquisition.checksums import write_manifest
from sen12ms_plugins.acquisition.download import download
from sen12ms_plugins.acquisition.extract import extract_archives
from sen12ms_plugins.acquisition.members import ArchiveLayout, MemberAction, decide, patch_size_cap, tar_entry
from sen12ms_plugins.cli import main
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.errors import BadArchiveError, DownloadError, UnsafeArchiveError
from tests.servers import FaultyHTTPServer, FtpTestServer

SEASON = "ROIs1158_spring"
SPRING = [facts.archive_name(SEASON, s) for s in facts.SENSORS]
S2_SPRING = facts.archive_name(SEASON, "s2")
REPO = Path(__file__).resolve().parents[1]
FAST = {"backoff": 0.01, "timeout": 2.0, "quiet": True}


def first_scene(sample_root: Path, sensor: str) -> str:
    return min(p.name for p in (sample_root / SEASON).glob(f"{sensor}_*"))


def extras(sample_root: Path, sensor: str) -> tuple[list[str], list[str]]:
    """Files and folders (relative, no ./) that a careless packer adds beside the patches."""
    scene = first_scene(sample_root, sensor)
    patch = min(p.name for p in (sample_root / SEASON / scene).iterdir())
    files = ["README.txt", "docs/notes.md", f"__MACOSX/{SEASON}/._{scene}", f"{SEASON}/._{scene}",
             f"{SEASON}/{scene}/._{patch}", f"{SEASON}/{scene}/extra/more.txt", f"{SEASON}/{scene}/Thumbs.db"]
    dirs = ["docs", "__MACOSX", f"__MACOSX/{SEASON}", f"{SEASON}/{scene}/extra"]
    return files, dirs


def expected_skips(sample_root: Path, sensor: str) -> set[str]:
    files, dirs = extras(sample_root, sensor)
    return {f"./{f}" for f in files} | {f"./{d}/" for d in dirs}


def gnu_tar(sample_root: Path, sensor: str, out: Path, work: Path, tar_format: str = "gnu") -> Path:
    """``ROIs1158_spring_<sensor>.tar.gz`` made by GNU tar from the sample's folders plus the extras."""
    staging = work / f"staging-{sensor}-{tar_format}"
    for scene in (sample_root / SEASON).glob(f"{sensor}_*"):
        shutil.copytree(scene, staging / SEASON / scene.name)
    files, _ = extras(sample_root, sensor)
    for rel in files:
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        (staging / rel).write_bytes(b"Mac OS X        \x00\x05\x16\x07" if "._" in rel else b"not a patch\n")
    archive = out / facts.archive_name(SEASON, sensor)
    subprocess.run(["tar", f"--format={tar_format}", "-czf", str(archive), "-C", str(staging), "."], check=True)
    return archive


@pytest.fixture(scope="module")
def gnu_mirror(tmp_path_factory, sample_root) -> Path:
    """The three spring archives as GNU tar makes them, with extras, and their md5sums.txt."""
    work = tmp_path_factory.mktemp("gnu")
    mirror = work / "mirror"
    mirror.mkdir()
    md5s = {}
    for sensor in facts.SENSORS:
        archive = gnu_tar(sample_root, sensor, mirror, work)
        md5s[archive.name] = hashlib.md5(archive.read_bytes()).hexdigest()
    write_manifest(mirror / "md5sums.txt", md5s)
    names = tarfile.open(mirror / S2_SPRING).getnames()
    assert names[0] == "." or names[0] == "./"  # GNU tar's own top folder entry is there
    return mirror


def tifs(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / SEASON).rglob("*")) if p.is_file()}


def sample_spring(sample_root: Path) -> dict[str, bytes]:
    return {p.relative_to(sample_root).as_posix(): p.read_bytes()
            for p in sorted((sample_root / SEASON).rglob("*.tif"))}


def assert_extracted_without_extras(root: Path, sample_root: Path) -> None:
    assert tifs(root) == sample_spring(sample_root)  # every patch, and nothing else in the season folder
    assert not any(p.name.startswith("._") or p.name in ("README.txt", "docs", "__MACOSX", "Thumbs.db", "extra")
                   for p in root.rglob("*"))
    assert [p.name for p in root.iterdir() if p.name.startswith(".sen12ms-")] == []  # no temporary folder


# --- decisions, member by member -------------------------------------------------------------


@pytest.mark.parametrize("name, kind, action", [
    ("./", "dir", MemberAction.KEEP),
    (f"{SEASON}/", "dir", MemberAction.KEEP),
    (f"{SEASON}/s2_7/", "dir", MemberAction.KEEP),
    (f"./{SEASON}/s2_7/{SEASON}_s2_7_p12.tif", "file", MemberAction.KEEP),
    ("README", "file", MemberAction.SKIP),
    ("._ROIs1158_spring", "file", MemberAction.SKIP),
    (f"{SEASON}/s2_7/._{SEASON}_s2_7_p12.tif", "file", MemberAction.SKIP),
    (f"{SEASON}/s2_7/{SEASON}_s2_8_p12.tif", "file", MemberAction.SKIP),  # another scene's name
    (f"{SEASON}/s2_7/notes.txt", "file", MemberAction.SKIP),
    (f"{SEASON}/s2_7/sub/", "dir", MemberAction.SKIP),
    (f"{SEASON}/notes.txt", "file", MemberAction.SKIP),
    (f"{SEASON}/s2_7", "file", MemberAction.SKIP),
    ("data/", "dir", MemberAction.SKIP),
    (f"{SEASON}/s1_7/", "dir", MemberAction.REFUSE),  # another sensor's folder
    ("ROIs2017_winter/s2_7/ROIs2017_winter_s2_7_p1.tif", "file", MemberAction.REFUSE),
    ("ROIs2017_winter/README", "file", MemberAction.REFUSE),
    ("../README", "file", MemberAction.REFUSE),
    ("/etc/README", "file", MemberAction.REFUSE),
    ("README", "symlink", MemberAction.REFUSE),
    ("._x", "hardlink", MemberAction.REFUSE),
    ("README", "fifo", MemberAction.REFUSE),
])
def test_what_happens_to_each_member(name, kind, action):
    info = tarfile.TarInfo(name)
    info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                 "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE}[kind]
    if kind in ("symlink", "hardlink"):
        info.linkname = "/etc/passwd"
    decision = decide(tar_entry(info), ArchiveLayout(SEASON, "s2"))
    assert decision.action == action, decision.reason
    assert bool(decision.reason) == (action != MemberAction.KEEP)


def test_the_size_cap_follows_the_bands_and_the_widest_dtype():
    pixels = facts.PATCH_SIZE ** 2
    assert patch_size_cap(facts.FORMATS["s2"]) == 13 * 2 * pixels + (1 << 20)
    assert patch_size_cap(facts.FORMATS["s1"]) == 2 * 4 * pixels + (1 << 20)
    assert patch_size_cap(facts.FORMATS["lc"]) == 4 * 2 * pixels + (1 << 20)  # uint16: the wider of lc's two data types
    assert patch_size_cap(facts.DFC2020_FORMATS["s1"]) == 2 * 8 * pixels + (1 << 20)  # float64: the wider of s1's two
    info = tarfile.TarInfo(f"{SEASON}/s2_7/{SEASON}_s2_7_p12.tif")
    info.size = patch_size_cap(facts.FORMATS["s2"])
    assert decide(tar_entry(info), ArchiveLayout(SEASON, "s2")).action == MemberAction.KEEP
    info.size += 1
    assert decide(tar_entry(info), ArchiveLayout(SEASON, "s2")).action == MemberAction.REFUSE


# --- GNU tar archives through extract, download and verify --------------------------------------


@pytest.mark.parametrize("tar_format", ["gnu", "posix"])
def test_extract_skips_and_lists_what_is_not_a_patch(tmp_path, sample_root, tar_format, capsys):
    root = tmp_path / "root"
    root.mkdir()
    md5s = {}
    for sensor in facts.SENSORS:
        archive = gnu_tar(sample_root, sensor, root, tmp_path, tar_format)
        md5s[archive.name] = hashlib.md5(archive.read_bytes()).hexdigest()
    report = extract_archives(root, names=SPRING, checksums=md5s, quiet=True)
    assert_extracted_without_extras(root, sample_root)
    for outcome in report.outcomes:
        sensor = facts.parse_archive_name(outcome.name)[1]
        assert {s.member for s in outcome.skipped} == expected_skips(sample_root, sensor)
        assert outcome.skipped_total == len(expected_skips(sample_root, sensor))
        marker = json.loads((root / ".sen12ms" / "extracted" / f"{outcome.name}.json").read_bytes())
        assert {s["member"] for s in marker["skipped"]} == expected_skips(sample_root, sensor)
        assert marker["skipped_total"] == outcome.skipped_total
        readme = next(s for s in marker["skipped"] if s["member"] == "./README.txt")
        assert readme["size"] == len(b"not a patch\n") and "not a patch" in readme["reason"]
    # the CLI says so too (a second run: nothing to extract, so extract again from scratch)
    shutil.rmtree(root / ".sen12ms")
    shutil.rmtree(root / SEASON)
    assert main(["extract", "--root", str(root), "--seasons", "spring", "--quiet"]) == 1  # no md5s recorded
    capsys.readouterr()
    manifest = tmp_path / "md5sums.txt"
    write_manifest(manifest, md5s)
    assert main(["extract", "--root", str(root), "--seasons", "spring", "--checksums", str(manifest), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"{S2_SPRING}: skipped {len(expected_skips(sample_root, 's2'))} member(s) that are not patches" in out
    assert "./README.txt: is a file outside the ROIs1158_spring/ folder, not a patch" in out
    assert "is a macOS file (._* or __MACOSX/), not a patch" in out


@pytest.mark.parametrize("stream", [False, True], ids=["file", "stream"])
def test_download_from_strict_servers_then_verify_deep(tmp_path, gnu_mirror, sample_root, stream, capsys):
    """HTTP without Content-Length that drops part way, and FTP that forgets REST before PASV."""
    root = tmp_path / "root"
    manifest = gnu_mirror / "md5sums.txt"
    with FaultyHTTPServer(gnu_mirror) as http, FtpTestServer(gnu_mirror, strict_rest=True) as ftp:
        http.add_fault(S2_SPRING, "no_length", after=150_000)
        ftp.drop_after(facts.archive_name(SEASON, "s1"), 60_000)
        http.add_fault(facts.archive_name(SEASON, "s1"), "status", status=404, times=None)  # s1 only over FTP
        report = download(root, seasons="spring", mirrors=[http.url, ftp.url], checksums=manifest, extract=True,
                          stream=stream, **FAST)
        offsets = [offset for name, offset in ftp.retrieved if name.endswith("_s1.tar.gz")]
        assert offsets[0] == 0 and len(offsets) == 2 and 0 < offsets[1] <= 60_000  # resumed, not restarted
        assert [r.range for r in http.requests(S2_SPRING)] == [None, "bytes=150000-"]
    assert report.ok
    for result in report.archives:
        sensor = facts.parse_archive_name(result.name)[1]
        assert {s.member for s in result.skipped} == expected_skips(sample_root, sensor)
    assert_extracted_without_extras(root, sample_root)
    capsys.readouterr()
    assert main(["verify", "--root", str(root), "--deep", "--patch-size", "32", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "all good" in out and "not SEN12MS patches" not in out


def test_download_cli_lists_the_skipped_members(tmp_path, gnu_mirror, sample_root, capsys):
    root = tmp_path / "root"
    with FaultyHTTPServer(gnu_mirror) as http:
        assert main(["download", "--root", str(root), "--mirror", http.url, "--checksums",
                     str(gnu_mirror / "md5sums.txt"), "--seasons", "spring", "--sensors", "lc", "--stream",
                     "--quiet"]) == 0
        out = capsys.readouterr().out
        assert main(["download", "--root", str(root), "--mirror", http.url, "--seasons", "spring", "--sensors", "lc",
                     "--json", "--quiet"]) == 0
    assert f"skipped {len(expected_skips(sample_root, 'lc'))} member(s) that are not patches" in out
    assert "./docs/: is a folder outside the ROIs1158_spring/ folder, not a patch" in out
    data = json.loads(capsys.readouterr().out)
    assert data["archives"][0]["status"] == "already extracted"  # the marker is what a re-run goes by
    marker = Bookkeeping(root).marker(facts.archive_name(SEASON, "lc"))
    assert {s["member"] for s in marker["skipped"]} == expected_skips(sample_root, "lc")


def test_an_archive_of_extras_only_is_refused(tmp_path):
    staging = tmp_path / "staging"
    (staging / "docs").mkdir(parents=True)
    (staging / "README").write_text("read me\n")
    (staging / "docs" / "a.txt").write_text("a\n")
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run(["tar", "-czf", str(root / S2_SPRING), "-C", str(staging), "."], check=True)
    md5 = hashlib.md5((root / S2_SPRING).read_bytes()).hexdigest()
    with pytest.raises(BadArchiveError, match=rf"{S2_SPRING}: holds no {SEASON}/s2_<scene>/ patch \(3 members "
                                              r"skipped: '\./README' is a file outside"):
        extract_archives(root, names=[S2_SPRING], checksums={S2_SPRING: md5}, quiet=True)
    assert sorted(p.name for p in root.iterdir() if p.name != ".sen12ms") == [S2_SPRING]
    assert Bookkeeping(root).marker(S2_SPRING) is None


def test_a_gnu_tar_archive_with_a_link_is_still_refused(tmp_path, sample_root):
    staging = tmp_path / "staging"
    scene = first_scene(sample_root, "s2")
    shutil.copytree(sample_root / SEASON / scene, staging / SEASON / scene)
    (staging / "README").write_text("harmless\n")
    os.symlink("/etc/passwd", staging / SEASON / scene / "link.tif")
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run(["tar", "-czf", str(root / S2_SPRING), "-C", str(staging), "."], check=True)
    md5 = hashlib.md5((root / S2_SPRING).read_bytes()).hexdigest()
    with pytest.raises(UnsafeArchiveError, match=r"link\.tif' is a symbolic link \(to '/etc/passwd'\); nothing was "
                                                 r"written.*its md5 matches"):
        extract_archives(root, names=[S2_SPRING], checksums={S2_SPRING: md5}, quiet=True)
    assert sorted(p.name for p in root.iterdir() if p.name != ".sen12ms") == [S2_SPRING]


# --- a small archive that would write a huge "patch" ---------------------------------------------


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """A 4.6 MB tar.gz whose one member claims to be a 1 GiB s2 patch (zeros compress 230:1)."""
    folder = tmp_path_factory.mktemp("bomb")
    info = tarfile.TarInfo(f"{SEASON}/s2_1/{SEASON}_s2_1_p0.tif")
    info.size = 1 << 30
    gz = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: a gzip stream
    zeros = bytes(1 << 20)
    with open(folder / S2_SPRING, "wb") as f:
        f.write(gz.compress(info.tobuf(format=tarfile.GNU_FORMAT)))
        for _ in range(info.size // len(zeros)):
            f.write(gz.compress(zeros))
        f.write(gz.compress(bytes(2 * tarfile.BLOCKSIZE)) + gz.flush())  # the end-of-archive blocks
    assert (folder / S2_SPRING).stat().st_size < 5_000_000
    return folder


def test_a_huge_member_is_refused_after_writing_at_most_the_cap(tmp_path, bomb):
    """In a child whose files may not grow past the cap (RLIMIT_FSIZE): writing more than the cap
    would fail with EFBIG ("disk full") instead of the refusal."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(bomb / S2_SPRING, root / S2_SPRING)
    md5 = hashlib.md5((root / S2_SPRING).read_bytes()).hexdigest()
    manifest = tmp_path / "md5sums.txt"
    write_manifest(manifest, {S2_SPRING: md5})
    cap = patch_size_cap(facts.FORMATS["s2"])
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({cap}, {cap}))\n"
        "from sen12ms_plugins.cli import main\n"
        f"sys.exit(main(['extract', '--root', {str(root)!r}, '--checksums', {str(manifest)!r}, '--quiet']))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert done.returncode == 1, done.stderr
    assert (f"member '{SEASON}/s2_1/{SEASON}_s2_1_p0.tif' is 1,073,741,824 bytes, more than a s2 patch can be "
            f"(at most {cap:,})") in done.stderr
    assert "disk full" not in done.stderr and "Traceback" not in done.stderr
    assert "its md5 matches" in done.stderr  # the archive is as its manifest says: the archive itself is bad
    assert sorted(p.name for p in root.iterdir() if p.name != ".sen12ms") == [S2_SPRING]


def test_a_huge_member_in_stream_mode_is_not_fetched_again_from_the_next_mirror(tmp_path, bomb, capsys):
    md5 = hashlib.md5((bomb / S2_SPRING).read_bytes()).hexdigest()
    root = tmp_path / "root"
    with FaultyHTTPServer(bomb) as first, FaultyHTTPServer(bomb) as second:
        with pytest.raises(DownloadError) as caught:
            download(root, seasons="spring", sensors="s2", mirrors=[first.url, second.url],
                     checksums={S2_SPRING: md5}, stream=True, backoff=0.01, timeout=2.0, quiet=False)
        assert len(first.requests(S2_SPRING)) == 1
        assert second.requests(S2_SPRING) == []  # the md5 matched: the archive itself is bad
    message = str(caught.value)
    assert "is 1,073,741,824 bytes, more than a s2 patch can be" in message
    assert f"its md5 matches {md5}: the archive itself is bad, so no other mirror was tried" in message
    assert "reading the rest from" in capsys.readouterr().err
    assert sorted(p.name for p in root.iterdir() if p.name != ".sen12ms") == []


def test_damaged_bytes_in_stream_mode_are_fetched_again_from_the_next_mirror(tmp_path, gnu_mirror, sample_root,
                                                                             capsys):
    """The extraction refuses the damaged stream; its md5 does not match: the bytes were bad, not the archive."""
    manifest = gnu_mirror / "md5sums.txt"
    root = tmp_path / "root"
    with FaultyHTTPServer(gnu_mirror) as bad, FtpTestServer(gnu_mirror, strict_rest=True) as good:
        bad.add_fault(S2_SPRING, "corrupt", offset=20_000, times=None)
        report = download(root, seasons="spring", sensors="s2", mirrors=[bad.url, good.url], checksums=manifest,
                          stream=True, backoff=0.01, timeout=2.0, quiet=False)
        size = (gnu_mirror / S2_SPRING).stat().st_size
        assert report.archives[0].fetched == 2 * size  # read to its end from the first, then whole from the second
    assert report.ok and report.archives[0].source.startswith("ftp://")
    err = capsys.readouterr().err
    assert "the bytes were damaged on the way" in err
    assert tifs(root) == {k: v for k, v in sample_spring(sample_root).items() if "/s2_" in k}
