"""The TFDS builder against the core: same members per split, same pixels, no widening,
``train`` stored once, the root rule, TF-free random access, clean failures.

One prepared dataset per file format is shared by the module (TensorFlow is slow
to import and each build reads every sample file).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

import sen12ms_plugins.tfds  # noqa: F401  (registers the builder)
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import PatchId
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.root import ENV_VAR
from sen12ms_plugins.dataset.splits import SPLITS, compute_splits
from sen12ms_plugins.demo.sample import make_sample
from sen12ms_plugins.errors import PatchFileError
from sen12ms_plugins.reading.reader import read_triplet
from sen12ms_plugins.tfds.sen12ms_dataset_builder import TRAIN_PARTS

from . import crafted

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_root_from_environment(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture(scope="module")
def core_splits(sample_root):
    return compute_splits(build_index(sample_root))


def _prepare(data_dir: Path, root: Path, config: str = "all", **kwargs) -> tfds.core.DatasetBuilder:
    builder = tfds.builder(f"sen12ms/{config}", data_dir=data_dir, root=str(root))
    builder.download_and_prepare(**kwargs)
    return builder


@pytest.fixture(scope="module")
def tfrecord_dir(sample_root, tmp_path_factory) -> Path:
    """The sample prepared in TFDS's default format (what tfds.load reads)."""
    data_dir = tmp_path_factory.mktemp("tfds_tfrecord")
    os.environ.pop(ENV_VAR, None)
    _prepare(data_dir, sample_root)
    return data_dir


@pytest.fixture(scope="module")
def array_record_dir(sample_root, tmp_path_factory) -> Path:
    """The sample prepared as array_record (what tfds.data_source reads)."""
    data_dir = tmp_path_factory.mktemp("tfds_array_record")
    os.environ.pop(ENV_VAR, None)
    _prepare(data_dir, sample_root, file_format="array_record")
    return data_dir


def _load(data_dir: Path, split: str, config: str = "all") -> list[dict]:
    return list(tfds.as_numpy(tfds.load(f"sen12ms/{config}", split=split, data_dir=data_dir)))


def _ids(examples) -> list[str]:
    return [e["id"].decode() if isinstance(e["id"], bytes) else e["id"] for e in examples]


# --- members and pixels -----------------------------------------------------------------


@pytest.mark.parametrize("split", SPLITS)
def test_load_gives_exactly_the_core_members(tfrecord_dir, core_splits, split):
    ids = _ids(_load(tfrecord_dir, split))
    expected = [pid.name for pid in core_splits[split]]
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == set(expected)


def test_split_infos_count_the_core_members(tfrecord_dir, core_splits):
    builder = tfds.builder("sen12ms", data_dir=tfrecord_dir)
    assert list(builder.info.splits) == list(SPLITS)
    for split in SPLITS:
        assert builder.info.splits[split].num_examples == len(core_splits[split]), split
    # The sample holds every kind of member, and the damaged patch, which no split takes.
    assert all(len(core_splits[s]) > 0 for s in SPLITS)
    damaged = PatchId(*facts.DAMAGED_PATCH)
    assert damaged in core_splits.index.triplets
    assert builder.info.splits["train"].num_examples + builder.info.splits["holdout"].num_examples == (
        len(core_splits.index.triplets) - 1)


#: TFDS's season class names, in class order.
SEASON_NAMES = ["spring", "summer", "fall", "winter"]


def _rasterio_read(path: Path) -> np.ndarray:
    """The file as rasterio reads it (not the package's reader)."""
    import rasterio

    with rasterio.open(path) as src:
        return src.read()


def test_pixels_equal_the_files(tfrecord_dir, sample_root):
    """Every image array of holdout and train is the file's bytes, read by rasterio; igbp is lc band 1."""
    examples = _load(tfrecord_dir, "holdout") + _load(tfrecord_dir, "train")
    assert len(examples) == 28 + 51  # the sample: 7 hold-out scenes x 4 patches; 52 others less the damaged one
    dtypes = {"s1": np.float32, "s2": np.uint16, "lc": np.uint16}
    for example in examples:
        season, scene, patch = crafted.key_of(example["id"].decode())
        assert (SEASON_NAMES[example["season"]], example["scene"], example["patch"]) == (
            season.split("_")[1], scene, patch)
        for sensor, dtype in dtypes.items():
            path = sample_root / season / f"{sensor}_{scene}" / f"{season}_{sensor}_{scene}_p{patch}.tif"
            truth = _rasterio_read(path)
            assert example[sensor].dtype == dtype
            np.testing.assert_array_equal(example[sensor], np.moveaxis(truth, 0, -1), err_msg=example["id"])
        np.testing.assert_array_equal(example["igbp"], example["lc"][:, :, 0])


