"""A partial download made on purpose is used as it is; an interrupted one is finished only as far as it was asked.

``sen12ms download --seasons ... --sensors ...`` records its request in the root's
bookkeeping (``.sen12ms/selection.json``).  The TFDS and Hugging Face builders build from
exactly what was selected and, with ``download=True``, fetch only what that request still
lacks.  A real HTTP mirror of the sample archives on loopback (the ``http_mirror`` fixture).
"""

from __future__ import annotations

import json
import shutil

import pytest
import tensorflow_datasets as tfds

import sen12ms_plugins.tfds  # noqa: F401  (registers the builder)
from sen12ms_plugins.cli import main
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.root import ENV_VAR
from sen12ms_plugins.dataset.splits import SPLITS, compute_splits
from sen12ms_plugins.demo.sample import MANIFEST_NAME
from sen12ms_plugins.errors import RootError
from sen12ms_plugins.hf import Sen12ms

SPRING_FALL = ("ROIs1158_spring", "ROIs1970_fall")
#: The sample's hold-out scenes hold 8 spring and 8 fall patches (2 scenes x 4 each).
SPRING_FALL_HOLDOUT = 16


@pytest.fixture(autouse=True)
def _no_root_from_environment(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def _cli_download(root, mirror, *choices: str) -> int:
    return main(["download", "--root", str(root), "--mirror", mirror.url, "--checksums", mirror.url + MANIFEST_NAME,
                 "--extract", "--quiet", *choices])


def _archive_requests(mirror) -> list[str]:
    return sorted(r.name for r in mirror.requests() if r.name != MANIFEST_NAME)


def _from(mirror) -> dict:
    return {"mirrors": [mirror.url], "checksums": mirror.url + MANIFEST_NAME}


def _ids_of_seasons(sample_root, seasons) -> list[str]:
    return sorted(p.name for p in build_index(sample_root).triplets if p.season in seasons)


def test_partial_download_on_purpose_is_used_as_it_is(tmp_path, http_mirror, sample_root, capsys):
    root = tmp_path / "SEN12MS"
    assert _cli_download(root, http_mirror, "--seasons", "fall,spring") == 0
    record = json.loads((root / ".sen12ms" / "selection.json").read_text())
    assert record["archives"] == ["ROIs1158_spring_s1.tar.gz", "ROIs1158_spring_s2.tar.gz",
                                  "ROIs1158_spring_lc.tar.gz", "ROIs1970_fall_s1.tar.gz", "ROIs1970_fall_s2.tar.gz",
                                  "ROIs1970_fall_lc.tar.gz"]
    assert (record["seasons"], record["sensors"]) == (["spring", "fall"], None)
    assert sorted(p.name for p in build_index(root).triplets) == _ids_of_seasons(sample_root, SPRING_FALL)
    core = compute_splits(build_index(root))
    assert len(core["holdout"]) == SPRING_FALL_HOLDOUT
    http_mirror.clear()

    # TFDS, not asked to download: builds from the two seasons, fetches nothing.
    plain = tfds.builder("sen12ms/s2", data_dir=tmp_path / "tfds", root=str(root), **_from(http_mirror))
    plain.download_and_prepare()
    assert {s: plain.info.splits[s].num_examples for s in SPLITS} == {s: len(core[s]) for s in SPLITS}
    # Asked to download: nothing of the request is missing, so no mirror is contacted.
    asked = tfds.builder("sen12ms/s1s2", data_dir=tmp_path / "tfds", root=str(root), download=True,
                         **_from(http_mirror))
    asked.download_and_prepare()
    assert {s: asked.info.splits[s].num_examples for s in SPLITS} == {s: len(core[s]) for s in SPLITS}
    # The Hugging Face builder, asked to download, the same.
    hf = Sen12ms(config_name="s2", root=root, download=True, cache_dir=str(tmp_path / "hf"), **_from(http_mirror))
    hf.download_and_prepare()
    assert sorted(hf.as_dataset(split="holdout")["id"]) == sorted(p.name for p in core["holdout"])
    assert http_mirror.log == []
    assert "downloading SEN12MS" not in capsys.readouterr().err


def test_interrupted_partial_download_is_finished_as_asked_and_no_further(tmp_path, http_mirror, sample_root, capsys):
    broken = "ROIs1158_spring_s2.tar.gz"
    root = tmp_path / "SEN12MS"
    http_mirror.add_fault(broken, "status", times=None, status=404)
    assert _cli_download(root, http_mirror, "--seasons", "spring") == 1
    http_mirror.clear()
    stranded = tmp_path / "for-hf"
    shutil.copytree(root, stranded)  # the same interrupted state, bookkeeping included, for the HF builder
    capsys.readouterr()

    # Not asked to download: an error with the command that finishes the request.
    with pytest.raises(RootError, match=rf"complete it with `sen12ms download --root {root} --seasons spring "
                                        r"--extract`"):
        tfds.builder("sen12ms/s2", data_dir=tmp_path / "tfds", root=str(root)).download_and_prepare()
    with pytest.raises(RootError, match=rf"1 of the 3 archives .* are not extracted \({broken}\)"):
        Sen12ms(root=stranded, cache_dir=str(tmp_path / "hf"))
    assert http_mirror.log == []

    # Asked to: the one missing archive of the request is fetched; summer, fall and winter are not.
    builder = tfds.builder("sen12ms/s2", data_dir=tmp_path / "tfds", root=str(root), download=True, **_from(http_mirror))
    builder.download_and_prepare()
    assert _archive_requests(http_mirror) == [broken]
    spring = _ids_of_seasons(sample_root, ("ROIs1158_spring",))
    assert sorted(p.name for p in build_index(root).triplets) == spring
    assert sum(builder.info.splits[s].num_examples for s in ("holdout", "train")) == len(spring)
    said = capsys.readouterr().err.splitlines()
    assert said[0] == (f"sen12ms: downloading SEN12MS into {root}: 3 of the 12 archives (ROIs1158_spring_s1.tar.gz, "
                       "ROIs1158_spring_s2.tar.gz, ROIs1158_spring_lc.tar.gz); archive sizes are not published: all "
                       "12 are about 510 GB; 1 of them still to download or extract")

    http_mirror.clear()
    hf = Sen12ms(config_name="s2", root=stranded, download=True, cache_dir=str(tmp_path / "hf"), **_from(http_mirror))
    assert http_mirror.log == [], "the constructor fetches nothing"
    hf.download_and_prepare()
    assert _archive_requests(http_mirror) == [broken]
    assert sorted([*hf.as_dataset(split="holdout")["id"], *hf.as_dataset(split="train")["id"]]) == spring


def test_download_true_on_an_empty_root_says_how_much_first(tmp_path, http_mirror, sample_root, capsys):
    root = tmp_path / "new"
    builder = Sen12ms(config_name="s2", root=root, download=True, cache_dir=str(tmp_path / "hf"), **_from(http_mirror))
    assert not root.exists()
    builder.download_and_prepare()
    said = capsys.readouterr().err.splitlines()
    assert said[0] == f"sen12ms: downloading SEN12MS into {root}: all 12 archives, about 510 GB"
    assert len(_archive_requests(http_mirror)) == 12
    assert sorted(builder.as_dataset(split="holdout")["id"]) == sorted(
        p.name for p in compute_splits(build_index(sample_root))["holdout"])
