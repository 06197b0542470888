"""verify_archives / verify_tree / check_root and ``sen12ms verify``."""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio

from sen12ms_plugins.acquisition.bookkeeping import Bookkeeping
from sen12ms_plugins.acquisition.download import Selection
from sen12ms_plugins.acquisition.verify import check_root, verify_archives, verify_tree
from sen12ms_plugins.cli import main
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.demo.sample import MANIFEST_NAME

from .helpers import read_manifest

ALL = list(facts.ARCHIVE_MD5)
S2_SPRING = "ROIs1158_spring_s2.tar.gz"


@pytest.fixture
def tree(copy_tree, sample_root) -> Path:
    return copy_tree(sample_root)


def test_archives_verified_then_remembered(archive_root, sample_archives):
    manifest = sample_archives / MANIFEST_NAME
    first = verify_archives(archive_root, checksums=manifest, jobs=2, quiet=True)
    assert first.ok and [a.status for a in first.archives] == ["ok"] * 12
    assert not any(a.remembered for a in first.archives)
    assert {a.name: a.actual for a in first.archives} == read_manifest(manifest)
    second = verify_archives(archive_root, checksums=manifest, quiet=True)
    assert second.ok and all(a.remembered for a in second.archives)
    # a file that changed (new mtime) is hashed again
    path = archive_root / S2_SPRING
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    third = verify_archives(archive_root, checksums=manifest, quiet=True)
    assert [a.name for a in third.archives if not a.remembered] == [S2_SPRING]


def test_tampered_archive_names_file_and_both_md5s(archive_root, sample_archives):
    manifest = sample_archives / MANIFEST_NAME
    verify_archives(archive_root, checksums=manifest, quiet=True)  # remembered as good ...
    path = archive_root / S2_SPRING
    data = bytearray(path.read_bytes())
    data[1234] ^= 1
    path.write_bytes(bytes(data))  # ... then changed in place, same size
    report = verify_archives(archive_root, checksums=manifest, quiet=True)
    assert not report.ok
    expected = read_manifest(manifest)[S2_SPRING]
    import hashlib

    actual = hashlib.md5(bytes(data)).hexdigest()
    (problem,) = report.problems
    assert str(path) in problem and expected in problem and actual in problem


def test_official_md5s_apply_by_default(archive_root):
    report = verify_archives(archive_root, names=[S2_SPRING], quiet=True)
    assert not report.ok and facts.ARCHIVE_MD5[S2_SPRING] in report.problems[0]


def test_missing_unknown_and_none(tmp_path, archive_root, sample_archives):
    (archive_root / S2_SPRING).unlink()
    (archive_root / "ROIs1970_fall_s1.tar.gz.part").write_bytes(b"abc")
    (archive_root / "ROIs1970_fall_s2.tar.gz.rejected").write_bytes(b"abc")
    (archive_root / "extra.bin").write_bytes(b"abc")
    report = verify_archives(archive_root, names=[S2_SPRING, "extra.bin"], quiet=True,
                             checksums=sample_archives / MANIFEST_NAME)
    assert [a.status for a in report.archives] == ["missing", "unknown md5"]
    assert f"{archive_root / S2_SPRING}: archive missing" in report.problems
    assert any("extra.bin: no known md5" in p for p in report.problems)
    empty = verify_archives(tmp_path / "root", quiet=True, checksums=sample_archives / MANIFEST_NAME)
    assert empty.ok  # names=None: the archives present are checked ...
    bare = tmp_path / "bare"
    bare.mkdir()
    assert not verify_archives(bare, quiet=True).ok  # ... and having none is a problem
    notes = verify_archives(archive_root, quiet=True, checksums=sample_archives / MANIFEST_NAME).notes
    assert any("ROIs1970_fall_s1.tar.gz.part" in n and "unfinished download" in n for n in notes)
    assert any("ROIs1970_fall_s2.tar.gz.rejected" in n and "failed its md5 check" in n for n in notes)


def test_tree_complete_sample_is_good(tree):
    report = verify_tree(tree, quiet=True)
    assert report.ok, report.problems
    assert report.tree.triplets == 80 and report.tree.compared == []
    assert any("not compared" in n for n in report.notes)


def test_tree_lists_missing_orphans_and_strays(tree, sample_root):
    from sen12ms_plugins.dataset.index import build_index

    pid = build_index(sample_root).triplets[5]
    pid.path(tree, "s2").unlink()
    (tree / pid.season / f"s1_{pid.scene}" / "notes.txt").write_text("x")
    report = verify_tree(tree, quiet=True)
    assert not report.ok
    assert report.tree.missing == [pid.relpath("s2")]
    assert report.tree.orphans == [pid.relpath("s1"), pid.relpath("lc")]
    assert report.tree.strays == [f"{pid.season}/s1_{pid.scene}/notes.txt"]
    assert len(report.problems) == 2


def test_official_counts_compared_when_complete(tree):
    report = verify_tree(tree, full=True, quiet=True)
    assert "ROIs1158_spring: 8 hold-out triplets, the official count is 4,242" in report.problems
    assert any("80 total triplets, the official count is 180,662" in p for p in report.problems)
    assert any("train triplets, the official count is 162,555" in p for p in report.problems)