@pytest.fixture(scope="module")
def crafted_dirs(crafted_root, tmp_path_factory) -> dict[str, Path]:
    """The crafted root (tests/crafted.py) prepared in both file formats."""
    os.environ.pop(ENV_VAR, None)
    dirs = {}
    for file_format in ("tfrecord", "array_record"):
        dirs[file_format] = tmp_path_factory.mktemp(f"tfds_crafted_{file_format}")
        _prepare(dirs[file_format], crafted_root, file_format=file_format)
    return dirs


def test_crafted_examples_field_by_field(crafted_dirs):
    """Every field of every crafted triplet, against what was written and what it must give,
    worked out by hand (tests/crafted.py)."""
    seen = []
    for split in SPLITS:
        examples = _load(crafted_dirs["tfrecord"], split)
        assert sorted(_ids(examples)) == sorted(crafted.SPLIT_MEMBERS[split]), split
        for example in examples:
            key = crafted.key_of(example["id"].decode())
            p = crafted.PATCHES[key]
            seen.append(key)
            assert (SEASON_NAMES[example["season"]], example["scene"], example["patch"]) == (
                key[0].split("_")[1], key[1], key[2])
            assert (example["lon"], example["lat"]) == pytest.approx(p["lonlat"], abs=1e-9)
            for sensor, make in (("s1", crafted.s1_pixels), ("s2", crafted.s2_pixels), ("lc", crafted.lc_pixels)):
                np.testing.assert_array_equal(example[sensor], np.moveaxis(make(key), 0, -1), err_msg=f"{key} {sensor}")
            assert example["igbp"].dtype == np.uint16 and example["dfc"].dtype == np.uint8
            np.testing.assert_array_equal(example["igbp"], p["igbp"])
            np.testing.assert_array_equal(example["dfc"], p["dfc"])
            assert example["label"] == p["single"], key
            assert example["labels"].dtype == np.bool_ and list(np.flatnonzero(example["labels"])) == p["multi"], key
    assert crafted.DAMAGED not in seen and len(set(seen)) == 8  # every triplet but the damaged one


def _tfds_order(split: str, ids: list[str]) -> list[str]:
    """TFDS's documented generation order: examples sorted by a hash of their key, here
    int(md5(<split name> + <key>)) (tensorflow_datasets.core.hashing, salted with the split
    name), ascending; the key is the patch id."""
    return sorted(ids, key=lambda key: int(hashlib.md5((split + key).encode()).hexdigest(), 16))


def test_split_order_is_tfds_key_hash_order(crafted_dirs):
    """TFDS returns each split in its own deterministic order -- neither the dataset order nor
    the S2 file-name order: ascending md5(split + patch id), the same in both file formats and
    with tfds.load and tfds.data_source; ``train`` is ``train_minus_validation``'s examples,
    then ``validation``'s."""
    expected = {  # md5 order, worked out with hashlib on the ids of tests/crafted.py
        "holdout": ["ROIs1158_spring_124_p30", "ROIs1158_spring_124_p5", "ROIs1158_spring_124_p100",
                    "ROIs1158_spring_124_p7"],
        "train_minus_validation": ["ROIs1868_summer_146_p203", "ROIs1158_spring_9_p3"],
        "validation": ["ROIs1158_spring_45_p1", "ROIs1158_spring_45_p2"],
    }
    expected["train"] = expected["train_minus_validation"] + expected["validation"]
    for split in ("train_minus_validation", "validation", "holdout"):
        assert expected[split] == _tfds_order(split, crafted.SPLIT_MEMBERS[split])
    for split in SPLITS:
        assert _ids(_load(crafted_dirs["tfrecord"], split)) == expected[split], split
        source = tfds.data_source("sen12ms", split=split, data_dir=crafted_dirs["array_record"])
        assert [source[i]["id"].decode() for i in range(len(source))] == expected[split], split


