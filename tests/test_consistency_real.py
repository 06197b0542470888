"""One truth across the ecosystems on the real file layout with 8-bit land cover.

``sen12ms demo --layout real --lc-dtype uint8`` runs in its own process as a user runs it
(the second demo of the suite, beside tests/test_consistency.py's on the default layout).
The tests check, independently of the demo's verdict, that the files it downloaded are in
the real layout, that every ecosystem returned the core's ids and byte-identical pixels,
and that the core's pixels are what rasterio reads from those files (uint8 land cover
widened to the one uint16 the ecosystems carry).
"""

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import rasterio

from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import parse_patch_id
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import DFC2020_SPLITS, SPLITS, compute_splits
from sen12ms_plugins.demo.crosscheck import _digest, fingerprint, from_core
from sen12ms_plugins.reading import fastread

from .demo_report import assert_every_ecosystem_is_the_core
from .dfc2020_fixtures import as_uint8, zip_arrays, zip_labels

PATCH_SIZE = 16


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo-real")
    report = work / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "sen12ms_plugins.cli", "demo", "--workdir", str(work / "w"), "--patch-size",
         str(PATCH_SIZE), "--patches-per-scene", "3", "--layout", "real", "--lc-dtype", "uint8",
         "--dfc2020-s1-dtype", "float64", "--dfc2020-dtype", "int32", "--dfc2020-structure", "sensor", "--report",
         str(report), "--quiet"],
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert report.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return done, json.loads(report.read_text()), work / "w" / "SEN12MS"


def test_demo_ends_ok(demo):
    done, report, _ = demo
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert report["ok"] and not report["problems"]
    assert [s["ok"] for s in report["steps"]] == [True] * 9
    assert "real layout, lc uint8" in report["steps"][0]["detail"]
    assert "fast reader" not in done.stderr  # the real layout is read by the fast path throughout


def test_the_downloaded_files_are_in_the_real_layout(demo):
    _, _, root = demo
    triplets = build_index(root).triplets
    assert len(triplets) == 20 * 3  # the damaged patch included: it is in the tree, in no split
    for pid in triplets:
        for sensor, rows in (("s1", 4), ("s2", 1), ("lc", 8)):
            layout = fastread.read_layout(pid.path(root, sensor))
            assert (layout.interleave, layout.rows_per_strip) == ("pixel", rows)
        with rasterio.open(pid.path(root, "lc")) as src:
            assert src.dtypes == ("uint8",) * 4 and src.nodata is None
            assert src.transform.c % 1 != 0


def test_every_ecosystem_returns_the_core_ids_and_pixels(demo):
    _, report, root = demo
    splits = compute_splits(build_index(root))
    for split in SPLITS:
        expected = sorted(p.name for p in splits[split])
        results = report["results"][split]
        assert_every_ecosystem_is_the_core(results, split, expected)
        assert results["tfds"]["fields"] == results["hf"]["fields"] == ["igbp", "labels", "lc", "s1", "s2", "season"]


def test_reference_pixels_are_the_files(demo):
    _, report, root = demo
    ids = [parse_patch_id(i) for i in report["results"]["train"]["core"]["ids"]]
    by_core = fingerprint(from_core(root, ids))
    for pid in ids[:6]:
        with rasterio.open(pid.path(root, "lc")) as src:
            lc = src.read()
        assert lc.dtype == np.uint8
        widened = lc.astype(np.uint16)  # the one dtype every ecosystem carries (facts.DTYPES)
        assert facts.DTYPES["lc"] == "uint16"
        assert by_core.digests[pid.name]["lc"] == _digest(widened)
        assert by_core.digests[pid.name]["igbp"] == _digest(widened[0])
        with rasterio.open(pid.path(root, "s1")) as src:
            assert by_core.digests[pid.name]["s1"] == _digest(src.read())
    assert by_core.sha256 == report["results"]["train"]["core"]["sha256"]


def test_the_wide_dfc2020_variant_agrees_everywhere_and_is_the_zips_content(demo):
    """The demo's DFC2020 zips here hold s1 float64 and int32 labels, each zip only its sensor
    folder: every ecosystem returns the core's patches, and those are the zips' values in
    SEN12MS's dtypes (float32 S1, uint8 labels)."""
    _, report, root = demo
    zips = root.parent / "dfc2020-zips"
    with zipfile.ZipFile(zips / "s1_0.zip") as archive:
        assert archive.namelist()[0] == "s1_0/"  # no ROIs0000_test/ folder at the top
    splits = compute_splits(build_index(root))
    for split, folder in DFC2020_SPLITS.items():
        results = report["results"][split]
        assert_every_ecosystem_is_the_core(results, split, sorted(p.name for p in splits[split]))
        labels = zip_labels(zips, folder)
        s1 = zip_arrays(zips / facts.dfc2020_zip_name(folder, "s1"))
        assert next(iter(labels.values())).dtype == np.int32 and next(iter(s1.values())).dtype == np.float64
        by_core = fingerprint(from_core(root, splits[split]))
        for name, digests in by_core.digests.items():
            n = int(name.rsplit("_p", 1)[1])
            assert digests["dfc"] == _digest(as_uint8(labels[n]))
            assert digests["s1"] == _digest(s1[n].astype(np.float32))
