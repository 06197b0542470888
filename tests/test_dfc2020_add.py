"""``sen12ms add-dfc2020``: every variant of the release is added; safe, atomic per set, once, recorded.

The zips come from the project's generator (``sen12ms sample --dfc2020``); what lands in the
root is compared with the zips' own bytes, read with zipfile alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio

from sen12ms_plugins.acquisition.bookkeeping import Bookkeeping, RecordFile
from sen12ms_plugins.acquisition.dfc2020 import add_dfc2020
from sen12ms_plugins.acquisition.extract import TEMP_PREFIX
from sen12ms_plugins.acquisition.verify import check_root
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.demo.dfc2020_sample import make_dfc2020_sample
from sen12ms_plugins.errors import BadArchiveError, DFC2020SourceError, UnsafeArchiveError
from sen12ms_plugins.reading.reader import read_triplet

from .dfc2020_fixtures import PATCH_SIZE, as_uint8, zip_arrays

COUNTS = {"ROIs0000_validation": 2, "ROIs0000_test": 3}
# The generator's and these tests' files keep the release's stripped (identity) georeference.
pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
VALIDATION_ZIPS = [n for n, (f, _) in facts.DFC2020_ZIPS.items() if f == "ROIs0000_validation"]


def member_bytes(path: Path) -> dict[str, bytes]:
    """file name -> bytes of every .tif member of a zip."""
    with zipfile.ZipFile(path) as archive:
        return {n.rsplit("/", 1)[-1]: archive.read(n) for n in archive.namelist() if n.endswith(".tif")}


def root_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("ROIs0000_*/*/*.tif"))}


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(TEMP_PREFIX))


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """Four sources covering every option value: (s1 dtype, dfc dtype, zip structure, zips or folders)."""
    made = {}
    for key in [("float32", "uint8", "set", True), ("float64", "int32", "sensor", True),
                ("float64", "uint8", "set", False), ("float32", "int32", "sensor", False)]:
        out = tmp_path_factory.mktemp("variant") / "-".join(str(k) for k in key)
        make_dfc2020_sample(out, patch_size=PATCH_SIZE, counts=COUNTS, s1_dtype=key[0], dfc_dtype=key[1],
                            structure=key[2], zips=key[3])
        made[key] = out
    return made


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same patches as zips in the narrow dtypes: what every variant must read as."""
    out = tmp_path_factory.mktemp("reference") / "zips"
    make_dfc2020_sample(out, patch_size=PATCH_SIZE, counts=COUNTS)
    return out


@pytest.mark.parametrize("key", [("float32", "uint8", "set", True), ("float64", "int32", "sensor", True),
                                 ("float64", "uint8", "set", False), ("float32", "int32", "sensor", False)],
                         ids=lambda k: "-".join(str(x) for x in k))
def test_every_variant_is_added_and_reads_as_the_sen12ms_dtypes(key, variants, reference, tmp_path):
    source = variants[key]
    root = tmp_path / "root"
    report = add_dfc2020(root, source, quiet=True)
    assert [o.status for o in report.sources] == ["added"] * 8
    assert {o.kind for o in report.sources} == {"zip" if key[3] else "folder"}
    assert report.patches == {"ROIs0000_validation": 2, "ROIs0000_test": 3}
    by_name = {o.name: o for o in report.sources}
    assert by_name["s1_0.zip"].dtypes == [key[0]] and by_name["dfc_validation.zip"].dtypes == [key[1]]
    # the files in the root are the source's, byte for byte, in the layout the public loaders read
    for name, (folder, sensor) in facts.DFC2020_ZIPS.items():
        sensor_dir = facts.dfc2020_sensor_dir(folder, sensor)
        if key[3]:
            expected = member_bytes(source / name)
        else:
            base = source / folder if key[2] == "set" else source
            expected = {p.name: p.read_bytes() for p in (base / sensor_dir).iterdir()}
        got = {p.name: p.read_bytes() for p in (root / folder / sensor_dir).iterdir()}
        assert got == expected, name
    index = build_index(root)
    assert len(index.dfc2020) == 5 and not index.incomplete and not index.strays
    # read back: SEN12MS's dtypes whatever the files hold, the very values of the narrow reference
    for folder in facts.DFC2020_FOLDERS:
        narrow = {s: zip_arrays(reference / facts.dfc2020_zip_name(folder, s)) for s in facts.DFC2020_SENSORS}
        for pid in (p for p in index.dfc2020 if p.season == folder):
            arrays = read_triplet(root, pid)
            assert {s: a.dtype.name for s, a in arrays.items()} == {"s1": "float32", "s2": "uint16", "lc": "uint16",
                                                                     "dfc": "uint8"}
            for sensor in facts.DFC2020_SENSORS:
                np.testing.assert_array_equal(arrays[sensor], narrow[sensor][pid.patch])
            np.testing.assert_array_equal(arrays["dfc"][0], as_uint8(narrow["dfc"][pid.patch][0]))
    assert check_root(root).ok
    assert leftovers(root) == []


