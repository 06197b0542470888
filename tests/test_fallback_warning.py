"""A dataset the fast reader cannot read is never slow in silence: the reader says, once per
process and reason, that it reads with rasterio and why; worker processes do not repeat
what their parent already said.  The values read are the same either way.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import rasterio

from sen12ms_plugins.analysis.stats import compute_stats
from sen12ms_plugins.reading import reader
from sen12ms_plugins.reading.reader import read_file

REPO = Path(__file__).resolve().parents[1]
MESSAGE = "read with rasterio, not the fast reader"


def recompress(path: Path, **options) -> None:
    """Rewrite one GeoTIFF with the same pixels and georeference in another layout."""
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read()
    profile.update(options)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


@pytest.fixture(scope="module")
def lzw_root(sample_root, tmp_path_factory):
    """The sample tree with every file LZW-compressed (a user's re-packed copy of the dataset)."""
    import shutil

    root = tmp_path_factory.mktemp("lzw") / "root"
    shutil.copytree(sample_root, root, ignore=shutil.ignore_patterns(".sen12ms"))
    for path in root.glob("ROIs*/*/*.tif"):
        recompress(path, compress="lzw")
    return root


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


def _announcements(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if MESSAGE in line]


def test_each_reason_is_announced_once_with_the_file_and_the_reason(lzw_root, sample_root, tmp_path, caplog,
                                                                   monkeypatch):
    monkeypatch.setattr(reader, "_announced", set())
    files = sorted(lzw_root.glob("ROIs*/s2_*/*.tif"))[:3]
    tiled = tmp_path / "tiled.tif"
    tiled.write_bytes(files[0].read_bytes())
    recompress(tiled, compress=None, tiled=True, blockxsize=16, blockysize=16)
    originals = {path: sample_root / path.relative_to(lzw_root) for path in files}
    originals[tiled] = originals[files[0]]
    with caplog.at_level(logging.WARNING, logger="sen12ms_plugins"):
        for path in [*files, tiled, *files]:
            # the same values as the uncompressed file's, only slower
            assert np.array_equal(read_file(path, "s2"), read_file(originals[path], "s2"))
    records = [r for r in caplog.records if r.name == "sen12ms_plugins.reading.reader"]
    assert [r.levelno for r in records] == [logging.WARNING, logging.WARNING]
    first, second = (r.getMessage() for r in records)
    assert first.startswith(f"{files[0]}: {MESSAGE} (compressed (LZW))")
    assert second.startswith(f"{tiled}: {MESSAGE} (tiled)")
    assert reader.announced() == {"compressed (LZW)", "tiled"}


def test_stats_with_worker_processes_announce_it_once(lzw_root, sample_root, tmp_path):
    done = subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", "stats", "--root", str(lzw_root), "--out",
                           str(tmp_path / "stats"), "--jobs", "2", "--no-charts", "--quiet"],
                          capture_output=True, text=True, env=_env(), timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = _announcements(done.stderr)
    assert len(lines) == 1 and "(compressed (LZW))" in lines[0] and str(lzw_root) in lines[0], done.stderr
    got = json.loads((tmp_path / "stats" / "stats.json").read_text())
    expected = compute_stats(sample_root).to_json()
    got.pop("root"), expected.pop("root")
    assert got == json.loads(json.dumps(expected))  # the same statistics: the fallback changes only the speed


def test_export_hf_with_worker_processes_announces_it_once(lzw_root, tmp_path):
    done = subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", "export-hf", "--root", str(lzw_root),
                           "--out", str(tmp_path / "hf"), "--config", "s2", "--num-proc", "2", "--shard-size", "40KB",
                           "--quiet"], capture_output=True, text=True, env=_env(), timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = _announcements(done.stderr)
    assert len(lines) == 1 and "(compressed (LZW))" in lines[0], done.stderr
    assert len(list((tmp_path / "hf" / "data" / "s2").glob("*.parquet"))) > 2  # several shards, several workers


_LOADERS = textwrap.dedent("""\
    import sys
    from torch.utils.data import DataLoader
    from sen12ms_plugins.torchgeo import SEN12MS

    if __name__ == "__main__":
        for root, context in zip(sys.argv[1::2], sys.argv[2::2]):
            dataset = SEN12MS(root, split="train", checksum=False)
            loader = DataLoader(dataset, batch_size=8, num_workers=2, multiprocessing_context=context)
            print(sum(len(batch["image"]) for batch in loader), len(dataset), flush=True)
""")


def test_torchgeo_dataloader_workers(sample_root, lzw_root, tmp_path, copy_tree):
    """One process, three DataLoaders of two workers each, each tree slow for its own reason:

    * every file PackBits-compressed, forked workers: announced once, by the main process
      when the dataset is made; its workers stay quiet (they inherit that it was said);
    * every file LZW-compressed, spawned workers: announced once as well (the dataset
      takes along to its workers what was said);
    * only a file near the end Deflate-compressed, met by a worker alone: still announced,
      at most once per worker.
    """
    from sen12ms_plugins.torchgeo import SEN12MS

    packbits = copy_tree(sample_root, "packbits")
    for path in packbits.glob("ROIs*/*/*.tif"):
        recompress(path, compress="packbits")
    partial = copy_tree(sample_root, "partial")
    last = SEN12MS(str(partial), split="train", checksum=False).patch_ids[-1]
    recompress(last.path(partial, "s2"), compress="deflate")

    script = tmp_path / "loaders.py"
    script.write_text(_LOADERS)
    done = subprocess.run([sys.executable, str(script), str(packbits), "fork", str(lzw_root), "spawn",
                           str(partial), "fork"], capture_output=True, text=True, env=_env(), timeout=900,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    for line in done.stdout.split("\n")[:3]:
        seen, total = map(int, line.split())
        assert seen == total > 0
    lines = _announcements(done.stderr)
    by_reason = {reason: [line for line in lines if f"({reason})" in line]
                 for reason in ("compressed (PackBits)", "compressed (LZW)", "compressed (Deflate)")}
    assert len(by_reason["compressed (PackBits)"]) == 1, lines
    assert len(by_reason["compressed (LZW)"]) == 1, lines
    assert 1 <= len(by_reason["compressed (Deflate)"]) <= 2, lines
    assert str(last.path(partial, "s2")) in by_reason["compressed (Deflate)"][0]
    assert len(lines) == sum(map(len, by_reason.values()))
