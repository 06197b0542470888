"""The index: one scan, complete/incomplete triplets, strays, cache, read-only roots."""

import json
import sys

import pytest

from sen12ms_plugins.dataset import index as index_module
from sen12ms_plugins.dataset.ids import PatchId
from sen12ms_plugins.dataset.index import CACHE_NAME, build_index
from sen12ms_plugins.demo.sample import sample_scenes
from sen12ms_plugins.errors import NoRootGivenError, RootError
from sen12ms_plugins.fsutil import root_cache_dir

from .conftest import TEST_PATCHES_PER_SCENE, touch_tree
from .helpers import read_only


@pytest.fixture
def trust_recent(monkeypatch):
    """Trust folder times at once, so a tree made a moment ago can be served from cache."""
    monkeypatch.setattr(index_module, "_RACY_SECONDS", 0)


def test_sample_is_complete(sample_root):
    index = build_index(sample_root, use_cache=False)
    assert list(index.triplets) == sorted(PatchId(s.season, s.scene, p) for s in sample_scenes()
                                          for p in s.patches[:TEST_PATCHES_PER_SCENE])
    assert not index.incomplete and not index.strays
    assert sum(index.season_counts().values()) == len(index) == 80
    assert len(index.scene_counts) == 20


def test_incomplete_triplets_and_strays(tmp_path):
    pid = PatchId("ROIs1158_spring", 17, 476)
    other = PatchId("ROIs1158_spring", 17, 684)
    root = touch_tree(tmp_path, [pid.relpath(s) for s in ("s1", "s2", "lc")] + [
        other.relpath("s2"),
        "ROIs1158_spring/s1_17/ROIs1158_spring_s1_17_p0476.tif",  # leading zero
        "ROIs1158_spring/s1_17/notes.txt",
        "ROIs1158_spring/s2_17/ROIs1158_spring_s2_18_p1.tif",  # wrong scene for its folder
        "ROIs1158_spring/readme.md",
        "ROIs1158_spring/extra/file.tif",
        "unrelated_at_root.txt",  # the root itself may hold other things
    ])
    index = build_index(root)
    assert index.triplets == (pid,)
    assert [(i.patch, i.missing) for i in index.incomplete] == [(other, ("s1", "lc"))]
    assert index.strays == (
        "ROIs1158_spring/extra/",
        "ROIs1158_spring/readme.md",
        "ROIs1158_spring/s1_17/ROIs1158_spring_s1_17_p0476.tif",
        "ROIs1158_spring/s1_17/notes.txt",
        "ROIs1158_spring/s2_17/ROIs1158_spring_s2_18_p1.tif",
    )


def test_cache_is_reused_and_follows_changes(tmp_path, trust_recent):
    ids = [PatchId("ROIs1970_fall", 1, p) for p in (514, 756)] + [PatchId("ROIs2017_winter", 103, 467)]
    root = touch_tree(tmp_path / "root", [p.relpath(s) for p in ids for s in ("s1", "s2", "lc")])
    first = build_index(root)
    assert (root_cache_dir(root) / CACHE_NAME).is_file()
    assert sorted(p.name for p in root.iterdir()) == ["ROIs1970_fall", "ROIs2017_winter"]  # nothing in the root
    assert len(first.rescanned) == 2 + 6  # two season folders, six scene folders

    again = build_index(root)
    assert again.rescanned == () and again.triplets == first.triplets

    # a new file in one scene folder: only that folder is listed again
    new = PatchId("ROIs1970_fall", 1, 272)
    touch_tree(root, [new.relpath("s1")])
    changed = build_index(root)
    assert changed.rescanned == ("ROIs1970_fall/s1_1",)
    assert [i.patch for i in changed.incomplete] == [new]

    # a removed file and a new scene folder are seen too
    (root / ids[0].relpath("lc")).unlink()
    touch_tree(root, [PatchId("ROIs1970_fall", 130, 457).relpath(s) for s in ("s1", "s2", "lc")])
    later = build_index(root)
    assert ids[0] not in later and PatchId("ROIs1970_fall", 130, 457) in later
    assert {"ROIs1970_fall", "ROIs1970_fall/lc_1", "ROIs1970_fall/s1_130"} <= set(later.rescanned)

    # a removed season folder
    for sensor in ("s1", "s2", "lc"):
        (root / ids[2].relpath(sensor)).unlink()
        (root / ids[2].relpath(sensor)).parent.rmdir()
    (root / "ROIs2017_winter").rmdir()
    assert all(p.season == "ROIs1970_fall" for p in build_index(root))