def test_s2_config_holds_only_s2_and_the_labels(tmp_path, sample_root, core_splits):
    _prepare(tmp_path, sample_root, config="s2")
    example = _load(tmp_path, "validation", config="s2")[0]
    pid = next(p for p in core_splits["validation"] if p.name == example["id"].decode())
    arrays = read_triplet(sample_root, pid)
    np.testing.assert_array_equal(example["s2"], np.moveaxis(arrays["s2"], 0, -1))
    np.testing.assert_array_equal(example["igbp"], arrays["lc"][0])
    assert "s1" not in example and "lc" not in example
    assert {"label", "labels", "dfc", "lon"} <= set(example)


def test_integers_are_not_widened(tfrecord_dir, array_record_dir):
    builder = tfds.builder("sen12ms", data_dir=tfrecord_dir)
    spec = tfds.load("sen12ms", split="holdout", data_dir=tfrecord_dir).element_spec
    assert (spec["s2"].dtype.name, spec["lc"].dtype.name, spec["s1"].dtype.name) == ("uint16", "uint16", "float32")
    assert (spec["igbp"].dtype.name, spec["dfc"].dtype.name) == ("uint16", "uint8")
    # On disk: the feature description records uint16 stored as raw bytes, not int64.
    stored = json.loads((Path(builder.data_dir) / "features.json").read_text())
    s2 = stored["featuresDict"]["features"]["s2"]["tensor"]
    assert (s2["dtype"], s2["encoding"]) == ("uint16", "bytes")
    example = tfds.data_source("sen12ms", split="holdout", data_dir=array_record_dir)[0]
    assert (example["s2"].dtype, example["lc"].dtype, example["s1"].dtype) == (np.uint16, np.uint16, np.float32)


def test_supervised_keys(tfrecord_dir, tmp_path, sample_root):
    inputs, mask = next(iter(tfds.as_numpy(
        tfds.load("sen12ms", split="holdout", data_dir=tfrecord_dir, as_supervised=True))))
    assert set(inputs) == {"s1", "s2"} and mask.dtype == np.uint16 and mask.shape == inputs["s2"].shape[:2]
    _prepare(tmp_path, sample_root, config="s2")
    image, mask = next(iter(tfds.as_numpy(
        tfds.load("sen12ms/s2", split="holdout", data_dir=tmp_path, as_supervised=True))))
    assert image.shape[-1] == len(facts.BANDS["s2"]) and mask.shape == image.shape[:2]


# --- train stored once ------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["tfrecord_dir", "array_record_dir"])
def test_train_shards_are_the_parts_shards(request, fixture):
    builder = tfds.builder("sen12ms", data_dir=request.getfixturevalue(fixture))
    splits = builder.info.splits
    train_files = splits["train"].filepaths
    part_files = [path for name in TRAIN_PARTS for path in splits[name].filepaths]
    assert len(train_files) == len(part_files)
    for train_file, part_file in zip(train_files, part_files):
        assert os.path.samefile(train_file, part_file), (train_file, part_file)
    assert splits["train"].shard_lengths == [n for name in TRAIN_PARTS for n in splits[name].shard_lengths]
    # Disk usage: every byte of the folder belongs to exactly one inode.
    inodes = {os.stat(p).st_ino for p in Path(builder.data_dir).iterdir()}
    assert len(inodes) == len(list(Path(builder.data_dir).iterdir())) - len(train_files)


# --- without this package, without TensorFlow -------------------------------------------


def _run_python(*parts: str) -> subprocess.CompletedProcess:
    code = "\n".join(textwrap.dedent(part) for part in parts)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    env.pop(ENV_VAR, None)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_prepared_dataset_loads_without_this_package(tfrecord_dir, core_splits):
    expected = {split: sorted(pid.name for pid in core_splits[split]) for split in SPLITS}
    result = _run_python(f"""
        import json, sys
        import tensorflow_datasets as tfds
        builder = tfds.builder("sen12ms", data_dir={str(tfrecord_dir)!r})
        ids = {{s: sorted(e["id"].decode() for e in tfds.as_numpy(tfds.load("sen12ms", split=s,
                data_dir={str(tfrecord_dir)!r}))) for s in builder.info.splits}}
        counts = {{s: builder.info.splits[s].num_examples for s in builder.info.splits}}
        assert not any(m.startswith("sen12ms_plugins") for m in sys.modules), "sen12ms_plugins was imported"
        print(json.dumps({{"ids": ids, "counts": counts, "builder": type(builder).__name__}}))
    """)
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["builder"] == "ReadOnlyBuilder"
    assert out["ids"] == expected
    assert out["counts"] == {split: len(ids) for split, ids in expected.items()}


