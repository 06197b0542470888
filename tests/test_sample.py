"""The sample generator: faithful layout and values, deterministic bytes, archives."""

import hashlib
import tarfile

import numpy as np
import pytest

from sen12ms_plugins.dataset import facts, labels
from sen12ms_plugins.dataset.ids import PatchId
from sen12ms_plugins.dataset.splits import holdout_scenes
from sen12ms_plugins.demo.sample import ARCHIVE_MTIME, MANIFEST_NAME, make_sample, sample_scenes
from sen12ms_plugins.errors import RootError
from sen12ms_plugins.reading.reader import read_triplet

from .helpers import read_manifest


def _digests(root):
    return {p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_scene_table_is_faithful():
    scenes = sample_scenes()
    assert {s.season for s in scenes} == set(facts.SEASONS)
    held = {(s.season, s.scene) for s in scenes if s.holdout}
    assert held and held <= set(holdout_scenes())
    assert {(s.season, s.scene) for s in scenes if not s.holdout}.isdisjoint(holdout_scenes())
    assert facts.DAMAGED_PATCH[:2] in {(s.season, s.scene) for s in scenes}
    for s in scenes:
        assert all(0 <= p <= 945 for p in s.patches)
        assert len(set(s.patches)) == len(s.patches)
    # non-contiguous numbers, as in the real data
    assert any(max(s.patches[:4]) - min(s.patches[:4]) > 4 for s in scenes)


def test_same_seed_same_bytes(tmp_path):
    a = make_sample(tmp_path / "a", patch_size=16, patches_per_scene=1, archives=True)
    b = make_sample(tmp_path / "b", patch_size=16, patches_per_scene=1, archives=True)
    assert a == b
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    make_sample(tmp_path / "c", patch_size=16, patches_per_scene=1, seed=1)
    pid = a[0]
    assert not np.array_equal(read_triplet(tmp_path / "a", pid)["s2"], read_triplet(tmp_path / "c", pid)["s2"])


def test_archives_are_laid_out_like_the_real_ones(sample_archives):
    md5s = read_manifest(sample_archives / MANIFEST_NAME)
    assert set(md5s) == set(facts.ARCHIVE_MD5)
    assert not list(sample_archives.glob("ROIs*/"))  # tree=False: archives only
    for name, md5 in md5s.items():
        data = (sample_archives / name).read_bytes()
        assert hashlib.md5(data).hexdigest() == md5
        assert data[4:8] == b"\0\0\0\0"  # gzip header time 0
        season, sensor = name[: -len(".tar.gz")].rsplit("_", 1)
        with tarfile.open(sample_archives / name) as tar:
            members = tar.getmembers()
        names = [m.name for m in members]
        assert names == sorted(names) and names[0] == season
        assert all(m.mtime == ARCHIVE_MTIME and m.uid == m.gid == 0 and not m.uname for m in members)
        files = [m for m in members if m.isfile()]
        assert files and all(m.name.startswith(f"{season}/{sensor}_") for m in files)


def test_values_are_plausible(sample_root):
    s1, s2, lc = [], [], []
    for s in sample_scenes():
        for p in s.patches[:2]:
            arrays = read_triplet(sample_root, PatchId(s.season, s.scene, p))
            s1.append(arrays["s1"])
            s2.append(arrays["s2"])
            lc.append(arrays["lc"])
    s1, s2, lc = np.stack(s1), np.stack(s2), np.stack(lc)
    lo, hi = np.nanpercentile(s1, [2, 98])
    assert -30 < lo < -15 and -8 < hi < 1  # dB, about -25 ... 0
    assert s2.min() >= 1 and 500 < np.median(s2) < 4000  # reflectance x 10000
    assert np.median(s2[:, 10]) < 200  # B10 (cirrus) is dark
    assert set(np.unique(lc[:, 0])) <= set(labels.IGBP_CLASSES)
    for band, classes in ((1, labels.LCCS_LC_CLASSES), (2, labels.LCCS_LU_CLASSES), (3, labels.LCCS_SH_CLASSES)):
        assert set(np.unique(lc[:, band])) <= set(classes) | {labels.LCCS_UNCLASSIFIED}


def test_every_igbp_class_occurs(sample_root):
    seen = set()
    for s in sample_scenes():
        for p in s.patches[:4]:
            seen |= set(np.unique(read_triplet(sample_root, PatchId(s.season, s.scene, p), bands={"lc": ["IGBP"]})["lc"]))
    assert seen == set(labels.IGBP_CLASSES)


def test_land_cover_has_spatial_structure(sample_root):
    igbp = read_triplet(sample_root, PatchId("ROIs1970_fall", 1, 514), bands={"lc": ["IGBP"]})["lc"][0]
    same = (igbp[:, 1:] == igbp[:, :-1]).mean()
    assert same > 0.85  # white noise over 3 classes would give about 0.4


def test_damaged_patch_has_nans_in_s1_only(sample_root):
    arrays = read_triplet(sample_root, PatchId(*facts.DAMAGED_PATCH))
    assert np.isnan(arrays["s1"]).any()
    healthy = read_triplet(sample_root, PatchId("ROIs1868_summer", 146, 203))
    assert not np.isnan(healthy["s1"]).any()


def test_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "x").touch()
    with pytest.raises(RootError, match="must be missing or empty"):
        make_sample(tmp_path, patch_size=16, patches_per_scene=1)
    with pytest.raises(ValueError, match="patches_per_scene"):
        make_sample(tmp_path / "new", patches_per_scene=99)