def test_season_counts_compared_once_its_official_archives_were_extracted(tree):
    """The markers say the three official spring archives were extracted here (a download of
    spring, as recorded): the hold-out count of spring is then compared, and only that one."""
    names = [facts.archive_name("ROIs1158_spring", sensor) for sensor in facts.SENSORS]
    Selection.of(names, "spring", None).record(Bookkeeping(tree))
    for sensor, name in zip(facts.SENSORS, names):
        dirs = [f"ROIs1158_spring/{p.name}" for p in (tree / "ROIs1158_spring").glob(f"{sensor}_*")]
        Bookkeeping(tree).write_marker(name, facts.ARCHIVE_MD5[name], dirs, 0, 0, [], 0)
    report = verify_tree(tree, quiet=True)
    assert report.tree.compared == ["holdout ROIs1158_spring"]
    assert report.problems == ["ROIs1158_spring: 8 hold-out triplets, the official count is 4,242"]


def _rewrite(path: Path, array: np.ndarray, crs="EPSG:32632", size=None) -> None:
    profile = {"driver": "GTiff", "width": size or array.shape[2], "height": size or array.shape[1],
               "count": array.shape[0], "dtype": array.dtype}
    if crs:
        profile["crs"] = crs
        profile["transform"] = rasterio.transform.from_origin(500000, 5000000, 10, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)  # the no-CRS case
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(array if size is None else array[:, :size, :size])


def test_deep_check_names_bad_geotiffs(tree, sample_root):
    from sen12ms_plugins.dataset.index import build_index

    pids = build_index(sample_root).triplets
    _rewrite(pids[0].path(tree, "s2"), np.zeros((12, 32, 32), np.uint16))  # a band short
    _rewrite(pids[1].path(tree, "s1"), np.zeros((2, 32, 32), np.float64))  # wrong type
    _rewrite(pids[2].path(tree, "lc"), np.zeros((4, 32, 32), np.uint16), crs=None)  # no CRS
    _rewrite(pids[3].path(tree, "lc"), np.zeros((4, 32, 32), np.uint16), size=16)  # other size
    pids[4].path(tree, "s2").write_bytes(b"II*\0 not really a tiff")
    report = verify_tree(tree, deep=True, patch_size=32, quiet=True)
    bad = {b["path"]: b["problem"] for b in report.tree.bad_files}
    assert report.tree.files_checked == 240
    # The not-a-TIFF file: a little-endian TIFF header whose first-directory offset is the four
    # bytes b" not" = 0x746F6E20 = 1953459744, far past the end of the file; libtiff (through
    # GDAL, which names the file by its base name) reports exactly that.
    assert bad == {
        pids[0].relpath("s2"): "has 12 bands, a s2 patch has 13",  # the reader's words for the same files
        pids[1].relpath("s1"): "has data type float64, a s1 patch has float32",
        pids[2].relpath("lc"): "has no coordinate reference system",
        pids[3].relpath("lc"): "is 16x16 pixels, a patch is 32x32",
        pids[4].relpath("s2"): f"cannot be read as a GeoTIFF ({pids[4].filename('s2')}: "
                               "TIFFReadDirectory:Failed to read directory at offset 1953459744)",
    }
    assert not report.ok
    # 256x256 is the default: the 32 px sample fails it everywhere
    assert len(verify_tree(sample_root, deep=True, quiet=True).tree.bad_files) == 240


def test_check_root(tmp_path, archive_root, tree, sample_archives):
    manifest = sample_archives / MANIFEST_NAME
    verify_archives(archive_root, checksums=manifest, quiet=True)
    assert not check_root(archive_root).ok  # official md5s: the sample archives do not match
    # as after a download with --checksums: the md5s are recorded for the root
    from sen12ms_plugins.acquisition import checksums

    checksums.record(Bookkeeping(archive_root), checksums.load_checksums(manifest), ALL)
    report = check_root(archive_root)
    assert report.ok and all(a.remembered for a in report.archives) and report.tree is None
    only_tree = check_root(tree)
    assert only_tree.ok and only_tree.archives is None and only_tree.tree.triplets == 80
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "holds neither SEN12MS archives nor an extracted tree" in check_root(empty).problems[0]


def test_verify_cli_exit_codes_and_json(tree, archive_root, sample_archives, capsys):
    assert main(["verify", "--root", str(tree), "--quiet"]) == 0
    assert "all good" in capsys.readouterr().out
    assert main(["verify", "--root", str(archive_root), "--checksums", str(sample_archives / MANIFEST_NAME),
                 "--json", "--quiet"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and len(data["archives"]) == 12 and data["tree"] is None
    assert main(["verify", "--root", str(archive_root), "--quiet"]) == 1  # official md5s
    assert "md5 mismatch" in capsys.readouterr().out
    assert main(["verify", "--root", str(tree), "--tree", "--deep", "--quiet"]) == 1  # 32 px, not 256
    assert main(["verify", "--root", str(tree), "--tree", "--deep", "--patch-size", "32", "--quiet"]) == 0
    capsys.readouterr()
    for bad in (["--jobs", "0"], ["--archives", "--tree"]):
        with pytest.raises(SystemExit) as caught:
            main(["verify", "--root", str(tree), *bad])
        assert caught.value.code == 2