# Where TensorFlow is not installed, no finder finds it: `import tensorflow` fails and
# importlib.util.find_spec("tensorflow") is None (TFDS and etils check both).
_HIDE_TENSORFLOW = """
    import sys
    class _WithoutTensorFlow:
        def __init__(self, finder):
            self.finder = finder
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                return None
            return self.finder.find_spec(name, path, target)
        def __getattr__(self, attr):
            return getattr(self.finder, attr)
    sys.meta_path[:] = [_WithoutTensorFlow(f) if hasattr(f, "find_spec") else f for f in sys.meta_path]
    import importlib.util
    assert importlib.util.find_spec("tensorflow") is None
"""
_ASSERT_NO_TENSORFLOW = """
    loaded = sorted(m for m, module in sys.modules.items()
                    if module is not None and (m == "tensorflow" or m.startswith("tensorflow.")))
    assert not loaded, f"TensorFlow was imported: {loaded[:5]}"
"""


@pytest.mark.parametrize("tensorflow", ["absent", "installed"])
@pytest.mark.parametrize("with_package", [False, True], ids=["read-only", "with-import"])
def test_data_source_without_tensorflow(array_record_dir, sample_root, core_splits, with_package, tensorflow,
                                        tmp_path):
    pid = core_splits["holdout"][0]
    result = _run_python(_HIDE_TENSORFLOW if tensorflow == "absent" else "import sys", f"""
        import json
        {"import sen12ms_plugins.tfds" if with_package else ""}
        import numpy as np
        import tensorflow_datasets as tfds
        sources = {{s: tfds.data_source("sen12ms", split=s, data_dir={str(array_record_dir)!r})
                   for s in {list(SPLITS)!r}}}
        holdout = sources["holdout"]
        by_id = {{holdout[i]["id"].decode(): i for i in range(len(holdout))}}
        np.save({str(tmp_path / "s2.npy")!r}, holdout[by_id[{pid.name!r}]]["s2"])  # random access
        ids = {{s: sorted(src[i]["id"].decode() for i in range(len(src))) for s, src in sources.items()}}
        print(json.dumps(ids))
    """, _ASSERT_NO_TENSORFLOW)
    ids = json.loads(result.stdout.splitlines()[-1])
    assert ids == {split: sorted(p.name for p in core_splits[split]) for split in SPLITS}
    s2 = np.load(tmp_path / "s2.npy")
    np.testing.assert_array_equal(s2, np.moveaxis(read_triplet(sample_root, pid, {"s2": None})["s2"], 0, -1))


# --- where the data comes from ----------------------------------------------------------


@pytest.fixture(scope="module")
def small_roots(tmp_path_factory) -> dict[str, Path]:
    """Three sample trees told apart by their size: 1, 2 and 3 patches per scene."""
    base = tmp_path_factory.mktemp("roots")
    roots = {}
    for n, name in enumerate(["explicit", "environment", "manual"], start=1):
        roots[name] = base / name
        make_sample(roots[name], patch_size=8, patches_per_scene=n)
    return roots


def _holdout_count(root: Path) -> int:
    return len(compute_splits(build_index(root))["holdout"])


@pytest.mark.parametrize(
    "given, expected",
    [
        (("explicit", "environment", "manual"), "explicit"),
        (("environment", "manual"), "environment"),
        (("manual",), "manual"),
    ],
)
def test_root_rule(tmp_path, monkeypatch, small_roots, given, expected):
    if "environment" in given:
        monkeypatch.setenv(ENV_VAR, str(small_roots["environment"]))
    root = str(small_roots["explicit"]) if "explicit" in given else None
    builder = tfds.builder("sen12ms/s2", data_dir=tmp_path, root=root)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(small_roots["manual"]))
    )
    assert builder.info.splits["holdout"].num_examples == _holdout_count(small_roots[expected])
    assert len({_holdout_count(r) for r in small_roots.values()}) == 3  # the roots are told apart


# --- failures ---------------------------------------------------------------------------


def test_corrupt_patch_fails_naming_the_file_and_leaves_no_dataset(tmp_path, sample_root, copy_tree, core_splits):
    root = copy_tree(sample_root)
    victim = core_splits["validation"][0].path(root, "s2")
    victim.write_bytes(b"not a GeoTIFF")
    builder = tfds.builder("sen12ms", data_dir=tmp_path / "out", root=str(root))
    with pytest.raises(PatchFileError, match=str(victim)):
        builder.download_and_prepare()
    assert not Path(builder.data_dir).exists()
    assert not builder.is_prepared()
