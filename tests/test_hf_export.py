"""``sen12ms export-hf``: a data-only directory that datasets 5.x loads, offline and streaming, with the core's splits."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from sen12ms_plugins.cli import main
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import parse_patch_id
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import SPLITS, compute_splits
from sen12ms_plugins.errors import EmptySplitError, PatchFileError
from sen12ms_plugins.hf.export import STAMP_KEY, ExportError, export_hf, read_stamp
from sen12ms_plugins.hf.features import hf_features, table_to_numpy
from sen12ms_plugins.reading.configs import CONFIGS, get_config
from sen12ms_plugins.reading.examples import read_example
from sen12ms_plugins.reading.reader import read_triplet

from .conftest import TEST_PATCH_SIZE

# Small shards so that every split of the 80-triplet sample has several; small row groups too.
SHARD_SIZE = 200_000
ROW_GROUP_SIZE = 200_000  # two "all" triplets of 32x32 px (Parquet stores uint16 as INT32)
SHARD_NAME = re.compile(r"(\w+?)-(\d{5})-of-(\d{5})\.parquet")


@pytest.fixture(scope="module")
def core_splits(sample_root):
    return compute_splits(build_index(sample_root))


@pytest.fixture(scope="module")
def export_dir(sample_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("hf-export") / "sen12ms-hf"
    report = export_hf(sample_root, out, shard_size=SHARD_SIZE, row_group_size=ROW_GROUP_SIZE, quiet=True)
    assert report.written == sum(len(s) for c in report.shards.values() for s in c.values())
    assert report.reused == 0
    return out


def _card(out: Path) -> dict:
    text = (out / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def _load(out: Path, config: str, split: str) -> datasets.Dataset:
    return datasets.load_dataset(str(out), config, split=split)


def test_layout_and_shard_names(export_dir, core_splits):
    files = sorted(p.relative_to(export_dir).as_posix() for p in export_dir.rglob("*") if p.is_file())
    assert "README.md" in files
    shards = [f for f in files if f != "README.md"]
    assert not any(Path(f).name.startswith(".") for f in files), "no temporary or lock file is left"
    for config in CONFIGS:
        names = [Path(f).name for f in shards if f.startswith(f"data/{config}/")]
        assert names, config
        by_split: dict[str, list[tuple[int, int]]] = {}
        for name in names:
            m = SHARD_NAME.fullmatch(name)
            assert m, name
            by_split.setdefault(m[1], []).append((int(m[2]), int(m[3])))
        # train is not stored: its two parts are
        assert sorted(by_split) == ["holdout", "train_minus_validation", "validation"]
        for split, numbers in by_split.items():
            count = numbers[0][1]
            assert sorted(numbers) == [(i, count) for i in range(count)], split
        assert by_split["holdout"][0][1] > 1  # the small shard size did cut the split
        rows = {split: sum(pq.read_metadata(export_dir / "data" / config / n).num_rows
                           for n in names if n.startswith(f"{split}-")) for split in by_split}
        assert rows == {s: len(core_splits[s]) for s in by_split}


def test_row_groups_are_bounded(export_dir):
    for path in export_dir.rglob("*.parquet"):
        meta = pq.read_metadata(path)
        assert meta.num_row_groups >= 1
        for i in range(meta.num_row_groups):
            assert meta.row_group(i).total_byte_size <= ROW_GROUP_SIZE, path


def test_card_yaml_lists_every_split_per_config(export_dir):
    card = _card(export_dir)
    assert card["license"] == "cc-by-4.0"
    configs = {c["config_name"]: c for c in card["configs"]}
    assert list(configs) == list(CONFIGS)
    assert [c["config_name"] for c in card["configs"] if c.get("default")] == ["all"]
    for name, entry in configs.items():
        files = {d["split"]: d["path"] for d in entry["data_files"]}
        assert list(files) == list(SPLITS)
        for split in SPLITS:
            if split == "train":
                assert [p.split("/")[-1].split("-")[0] for p in files[split]] == ["train_minus_validation", "validation"]
            else:
                assert files[split].startswith(f"data/{name}/{split}-*-of-")
    infos = {i["config_name"]: i for i in card["dataset_info"]}
    for name in CONFIGS:
        assert datasets.Features._from_yaml_list(infos[name]["features"]) == hf_features(get_config(name), TEST_PATCH_SIZE)
        assert [s["name"] for s in infos[name]["splits"]] == list(SPLITS)
    body = (export_dir / "README.md").read_text(encoding="utf-8")
    assert facts.CITATION_BIBTEX.strip() in body
    assert 'load_dataset("PATH/TO/THIS/DIR"' in body
    assert "uint16" in body and "int64" in body


@pytest.mark.parametrize("config", list(CONFIGS))
def test_splits_features_dtypes_ids_equal_the_core(export_dir, core_splits, config):
    features = hf_features(get_config(config), TEST_PATCH_SIZE)
    loaded = datasets.load_dataset(str(export_dir), config)
    assert list(loaded) == list(SPLITS), "no split is dropped"
    for split in SPLITS:
        ds = loaded[split]
        assert ds.features == features
        expected = [p.name for p in core_splits[split]]
        if split == "train":  # stored as its parts, in that order
            expected = [p.name for part in ("train_minus_validation", "validation") for p in core_splits[part]]
            assert sorted(expected) == sorted(p.name for p in core_splits["train"])
        assert list(ds["id"]) == expected, split
    arrow = loaded["holdout"].data.table.schema
    for sensor in get_config(config).sensors:
        assert arrow.field(sensor).type.value_type == np.dtype(facts.DTYPES[sensor]), "uint16 stays uint16 on disk"


def test_pixels_equal_the_reader(export_dir, sample_root, core_splits):
    ds = _load(export_dir, "all", "holdout")
    rows = range(0, len(ds), 3)
    for i in rows:
        row = ds.with_format("numpy")[i]
        pid = parse_patch_id(row["id"])
        truth = read_triplet(sample_root, pid)
        np.testing.assert_array_equal(row["s1"], truth["s1"])  # NaN-aware
        np.testing.assert_array_equal(row["s2"], truth["s2"])
        np.testing.assert_array_equal(row["lc"], truth["lc"])
        np.testing.assert_array_equal(row["igbp"], truth["lc"][0])
        example = read_example(sample_root, pid, get_config("all"))
        assert (row["label"], row["season"], row["lon"], row["lat"]) == (
            example["label"], example["season"], example["lon"], example["lat"])
        np.testing.assert_array_equal(row["labels"], example["labels"])


def test_numpy_and_torch_formats_widen_uint16_and_table_to_numpy_keeps_it(export_dir, sample_root):
    import torch

    ds = _load(export_dir, "s2", "validation")
    row = ds.with_format("numpy")[0]
    assert row["s2"].dtype == np.int64 and row["dfc"].dtype == np.int64  # documented: widened
    trow = ds.with_format("torch")[0]
    assert trow["s2"].dtype == torch.int64
    batch = next(ds.with_format("arrow").iter(batch_size=4))
    arrays = table_to_numpy(batch)
    assert arrays["s2"].dtype == np.uint16 and arrays["s2"].shape == (4, 13, TEST_PATCH_SIZE, TEST_PATCH_SIZE)
    assert arrays["dfc"].dtype == np.uint8 and arrays["igbp"].dtype == np.uint16
    truth = read_triplet(sample_root, parse_patch_id(arrays["id"][1]))
    np.testing.assert_array_equal(arrays["s2"][1], truth["s2"])
    # a slice that does not start at row 0 (offsets inside the Arrow lists)
    sliced = table_to_numpy(ds.with_format("arrow")[2:4])
    np.testing.assert_array_equal(sliced["s2"][0], ds.with_format("numpy")[2]["s2"].astype(np.uint16))


def test_streaming(export_dir, core_splits):
    stream = datasets.load_dataset(str(export_dir), "s1s2", split="train", streaming=True)
    ids = [row["id"] for row in stream]
    assert sorted(ids) == sorted(p.name for p in core_splits["train"])
    first = next(iter(datasets.load_dataset(str(export_dir), split="holdout", streaming=True).with_format("numpy")))
    assert first["s2"].shape == (13, TEST_PATCH_SIZE, TEST_PATCH_SIZE)


def test_offline_load_in_a_fresh_process(export_dir, core_splits, tmp_path):
    code = (
        "import datasets, json, sys\n"
        "ds = datasets.load_dataset(sys.argv[1], split='holdout')\n"
        "print(json.dumps(list(ds['id'])))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run([sys.executable, "-c", code, str(export_dir)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [p.name for p in core_splits["holdout"]]


def test_resume_keeps_finished_shards_and_redoes_the_rest(sample_root, tmp_path):
    out = tmp_path / "hf"
    first = export_hf(sample_root, out, configs=["s2"], shard_size=SHARD_SIZE // 4, quiet=True)
    shards = sorted((out / "data" / "s2").glob("*.parquet"))
    assert len(shards) >= 4
    shards[0].unlink()                                   # lost
    shards[1].write_bytes(shards[1].read_bytes()[:100])  # truncated
    stale = out / "data" / "s2" / f".{shards[2].name}.999.tmp"
    stale.write_bytes(b"half a shard")                  # left by a killed run
    mtime = shards[3].stat().st_mtime_ns
    again = export_hf(sample_root, out, configs=["s2"], shard_size=SHARD_SIZE // 4, quiet=True)
    assert again.written == 2 and again.reused == first.written - 2
    assert shards[3].stat().st_mtime_ns == mtime
    assert not stale.exists()
    assert read_stamp(shards[1]) is not None
    ds = datasets.load_dataset(str(out), "s2")
    assert {k: len(v) for k, v in ds.items()} == {k: len(v) for k, v in
                                                  compute_splits(build_index(sample_root)).members.items()}


def test_other_shard_count_replaces_earlier_export(sample_root, tmp_path):
    out = tmp_path / "hf"
    export_hf(sample_root, out, configs=["s2"], shard_size=SHARD_SIZE // 4, quiet=True)
    many = len(list((out / "data" / "s2").glob("*.parquet")))
    export_hf(sample_root, out, configs=["s2"], shard_size=10**9, quiet=True)
    names = sorted(p.name for p in (out / "data" / "s2").glob("*.parquet"))
    assert len(names) == 3 < many
    assert all(n.endswith("-00000-of-00001.parquet") for n in names)
    stranger = out / "data" / "s2" / "notes.txt"
    stranger.write_text("mine")
    export_hf(sample_root, out, configs=["s2"], shard_size=10**9, quiet=True)
    assert stranger.read_text() == "mine", "files the export did not write are left alone"


def test_interrupted_export_is_resumed(sample_root, tmp_path):
    """Kill a real export process half-way, then run it again."""
    out = tmp_path / "hf"
    code = (
        "import sys; from sen12ms_plugins.hf.export import export_hf\n"
        "export_hf(sys.argv[1], sys.argv[2], configs=['all'], shard_size=40_000, quiet=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(sample_root), str(out)],
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    folder = out / "data" / "all"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(folder.glob("*.parquet"))) < 3:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = len(list(folder.glob("*.parquet")))
    assert finished >= 3
    assert not (out / "README.md").exists(), "an interrupted export has no dataset card"
    report = export_hf(sample_root, out, configs=["all"], shard_size=40_000, quiet=True)
    assert report.reused >= 3
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    ds = datasets.load_dataset(str(out), "all", split="train_minus_validation")
    assert list(ds["id"]) == [p.name for p in compute_splits(build_index(sample_root))["train_minus_validation"]]


def test_num_proc_2_writes_the_same_shards(sample_root, export_dir, tmp_path):
    out = tmp_path / "hf"
    report = export_hf(sample_root, out, configs=["s1s2"], num_proc=2, shard_size=SHARD_SIZE,
                       row_group_size=ROW_GROUP_SIZE, quiet=True)
    assert report.written > 2
    for path in (out / "data" / "s1s2").glob("*.parquet"):
        mine, theirs = pq.read_table(path), pq.read_table(export_dir / "data" / "s1s2" / path.name)
        assert mine.equals(theirs)
        assert pq.read_metadata(path).metadata[STAMP_KEY] == pq.read_metadata(
            export_dir / "data" / "s1s2" / path.name).metadata[STAMP_KEY]


def test_card_lists_configs_complete_from_an_earlier_run(sample_root, tmp_path):
    out = tmp_path / "hf"
    export_hf(sample_root, out, configs=["s2"], quiet=True)
    export_hf(sample_root, out, configs=["s1s2"], quiet=True)
    assert [c["config_name"] for c in _card(out)["configs"]] == ["s2", "s1s2"]
    assert [c["config_name"] for c in _card(out)["configs"] if c.get("default")] == ["s2"]
    assert len(datasets.load_dataset(str(out), "s2", split="holdout")) == len(datasets.load_dataset(
        str(out), "s1s2", split="holdout"))


def test_bad_patch_file_is_named_and_leaves_no_card(sample_root, copy_tree, tmp_path):
    root = copy_tree(sample_root)
    pid = compute_splits(build_index(root))["validation"][1]
    bad = pid.path(root, "s2")
    bad.write_bytes(b"not a tiff")
    out = tmp_path / "hf"
    with pytest.raises(PatchFileError) as info:
        export_hf(root, out, configs=["s2"], quiet=True)
    assert info.value.path == str(bad)
    with pytest.raises(PatchFileError, match=re.escape(str(bad))):  # the same from worker processes
        export_hf(root, out, configs=["s2"], num_proc=2, shard_size=SHARD_SIZE // 4, quiet=True)
    assert not (out / "README.md").exists()
    assert not [p for p in (out / "data" / "s2").iterdir() if p.name.startswith(".")]
    assert all(read_stamp(p) is not None for p in (out / "data" / "s2").glob("*.parquet"))


def test_root_without_triplets_is_an_error(tmp_path):
    # A partial root exports the splits it has (tests/test_hf_partial.py); none at all is an error.
    root = tmp_path / "root"
    (root / facts.SEASONS[0]).mkdir(parents=True)
    with pytest.raises(EmptySplitError, match="no complete SEN12MS triplet"):
        export_hf(root, tmp_path / "hf", quiet=True)
    assert not (tmp_path / "hf").exists()


def test_out_inside_root_is_refused(sample_root, copy_tree):
    root = copy_tree(sample_root)
    with pytest.raises(ExportError, match="must not go inside"):
        export_hf(root, root / "hf", quiet=True)


def test_second_export_into_the_same_directory_is_refused(sample_root, tmp_path):
    import fcntl

    out = tmp_path / "hf"
    out.mkdir()
    with open(out / ".sen12ms-export.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(ExportError, match="another export"):
            export_hf(sample_root, out, quiet=True)


def test_cli_export_hf(sample_root, tmp_path, capsys):
    out = tmp_path / "hf"
    assert main(["export-hf", "--root", str(sample_root), "--out", str(out), "--config", "s2", "-q",
                 "--shard-size", "0.2MB", "--row-group-size", "64KiB"]) == 0
    printed = capsys.readouterr().out
    core = compute_splits(build_index(sample_root))
    assert f"s2: train {len(core['train'])}, holdout {len(core['holdout'])}," in printed and "README.md" in printed
    assert len(list((out / "data" / "s2").glob("holdout-*.parquet"))) > 1
    with pytest.raises(SystemExit) as exit_info:
        main(["export-hf", "--root", str(sample_root), "--out", str(out), "--shard-size", "lots"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["export-hf", "--root", str(sample_root), "--out", str(out), "--config", "s3"])
    assert exit_info.value.code == 2
    assert main(["export-hf", "--root", str(tmp_path / "missing"), "--out", str(out)]) == 1
