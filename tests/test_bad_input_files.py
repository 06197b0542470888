"""Bad (and merely unusual) patch files, run through the ``sen12ms`` command as a user runs it:
land cover in uint8 or uint16, land cover of another dtype, damaged TIFF headers, files
the fast reader leaves to rasterio.  docs/bad-input.md lists the cases; keep the two in step.

Each case checks the exit code, a message naming the file and what is wrong (or, for a
valid file, that nothing is reported), and that the data is left exactly as it was.
"""

from __future__ import annotations

import shutil
import struct

import pytest
import rasterio

from sen12ms_plugins.dataset.ids import PatchId

from .realdata import PID, place_real_triplet
from .test_bad_input import no_traceback, sen12ms, snapshot

LC_PID = PatchId("ROIs1970_fall", 1, 514)  # a triplet of the sample


@pytest.fixture(scope="module")
def real_layout_tree(tmp_path_factory):
    """``sen12ms sample --layout real --lc-dtype uint8``: made by the command, read-only by convention."""
    root = tmp_path_factory.mktemp("bad-files") / "root"
    sen12ms("sample", "--out", root, "--layout", "real", "--lc-dtype", "uint8", "--patch-size", 32,
            "--patches-per-scene", 1, "--quiet", check_exit=0)
    return root


@pytest.fixture
def tree(real_layout_tree, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(real_layout_tree, root, ignore=shutil.ignore_patterns(".sen12ms"))
    return root


def _run_all(root, tmp_path, exit_code):
    """verify --deep, stats and export-hf on ``root``, each expected to end with ``exit_code``."""
    verify = sen12ms("verify", "--root", root, "--deep", "--patch-size", 32, check_exit=exit_code)
    stats = sen12ms("stats", "--root", root, "--out", tmp_path / "stats", "--no-charts", "--quiet",
                    check_exit=exit_code)
    export = sen12ms("export-hf", "--root", root, "--out", tmp_path / "hf", "--config", "s2", "--quiet",
                     check_exit=exit_code)
    for done in (verify, stats, export):
        no_traceback(done)
    return verify, stats, export


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_land_cover_in_uint8_or_uint16_is_accepted(tree, tmp_path, dtype):
    path = LC_PID.path(tree, "lc")
    with rasterio.open(path) as src:
        assert src.dtypes == ("uint8",) * 4  # as the command wrote it
        profile, data = src.profile, src.read()
    if dtype == "uint16":  # one file of the other dtype in the same tree: both are read alike
        profile.update(dtype="uint16")
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data.astype("uint16"))
    good = snapshot(tree)
    verify, stats, export = _run_all(tree, tmp_path, 0)
    assert "bad GeoTIFFs" not in verify.stdout and "fast reader" not in verify.stdout + verify.stderr
    assert "fast reader" not in stats.stderr + export.stderr
    assert (tmp_path / "hf" / "README.md").exists()
    assert snapshot(tree) == good


@pytest.mark.parametrize("dtype", ["int16", "float32"])
def test_land_cover_of_another_dtype_names_the_file(tree, tmp_path, dtype):
    path = LC_PID.path(tree, "lc")
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read()
    profile.update(dtype=dtype)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype(dtype))
    good = snapshot(tree)
    verify, stats, export = _run_all(tree, tmp_path, 1)
    assert f"{LC_PID.relpath('lc')}: has data type {dtype}, a lc patch has uint8 or uint16" in verify.stdout
    for done in (stats, export):
        assert f"{path}: has data type {dtype}, a lc patch has uint8 or uint16" in done.stderr
    assert not (tmp_path / "hf" / "README.md").exists()
    assert snapshot(tree) == good


def _short_strip_byte_counts(path) -> None:
    """StripByteCounts with 10 entries where StripOffsets has one per strip (the header that
    crashed ``verify --deep`` with an uncaught ValueError)."""
    data = bytearray(path.read_bytes())
    (ifd,) = struct.unpack_from("<I", data, 4)
    (n,) = struct.unpack_from("<H", data, ifd)
    for k in range(n):
        tag, ftype, count, value = struct.unpack_from("<HHII", data, ifd + 2 + 12 * k)
        if tag == 279:
            struct.pack_into("<HHII", data, ifd + 2 + 12 * k, tag, ftype, 10, value)
    path.write_bytes(bytes(data))


def test_damaged_header_is_reported_not_a_crash(tmp_path):
    tree = tmp_path / "root"
    place_real_triplet(tree)
    path = PID.path(tree, "s2")
    _short_strip_byte_counts(path)
    good = snapshot(tree)
    verify = sen12ms("verify", "--root", tree, "--deep", check_exit=1)
    no_traceback(verify)
    assert f"{PID.relpath('s2')}: damaged TIFF header: StripByteCounts has 10 entries, StripOffsets 256" in verify.stdout
    stats = sen12ms("stats", "--root", tree, "--out", tmp_path / "stats", "--no-charts", "--quiet", check_exit=1)
    no_traceback(stats)
    assert f"{path}: damaged TIFF header: StripByteCounts has 10 entries, StripOffsets 256\n" in stats.stderr  # verify's words
    assert snapshot(tree) == good


def test_a_file_read_by_rasterio_is_announced_once(tree, tmp_path):
    paths = [LC_PID.path(tree, "s2"), PatchId("ROIs2017_winter", 63, 465).path(tree, "s2")]
    for path in paths:
        with rasterio.open(path) as src:
            profile, data = src.profile, src.read()
        profile.update(compress="lzw")
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
    good = snapshot(tree)
    verify = sen12ms("verify", "--root", tree, "--deep", "--patch-size", 32, check_exit=0)
    assert "valid but several times slower to read (compressed (LZW): 2)" in verify.stdout
    stats = sen12ms("stats", "--root", tree, "--out", tmp_path / "stats", "--no-charts", "--quiet", check_exit=0)
    lines = [line for line in stats.stderr.splitlines() if "not the fast reader" in line]
    assert len(lines) == 1, stats.stderr
    assert lines[0].split(": read with rasterio, not the fast reader (compressed (LZW))")[0] in map(str, paths)
    assert snapshot(tree) == good
