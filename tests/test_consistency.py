"""One truth across the three ecosystems: the demo, run as a user runs it, and what it found.

``sen12ms demo`` builds the sample as archives, serves them on 127.0.0.1, downloads,
verifies, extracts, indexes and splits them, then reads every split through torchgeo,
TFDS and Hugging Face.  Here it runs in its own process (as the README's command
does) with a JSON report, and the tests check, independently of the demo's own
verdict, that every ecosystem returned the core's ids and byte-identical pixels.

The ids are compared as sets here: each ecosystem has its own documented order, pinned
on the hand-made root of tests/crafted.py by test_torchgeo.py::test_splits_without_list_files
(by S2 file name), test_tfds.py::test_split_order_is_tfds_key_hash_order (by md5 of split
name + patch id) and test_hf_builder.py::test_crafted_root_split_order_and_fields (dataset order).
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from sen12ms_plugins.dataset.ids import parse_patch_id
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import DFC2020_SPLITS, SPLITS, compute_splits
from sen12ms_plugins.demo.crosscheck import ECOSYSTEMS

from .demo_report import assert_every_ecosystem_is_the_core
from .dfc2020_fixtures import as_uint8, zip_labels


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    report = work / "report.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sen12ms_plugins.cli", "demo", "--workdir", str(work / "w"), "--patch-size", "32",
         "--patches-per-scene", "3", "--report", str(report)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    proc.stdout_text, proc.stderr_text = proc.communicate(timeout=900)
    return proc, json.loads(report.read_text()), work / "w"


#: What TensorFlow, absl and TFDS print on their own at start-up and preparation; none of it
#: belongs in the demo's report.
FRAMEWORK_NOISE = ("absl::InitializeLog", "oneDNN custom operations", "cpu_feature_guard",
                   "Downloading and preparing dataset", "downloaded and prepared to")


def test_demo_output_holds_no_framework_noise(demo):
    proc, _, _ = demo
    for line in (proc.stdout_text + proc.stderr_text).splitlines():
        assert not any(noise in line for noise in FRAMEWORK_NOISE), line


def _leftover_processes(session: int) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # the session id of the demo's process group
            found.append(pid)
    return found


def test_demo_ends_ok_and_leaves_nothing_running(demo):
    proc, report, _ = demo
    assert proc.returncode == 0, proc.stdout_text[-3000:] + proc.stderr_text[-3000:]
    assert proc.stdout_text.rstrip().splitlines()[-1].startswith("OK")
    assert report["ok"] and not report["problems"]
    assert [s["ok"] for s in report["steps"]] == [True] * 9
    assert _leftover_processes(proc.pid) == []  # start_new_session: the demo's pid is its session id


def test_default_work_folder_is_removed(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", "demo", "--patch-size", "16",
                           "--patches-per-scene", "1", "--quiet"],
                          capture_output=True, text=True, env={**os.environ, "TMPDIR": str(tmp_path)}, timeout=900,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert not list(tmp_path.glob("sen12ms-demo-*"))
    # what it printed says the folder is gone, and names no path inside it
    assert "the temporary work folder was removed; --keep" in proc.stdout
    assert str(tmp_path) not in proc.stdout


def test_keep_keeps_what_it_prints(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", "demo", "--patch-size", "16",
                           "--patches-per-scene", "1", "--quiet", "--keep"],
                          capture_output=True, text=True, env={**os.environ, "TMPDIR": str(tmp_path)}, timeout=900,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (work,) = tmp_path.glob("sen12ms-demo-*")
    assert f"work folder kept: {work}" in proc.stdout
    for printed in re.findall(rf"{re.escape(str(tmp_path))}[^ ,)]*", proc.stdout):
        assert Path(printed.rstrip(".")).exists(), printed
    assert (work / "analysis" / "map.png").is_file() and (work / "SEN12MS").is_dir()


def test_every_ecosystem_returns_the_core_ids(demo):
    _, report, work = demo
    splits = compute_splits(build_index(work / "SEN12MS"))
    for split in SPLITS:
        expected = sorted(p.name for p in splits[split])
        for ecosystem in ECOSYSTEMS:
            got = report["results"][split][ecosystem]
            assert got["ids"] == expected, (split, ecosystem)
            assert got["count"] == len(expected)


def test_pixels_are_byte_identical(demo):
    _, report, _ = demo
    for split in SPLITS:
        results = report["results"][split]
        for ecosystem in ECOSYSTEMS:
            assert results[ecosystem]["difference"] is None, (split, ecosystem, results[ecosystem]["difference"])
            assert results[ecosystem]["sha256"] == results["core"]["sha256"]
        # all four land-cover layers were compared where the ecosystem carries them
        # ... and the season class and multi-hot scene label of every patch
        assert results["tfds"]["fields"] == results["hf"]["fields"] == ["igbp", "labels", "lc", "s1", "s2", "season"]
        assert results["torchgeo"]["fields"] == ["igbp", "labels", "s1", "s2", "season"]


def test_reference_pixels_are_the_files(demo):
    """The core side of the comparison is what rasterio reads from the downloaded files."""
    from sen12ms_plugins.demo.crosscheck import _digest, fingerprint, from_core

    _, report, work = demo
    root = work / "SEN12MS"
    ids = [parse_patch_id(i) for i in report["results"]["holdout"]["core"]["ids"]]
    by_core = fingerprint(from_core(root, ids))
    for pid in ids[:5]:
        with rasterio.open(pid.path(root, "s2")) as src:
            s2 = src.read()
        with rasterio.open(pid.path(root, "lc")) as src:
            igbp = src.read(1)
        assert by_core.digests[pid.name]["s2"] == _digest(s2)
        assert by_core.digests[pid.name]["igbp"] == _digest(igbp.astype(np.uint16))
    assert by_core.sha256 == report["results"]["holdout"]["core"]["sha256"]


def test_demo_failure_is_reported(tmp_path):
    """A demo that cannot work (a non-empty work folder) says so and exits 1."""
    (tmp_path / "x").touch()
    proc = subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", "demo", "--workdir", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "work folder must be empty" in proc.stderr


def test_the_dfc2020_splits_agree_everywhere_and_are_the_zips_labels(demo):
    """The demo added its DFC2020-like zips (s1 float32, dfc uint8, the set's folder in each zip):
    both DFC2020 splits went through every ecosystem, and the core's masks are the zips' labels."""
    from sen12ms_plugins.demo.crosscheck import _digest, fingerprint, from_core

    _, report, work = demo
    steps = [s["step"] for s in report["steps"]]
    assert steps.index("add the DFC2020 zips") == steps.index("download from the local mirror and extract") + 1
    assert "s1 float32, dfc uint8, set folder at the top" in report["steps"][0]["detail"]
    splits = compute_splits(build_index(work / "SEN12MS"))
    for split, folder in DFC2020_SPLITS.items():
        expected = sorted(p.name for p in splits[split])
        results = report["results"][split]
        assert_every_ecosystem_is_the_core(results, split, expected)
        assert results["tfds"]["fields"] == results["hf"]["fields"] == ["dfc", "igbp", "labels", "lc", "s1", "s2",
                                                                        "season"]
        assert results["torchgeo"]["fields"] == ["dfc", "labels", "s1", "s2", "season"]  # its mask is the 10 m label
        labels = zip_labels(work / "dfc2020-zips", folder)
        assert expected == sorted(f"{folder}_0_p{n}" for n in labels)
        by_core = fingerprint(from_core(work / "SEN12MS", splits[split]))
        for name, digests in by_core.digests.items():
            assert digests["dfc"] == _digest(as_uint8(labels[int(name.rsplit("_p", 1)[1])]))
        assert by_core.sha256 == results["core"]["sha256"]