def test_recently_changed_folders_are_not_trusted(tmp_path):
    """Same-tick changes would keep a folder's times, so fresh folders are listed again."""
    pid = PatchId("ROIs1970_fall", 1, 514)
    root = touch_tree(tmp_path, [pid.relpath(s) for s in ("s1", "s2", "lc")])
    build_index(root)
    assert build_index(root).rescanned  # listed again: modified less than 2 s ago


def test_corrupt_cache_is_rebuilt(tmp_path, trust_recent):
    pid = PatchId("ROIs1970_fall", 1, 514)
    root = touch_tree(tmp_path, [pid.relpath(s) for s in ("s1", "s2", "lc")])
    build_index(root)
    (root_cache_dir(root) / CACHE_NAME).write_text("{not json")
    assert build_index(root).triplets == (pid,)
    assert json.loads((root_cache_dir(root) / CACHE_NAME).read_text())["version"] == 2


@pytest.mark.needs_root
def test_read_only_root_caches_in_user_cache(tmp_path, monkeypatch, trust_recent):
    """Needs root: the root is made read-only with a read-only bind mount (helpers.read_only)."""
    monkeypatch.setenv("SEN12MS_CACHE_DIR", str(tmp_path / "cache"))
    pid = PatchId("ROIs1868_summer", 146, 202)
    root = touch_tree(tmp_path / "root", [pid.relpath(s) for s in ("s1", "s2", "lc")])
    with read_only(root):
        with pytest.raises(OSError):
            (root / "probe").touch()
        first = build_index(root)
        second = build_index(root)
    assert first.triplets == second.triplets == (pid,)
    assert second.rescanned == ()
    assert not (root / ".sen12ms").exists()
    assert list((tmp_path / "cache" / "roots").glob(f"root-*/{CACHE_NAME}"))


def test_root_from_environment(tmp_path, monkeypatch):
    pid = PatchId("ROIs1868_summer", 146, 202)
    touch_tree(tmp_path, [pid.relpath(s) for s in ("s1", "s2", "lc")])
    monkeypatch.setenv("SEN12MS_ROOT", str(tmp_path))
    assert build_index().triplets == (pid,)


def test_missing_root(tmp_path, monkeypatch):
    with pytest.raises(RootError, match="does not exist"):
        build_index(tmp_path / "nope")
    (tmp_path / "file").touch()
    with pytest.raises(RootError, match="not a folder"):
        build_index(tmp_path / "file")
    monkeypatch.delenv("SEN12MS_ROOT", raising=False)
    with pytest.raises(NoRootGivenError, match="SEN12MS_ROOT"):
        build_index()


def test_index_does_not_open_files(tmp_path):
    """Names alone decide: no patch file is opened while indexing (seen by an audit hook, which
    reports every open() of the process; mode 000 would not show it, as root reads such files)."""
    pid = PatchId("ROIs1868_summer", 73, 461)
    root = touch_tree(tmp_path, [pid.relpath(s) for s in ("s1", "s2", "lc")])
    opened: list[str] = []
    watching = True

    def hook(event: str, args: tuple) -> None:
        if watching and event == "open" and isinstance(args[0], str) and args[0].endswith(".tif"):
            opened.append(args[0])

    sys.addaudithook(hook)  # cannot be removed: `watching` turns it off after this test
    try:
        assert build_index(root, use_cache=False).triplets == (pid,)
        with open(root / pid.relpath("s2"), "rb"):  # the hook does see an open of a patch
            pass
    finally:
        watching = False
    assert opened == [str(root / pid.relpath("s2"))]
