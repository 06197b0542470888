"""``sen12ms stats``: files written, their agreement, charts, exit codes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from sen12ms_plugins.analysis.stats import compute_stats
from sen12ms_plugins.cli import main
from sen12ms_plugins.dataset import labels
from sen12ms_plugins.dataset.index import build_index

TABLES = ["patches.csv", "class_counts.csv", "scene_labels.csv", "band_stats.csv", "stats.json"]
CHARTS = [f"classes_{scheme}.png" for scheme in labels.SCHEMES]


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def stats_out(sample_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("stats-cli") / "out"
    rc = main(["stats", "--root", str(sample_root), "--out", str(out), "--split", "holdout,validation",
               "--split", "all", "--quiet"])
    assert rc == 0
    return out


def test_writes_tables_and_charts(stats_out):
    assert sorted(p.name for p in stats_out.iterdir()) == sorted(TABLES + CHARTS)


def test_tables_agree_with_the_python_api(stats_out, sample_root):
    stats = compute_stats(sample_root, splits=["holdout", "validation", "all"])
    assert json.loads((stats_out / "stats.json").read_text()) == json.loads(json.dumps(stats.to_json()))
    patches = {(r["split"], r["season"]): int(r["patches"]) for r in _csv(stats_out / "patches.csv")}
    assert patches == {key: g.patches for key, g in stats.groups.items()}
    classes = _csv(stats_out / "class_counts.csv")
    igbp = {int(r["code"]): int(r["pixels"]) for r in classes
            if (r["split"], r["season"], r["scheme"]) == ("all", "all", "IGBP")}
    assert igbp == stats["all", "all"].class_pixels("IGBP")
    assert sum(igbp.values()) == len(build_index(sample_root)) * 32 * 32
    bands = [r for r in _csv(stats_out / "band_stats.csv") if (r["split"], r["season"]) == ("holdout", "all")]
    assert [r["band"] for r in bands] == ["VV", "VH", "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08",
                                          "B8A", "B09", "B10", "B11", "B12"]
    api = stats["holdout", "all"].bands["s2"][3]
    assert float(bands[5]["mean"]) == api.mean and float(bands[5]["p98"]) == api.p98
    single = [r for r in _csv(stats_out / "scene_labels.csv")
              if (r["split"], r["season"], r["kind"]) == ("validation", "all", "single")]
    assert sum(int(r["patches"]) for r in single) == stats["validation", "all"].patches


def test_charts_are_pngs_in_the_official_colours(stats_out, sample_root):
    import matplotlib.image as mpimg

    stats = compute_stats(sample_root, splits=["all"])
    image = mpimg.imread(stats_out / "classes_IGBP.png")[..., :3]
    assert image.shape[0] > 400 and image.shape[1] > 800
    pixels = (np.round(image * 255).astype(int) * [65536, 256, 1]).sum(axis=-1)
    present = set(np.unique(pixels).tolist())
    for c in stats["all", "all"].classes["IGBP"]:
        colour = int(labels.IGBP_COLORS[c.code][1:], 16)
        # A class with pixels has a bar in its legend colour; the sample holds every IGBP class.
        assert c.pixels > 0 and colour in present, c.name


def test_usage_errors_exit_2(sample_root, tmp_path, capsys):
    for argv in (["--split", "nope"], ["--jobs", "0"], ["--out", str(tmp_path / "file")],
                 ["--out", str(tmp_path / "file" / "sub")]):
        (tmp_path / "file").write_text("x")
        with pytest.raises(SystemExit) as exc:
            main(["stats", "--root", str(sample_root), "--out", str(tmp_path / "o"), *argv, "-q"])
        assert exc.value.code == 2, argv
    assert "unknown split 'nope'" in capsys.readouterr().err


def test_bad_patch_exits_1_naming_it_and_writes_nothing(copy_tree, sample_root, tmp_path, capsys):
    root = copy_tree(sample_root)
    pid = build_index(root).triplets[-1]
    bad = pid.path(root, "lc")
    bad.write_bytes(b"not a tiff")
    out = tmp_path / "out"
    assert main(["stats", "--root", str(root), "--out", str(out), "--no-charts", "-q"]) == 1
    assert bad.name in capsys.readouterr().err
    assert not out.exists()


def test_missing_root_exits_1(tmp_path, capsys):
    assert main(["stats", "--root", str(tmp_path / "missing"), "--out", str(tmp_path / "o"), "-q"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_help_teaches():
    result = subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", "stats", "--help"],
                            capture_output=True, text=True, check=True)
    assert "examples:" in result.stdout and "exit codes:" in result.stdout


def test_core_import_pulls_no_plotting():
    code = ("import sys, sen12ms_plugins, sen12ms_plugins.analysis.stats, sen12ms_plugins.analysis.worldmap; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'torch', 'tensorflow')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
