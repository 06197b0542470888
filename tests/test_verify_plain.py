"""What plain ``verify`` (no ``--deep``) catches with its cheap checks, on real GeoTIFFs of the sample:

* a GeoTIFF shorter than its header says (cut in place, after a verify that passed; every file of
  a folder cut to the same size; a file cut inside its header), in ``verify --deep``'s words;
* a season folder gone: from a downloaded root (its download record and extraction markers
  say what should be there), and from a root without the downloader's records (the folders the
  last passing verify saw, kept in the root's bookkeeping), with the way to accept a removal;
* a scene folder without its partner sensors' folders (even an empty one).

And it stays what it was on an intact root: all good, with nothing opened twice needlessly.
"""

from __future__ import annotations

import shutil

import pytest

from sen12ms_plugins.acquisition.verify import check_root, verify_tree
from sen12ms_plugins.cli import main
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.demo.sample import MANIFEST_NAME

FALL = "ROIs1970_fall"


@pytest.fixture
def tree(copy_tree, sample_root):
    return copy_tree(sample_root)


def _cut(path, size: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


def _deep_words(root) -> dict[str, str]:
    return {b["path"]: b["problem"] for b in verify_tree(root, deep=True, patch_size=None, quiet=True).tree.bad_files}


def test_a_file_cut_short_in_place_is_found_in_deeps_words(tree):
    assert verify_tree(tree, quiet=True).ok
    pid = build_index(tree).triplets[5]
    path = pid.path(tree, "s2")
    _cut(path, path.stat().st_size - 700)  # in place: its folder's times do not change
    report = verify_tree(tree, quiet=True)
    rel = pid.relpath("s2")
    words = _deep_words(tree)[rel]
    assert words.startswith("truncated: its image data ends at byte ")
    assert report.problems == [(f"{tree}: 1 of {3 * len(build_index(tree).triplets):,} GeoTIFFs are shorter than "
                                f"their headers say ({rel}: {words}); download or extract them again")]
    assert report.tree.bad_files == [{"path": rel, "problem": words}]


def test_every_file_of_a_folder_cut_to_one_size_is_found(tree):
    folder = tree / "ROIs1158_spring" / "lc_9"
    files = sorted(folder.glob("*.tif"))
    for path in files:
        _cut(path, 4096)
    report = verify_tree(tree, quiet=True)
    bad = {b["path"] for b in report.tree.bad_files}
    assert bad == {f"ROIs1158_spring/lc_9/{p.name}" for p in files}
    assert f"{len(files)} of " in report.problems[0]


def test_a_file_cut_inside_its_header(tree):
    pid = build_index(tree).triplets[0]
    _cut(pid.path(tree, "s1"), 5)
    report = verify_tree(tree, quiet=True)
    assert report.tree.bad_files == [{"path": pid.relpath("s1"),
                                      "problem": "truncated: 5 bytes, too short for a TIFF header"}]


def test_an_intact_root_is_all_good(tree):
    report = verify_tree(tree, quiet=True)
    assert report.ok and report.tree.files_checked == 3 * len(build_index(tree).triplets)
    assert report.tree.bad_files == []
    assert not (tree / ".sen12ms").exists()  # what verify remembers of a tree is in the user's cache


def test_a_season_removed_since_the_last_passing_verify(tree):
    assert verify_tree(tree, quiet=True).ok
    n_fall = len([p for p in build_index(tree).triplets if p.season == FALL])
    folders = sorted(d.name for d in (tree / FALL).iterdir())
    shutil.rmtree(tree / FALL)
    report = verify_tree(tree, quiet=True)
    assert not report.ok
    (problem,) = report.problems
    assert problem.startswith(f"{tree}: {len(folders)} folders that held patches when verify last passed (")
    assert f"{FALL}/{folders[0]}, {FALL}/{folders[1]}, " in problem
    assert problem.endswith(f"are gone; restore them, or, if they were removed on purpose, run "
                            f"`sen12ms verify --root {tree} --accept-removed`")
    assert n_fall > 0
    # the way out: accepted once, then an ordinary root of three seasons
    assert verify_tree(tree, accept_removed=True, quiet=True).ok
    assert verify_tree(tree, quiet=True).ok


def test_accept_removed_from_the_command_line(tree, capsys):
    assert main(["verify", "--root", str(tree), "--quiet"]) == 0
    shutil.rmtree(tree / FALL)
    assert main(["verify", "--root", str(tree)]) == 1
    assert "--accept-removed" in capsys.readouterr().out
    assert main(["verify", "--root", str(tree), "--accept-removed"]) == 0
    assert main(["verify", "--root", str(tree)]) == 0


def test_a_season_removed_from_a_downloaded_root(tmp_path, http_mirror):
    root = tmp_path / "SEN12MS"
    assert main(["download", "--root", str(root), "--mirror", http_mirror.url, "--checksums",
                 http_mirror.url + MANIFEST_NAME, "--extract", "--quiet"]) == 0
    assert check_root(root).ok
    shutil.rmtree(root / FALL)
    report = check_root(root)  # the adapters' check too
    gone = [n for n in facts.ARCHIVE_MD5 if n.startswith(FALL)]
    (problem,) = [p for p in report.problems if "extracted" in p]
    assert problem == (f"{root}: {len(gone)} of the 12 archives recorded as downloaded here are not extracted as "
                       f"recorded ({', '.join(sorted(gone))}: folders gone); complete the download with "
                       f"`sen12ms download --root {root} --extract`")
    assert not any("verify last passed" in p for p in report.problems)  # said once, by the download record


def test_scene_folders_without_their_partners(tree):
    scene = build_index(tree).triplets[0].scene_id
    s2 = tree / scene.dirname("s2")
    shutil.rmtree(s2)
    for sensor in ("s1", "lc"):  # left empty, as after deleting their files
        for path in (tree / scene.dirname(sensor)).iterdir():
            path.unlink()
    report = verify_tree(tree, accept_removed=True, quiet=True)
    assert report.problems == [(f"{tree}: 1 scene has folders of some sensors only ({scene.season}/"
                                f"s1_{scene.scene}/ and lc_{scene.scene}/ without s2_{scene.scene}/)")]