def test_done_once_and_recognised_by_md5_and_replaced_when_changed(variants, tmp_path):
    source = variants[("float32", "uint8", "set", True)]
    root = tmp_path / "root"
    add_dfc2020(root, source, quiet=True)
    one = next(root.rglob("ROIs0000_test/s2_0/*.tif"))
    stamp = (one.stat().st_ino, one.stat().st_mtime_ns)
    again = add_dfc2020(root, source, quiet=True)
    assert [o.status for o in again.sources] == ["already added"] * 8
    assert (one.stat().st_ino, one.stat().st_mtime_ns) == stamp
    # the same bytes under another name and inode: hashed, recognised, nothing moved
    copy = tmp_path / "copy"
    shutil.copytree(source, copy)
    third = add_dfc2020(root, copy, quiet=True)
    assert [o.status for o in third.sources] == ["already added"] * 8
    assert (one.stat().st_ino, one.stat().st_mtime_ns) == stamp
    # other bytes: added again, the folder replaced whole
    other = tmp_path / "other"
    make_dfc2020_sample(other, seed=1, patch_size=PATCH_SIZE, counts=COUNTS)
    fourth = add_dfc2020(root, other, quiet=True)
    assert [o.status for o in fourth.sources] == ["added"] * 8
    assert one.read_bytes() == member_bytes(other / "s2_0.zip")[one.name]
    assert check_root(root).ok


def test_a_set_given_in_part_is_refused_before_anything(variants, tmp_path):
    zips = variants[("float32", "uint8", "set", True)]

    def folder(name: str, members: list[str]) -> Path:
        out = tmp_path / name
        out.mkdir()
        for member in members:
            shutil.copyfile(zips / member, out / member)
        return out

    root = tmp_path / "root"
    root.mkdir()
    lacking = folder("lacking", [n for n in facts.DFC2020_ZIPS if n != "lc_validation.zip"])
    with pytest.raises(DFC2020SourceError, match="lc_validation.zip") as info:
        add_dfc2020(root, lacking, quiet=True)
    assert "nothing was added" in str(info.value)
    assert sorted(p.name for p in root.iterdir() if p.name != ".sen12ms") == []
    # one set alone is fine
    tests = folder("tests", [n for n in facts.DFC2020_ZIPS if n not in VALIDATION_ZIPS])
    assert add_dfc2020(root, tests, quiet=True).patches == {"ROIs0000_validation": 0, "ROIs0000_test": 3}
    lc_only = folder("lc-only", ["lc_validation.zip"])
    with pytest.raises(DFC2020SourceError, match="s1_validation.zip, s2_validation.zip, dfc_validation.zip"):
        add_dfc2020(root, lc_only, quiet=True)
    # once the root holds the other three, one sensor alone can be added (again)
    add_dfc2020(root, folder("validation", VALIDATION_ZIPS), quiet=True)
    other = tmp_path / "other"
    make_dfc2020_sample(other, seed=3, patch_size=PATCH_SIZE, counts=COUNTS)
    report = add_dfc2020(root, _copy_one(other, "lc_validation.zip", tmp_path), quiet=True)
    assert [(o.name, o.status) for o in report.sources] == [("lc_validation.zip", "added")]
    assert report.patches == {"ROIs0000_validation": 2, "ROIs0000_test": 3}


def _copy_one(source: Path, name: str, tmp_path: Path) -> Path:
    out = tmp_path / f"one-{name}"
    out.mkdir()
    shutil.copyfile(source / name, out / name)
    return out


def test_nothing_found_says_where_to_get_it(tmp_path):
    with pytest.raises(DFC2020SourceError, match="IEEE DataPort") as info:
        add_dfc2020(tmp_path / "root", tmp_path, quiet=True)
    assert "s1_validation.zip" in str(info.value) and facts.DFC2020_URL in str(info.value)


def _patch(source: Path, name: str) -> bytes:
    return next(iter(member_bytes(source / name).values()))


def _write_zip(path: Path, members: list[tuple[str, bytes, int]]) -> None:
    """A zip of (name, bytes, unix mode) members."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = mode << 16
            archive.writestr(info, data)


UNSAFE = {
    "link": ("s1_validation/ROIs0000_validation_s1_0_p0.tif", b"/etc/passwd", 0o120777),
    "dotdot": ("s1_validation/../../evil.tif", None, 0o100644),
    "absolute": ("/tmp/ROIs0000_validation_s1_0_p0.tif", None, 0o100644),
    "other set": ("ROIs0000_test/s1_0/ROIs0000_test_s1_0_p0.tif", None, 0o100644),
    "other sensor": ("s2_validation/ROIs0000_validation_s2_0_p0.tif", None, 0o100644),
    "fifo": ("s1_validation/fifo", b"", 0o010644),
    "backslash": ("s1_validation\\ROIs0000_validation_s1_0_p1.tif", None, 0o100644),
}


@pytest.mark.parametrize("kind", list(UNSAFE))
def test_a_dangerous_member_refuses_the_set_and_writes_nothing(kind, variants, tmp_path):
    source = tmp_path / "zips"
    shutil.copytree(variants[("float32", "uint8", "set", True)], source)
    name, data, mode = UNSAFE[kind]
    good = _patch(source, "s1_validation.zip")
    _write_zip(source / "s1_validation.zip", [("s1_validation/ROIs0000_validation_s1_0_p1.tif", good, 0o100644),
                                              (name, good if data is None else data, mode)])
    root = tmp_path / "root"
    with pytest.raises(UnsafeArchiveError) as info:
        add_dfc2020(root, source, quiet=True)
    assert "s1_validation.zip" in str(info.value) and repr(name) in str(info.value)
    assert not (root / "ROIs0000_validation").exists() and not (root / "ROIs0000_test").exists()
    assert leftovers(root) == [] and not (tmp_path / "evil.tif").exists()


def test_a_member_larger_than_a_patch_and_a_duplicate_are_refused(variants, tmp_path):
    source = tmp_path / "zips"
    shutil.copytree(variants[("float32", "uint8", "set", True)], source)
    cap = 2 * 8 * facts.PATCH_SIZE**2 + (1 << 20)  # s1's widest dtype is float64
    good = _patch(source, "s1_0.zip")
    _write_zip(source / "s1_0.zip", [("s1_0/ROIs0000_test_s1_0_p0.tif", b"\0" * (cap + 1), 0o100644)])
    with pytest.raises(UnsafeArchiveError, match="more than a s1 patch can be"):
        add_dfc2020(tmp_path / "root", source, quiet=True)
    _write_zip(source / "s1_0.zip", [("ROIs0000_test_s1_0_p0.tif", good, 0o100644),
                                     ("s1_0/ROIs0000_test_s1_0_p0.tif", good, 0o100644)])
    with pytest.raises(UnsafeArchiveError, match="appears twice"):
        add_dfc2020(tmp_path / "root", source, quiet=True)
    assert leftovers(tmp_path / "root") == [] and not (tmp_path / "root" / "ROIs0000_test").exists()


def test_harmless_extras_are_skipped_and_listed(variants, tmp_path, capsys):
    source = tmp_path / "zips"
    shutil.copytree(variants[("float32", "uint8", "set", True)], source)
    with zipfile.ZipFile(source / "dfc_0.zip", "a") as archive:
        archive.writestr("ROIs0000_test/README.txt", b"labels")
        archive.writestr("__MACOSX/ROIs0000_test/dfc_0/._ROIs0000_test_dfc_0_p0.tif", b"apple")
        archive.writestr("ROIs0000_test/dfc_0/ROIs0000_test_dfc_0_p0.tif.aux.xml", b"<PAMDataset/>")
    code = _cli("add-dfc2020", "--root", str(tmp_path / "root"), "--from", str(source))
    out = capsys.readouterr().out
    assert code == 0
    assert "dfc_0.zip: skipped 3 member(s) that are not patches" in out
    assert "README.txt: is a file outside ROIs0000_test/dfc_0/, not a patch" in out
    assert sorted(p.name for p in (tmp_path / "root" / "ROIs0000_test" / "dfc_0").iterdir()) == \
        sorted(f"ROIs0000_test_dfc_0_p{n}.tif" for n in range(3))
    record = Bookkeeping(tmp_path / "root").read(RecordFile.DFC2020)["sources"]["dfc_0.zip"]
    assert record["skipped_total"] == 3 and len(record["skipped"]) == 3


def test_bad_zips_and_bad_patches_are_refused(variants, tmp_path):
    source = tmp_path / "zips"
    shutil.copytree(variants[("float32", "uint8", "set", True)], source)
    data = (source / "s2_0.zip").read_bytes()
    (source / "s2_0.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadArchiveError, match="s2_0.zip: not a valid zip"):
        add_dfc2020(tmp_path / "root", source, quiet=True)
    (source / "s2_0.zip").write_bytes(data)
    # a label file of a data type the release does not have (float32)
    path = tmp_path / "ROIs0000_test_dfc_0_p0.tif"
    with rasterio.open(path, "w", driver="GTiff", width=16, height=16, count=1, dtype="float32") as dst:
        dst.write(np.ones((1, 16, 16), np.float32))
    _write_zip(source / "dfc_0.zip", [("dfc_0/ROIs0000_test_dfc_0_p0.tif", path.read_bytes(), 0o100644)])
    with pytest.raises(BadArchiveError, match="is not a DFC2020 dfc patch: has data type float32, a dfc patch has uint8 or int32"):
        add_dfc2020(tmp_path / "root", source, quiet=True)
    _write_zip(source / "dfc_0.zip", [("dfc_0/README", b"nothing here", 0o100644)])
    with pytest.raises(BadArchiveError, match="dfc_0.zip: holds no ROIs0000_test/dfc_0/ patch"):
        add_dfc2020(tmp_path / "root", source, quiet=True)
    assert leftovers(tmp_path / "root") == [] and not (tmp_path / "root" / "ROIs0000_test").exists()


def test_a_link_inside_an_extracted_folder_is_refused(variants, tmp_path):
    source = tmp_path / "folders"
    shutil.copytree(variants[("float64", "uint8", "set", False)], source, symlinks=True)
    target = next((source / "ROIs0000_test" / "s2_0").iterdir())
    (source / "ROIs0000_test" / "s2_0" / "ROIs0000_test_s2_0_p9.tif").symlink_to(target)
    with pytest.raises(UnsafeArchiveError, match="is a symbolic link"):
        add_dfc2020(tmp_path / "root", source, quiet=True)


def test_a_folder_already_in_the_root_is_recorded_in_place(variants, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(variants[("float64", "uint8", "set", False)], root)  # zips extracted into the root by hand
    one = next(root.rglob("ROIs0000_validation/s1_validation/*.tif"))
    inode = one.stat().st_ino
    report = add_dfc2020(root, root, quiet=True)
    assert [o.status for o in report.sources] == ["added"] * 8 and one.stat().st_ino == inode
    assert Bookkeeping(root).read(RecordFile.DFC2020)["sources"]["s1_validation.zip"]["in_place"] is True
    assert check_root(root).ok
    assert [o.status for o in add_dfc2020(root, root, quiet=True).sources] == ["already added"] * 8


def test_verify_finds_changed_and_missing_files(variants, tmp_path):
    root = tmp_path / "root"
    add_dfc2020(root, variants[("float32", "int32", "sensor", False)], quiet=True)
    label = next(root.rglob("ROIs0000_test/dfc_0/*.tif"))
    with rasterio.open(label) as src:
        profile, data = src.profile, src.read()
    data[0, 0, 0] = 300  # an int32 value no uint8 label can hold
    with rasterio.open(label, "w", **profile) as dst:
        dst.write(data)
    report = check_root(root)
    assert not report.ok and any("changed since add-dfc2020 added them" in p and label.name in p
                                 for p in report.problems)
    deep = _cli("verify", "--root", str(root), "--tree", "--deep", "--patch-size", str(PATCH_SIZE))
    assert deep == 1
    other = next(root.rglob("ROIs0000_validation/s2_validation/*.tif"))
    other.unlink()
    assert any("DFC2020 files added by add-dfc2020 are missing" in p for p in check_root(root).problems)


def test_verify_deep_reads_the_values_of_narrowed_files(variants, tmp_path, capsys):
    root = tmp_path / "root"
    add_dfc2020(root, variants[("float64", "int32", "sensor", True)], quiet=True)
    label = next(root.rglob("ROIs0000_test/dfc_0/*.tif"))
    with rasterio.open(label) as src:
        profile, data = src.profile, src.read()
    data[0, 3, 3] = -1
    with rasterio.open(label, "w", **profile) as dst:
        dst.write(data)
    assert _cli("verify", "--root", str(root), "--tree", "--deep", "--patch-size", str(PATCH_SIZE)) == 1
    out = capsys.readouterr().out
    assert f"{label.name}: holds the value -1, which a dfc patch cannot have" in out


def test_a_killed_commit_is_recovered(variants, tmp_path):
    """A sensor folder moved aside by a commit whose replacement did not arrive is put back."""
    root = tmp_path / "root"
    add_dfc2020(root, variants[("float32", "uint8", "set", True)], quiet=True)
    before = root_files(root)
    stale = root / f"{TEMP_PREFIX}dfc2020-ROIs0000_test-x1"
    (stale / ".replaced").mkdir(parents=True)
    os.rename(root / "ROIs0000_test" / "s1_0", stale / ".replaced" / "s1_0")
    add_dfc2020(root, variants[("float32", "uint8", "set", True)], quiet=True)
    assert root_files(root) == before and leftovers(root) == []


def _cli(*argv: str) -> int:
    from sen12ms_plugins.cli import main

    return main(list(argv))


def test_cli_exit_codes(variants, tmp_path):
    source = variants[("float32", "uint8", "set", True)]
    done = subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", "add-dfc2020", "--root", str(tmp_path / "r"),
                           "--from", str(source), "--json", "--quiet"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert '"status": "added"' in done.stdout
    done = subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", "add-dfc2020", "--root", str(tmp_path / "r"),
                           "--from", str(tmp_path / "nowhere")], capture_output=True, text=True, check=False)
    assert done.returncode == 1 and done.stderr.startswith("sen12ms add-dfc2020: error:") and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", "add-dfc2020", "--root", str(tmp_path / "r")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2


def test_sample_writes_the_dfc2020_variants_asked_for(tmp_path):
    """``sen12ms sample --dfc2020``: the release's zip names, the structure and dtypes asked for."""
    out = tmp_path / "zips"
    done = subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", "sample", "--dfc2020", str(out),
                           "--dfc2020-s1-dtype", "float64", "--dfc2020-dtype", "int32", "--dfc2020-structure", "sensor",
                           "--dfc2020-counts", "1,2", "--patch-size", "16", "--layout", "real", "--quiet"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(facts.DFC2020_ZIPS)
    with zipfile.ZipFile(out / "s1_0.zip") as archive:
        assert archive.namelist() == ["s1_0/", "s1_0/ROIs0000_test_s1_0_p0.tif", "s1_0/ROIs0000_test_s1_0_p1.tif"]
    dtypes = {name: {a.dtype.name for a in zip_arrays(out / name).values()} for name in facts.DFC2020_ZIPS}
    assert dtypes["s1_validation.zip"] == {"float64"} and dtypes["dfc_0.zip"] == {"int32"}
    assert dtypes["s2_0.zip"] == {"uint16"} and dtypes["lc_validation.zip"] == {"uint16"}
    assert not any(p.name.startswith(".") for p in out.iterdir())  # no temporary tree left
    again = subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", "sample", "--dfc2020-dtype", "int32"],
                           capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "--out DIR" in again.stderr
