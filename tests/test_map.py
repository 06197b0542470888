"""``sen12ms_plugins.analysis.worldmap`` and ``sen12ms map``: scene locations, GeoJSON, the PNG, offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import rasterio
from matplotlib.path import Path as MplPath
from rasterio.warp import transform as reproject

from sen12ms_plugins.analysis.worldmap import (
    SEASON_COLORS,
    load_land,
    scene_locations,
    scenes_geojson,
    unwrap_longitudes,
)
from sen12ms_plugins.cli import main
from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import compute_splits, holdout_scenes
from sen12ms_plugins.demo.sample import sample_scenes


@pytest.fixture(scope="module")
def scenes(sample_root):
    return scene_locations(sample_root)


def test_one_scene_per_season_and_scene(scenes, sample_root):
    index = build_index(sample_root)
    assert [s.scene_id for s in scenes] == list(index.scene_counts)
    assert len(scenes) == 20
    assert {s.scene_id: s.patches for s in scenes} == dict(index.scene_counts)


def test_split_of_each_scene(scenes, sample_root):
    splits = compute_splits(build_index(sample_root))
    for s in scenes:
        if s.scene_id in holdout_scenes():
            assert s.split == "holdout"
        elif s.scene_id in splits.validation_scenes:
            assert s.split == "validation"
        else:
            assert s.split == "train_minus_validation"
    assert {s.split for s in scenes} == {"holdout", "validation", "train_minus_validation"}


def test_locations_from_the_georeference(scenes, sample_root):
    """Every patch centre, reprojected one by one, lies in its scene's footprint,
    and the scenes lie where the sample table says (within the few km the patches span)."""
    table = {(s.season, s.scene): s for s in sample_scenes()}
    index = build_index(sample_root)
    by_scene = {s.scene_id: s for s in scenes}
    for pid in index.triplets:
        with rasterio.open(pid.path(sample_root, "lc")) as src:
            left, bottom, right, top = src.bounds
            crs = src.crs
        (lon,), (lat,) = reproject(crs, "EPSG:4326", [(left + right) / 2], [(bottom + top) / 2])
        scene = by_scene[pid.scene_id]
        assert MplPath(scene.footprint).contains_point((lon, lat)), pid
    for s in scenes:
        assert s.footprint[0] == s.footprint[-1]
        ref = table[s.season, s.scene]
        assert abs(s.lon - ref.lon) < 0.2 and abs(s.lat - ref.lat) < 0.2, s.scene_id
        lons, lats = zip(*s.footprint)
        assert min(lons) < s.lon < max(lons) and min(lats) < s.lat < max(lats)


def test_footprint_across_the_antimeridian_stays_in_one_piece():
    ring = [(179.9, -17.0), (-179.9, -17.0), (-179.9, -16.9), (179.9, -16.9), (179.9, -17.0)]
    assert unwrap_longitudes(ring) == [(179.9, -17.0), (180.1, -17.0), (180.1, -16.9), (179.9, -16.9),
                                       (179.9, -17.0)]
    ordinary = [(10.0, 1.0), (10.1, 1.0), (10.1, 1.1), (10.0, 1.0)]
    assert unwrap_longitudes(ordinary) == ordinary


def test_geojson(scenes):
    data = json.loads(json.dumps(scenes_geojson(scenes)))
    features = data["features"]
    assert data["type"] == "FeatureCollection" and len(features) == 2 * len(scenes)
    for scene, point, poly in zip(scenes, features[0::2], features[1::2]):
        assert point["geometry"]["type"] == "Point" and poly["geometry"]["type"] == "Polygon"
        assert point["properties"]["geometry_role"] == "center" and poly["properties"]["geometry_role"] == "footprint"
        props = point["properties"]
        assert props["id"] == f"{scene.season}_{scene.scene}"
        assert props["season"] == facts.SEASON_SHORT[scene.season]
        assert (props["split"], props["patches"]) == (scene.split, scene.patches)
        ring = poly["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) >= 5


def test_shipped_land_outline_is_the_world():
    land = load_land()
    outers = [MplPath(poly[0]) for poly in land]
    holes = [MplPath(ring) for poly in land for ring in poly[1:]]

    def on_land(lon, lat):
        inside = any(p.contains_point((lon, lat)) for p in outers)
        return inside and not any(h.contains_point((lon, lat)) for h in holes)

    for place in [(-3.70, 40.42), (116.4, 39.9), (-47.9, -15.8), (133.9, -23.7), (-100.0, 40.0), (25.0, 0.0)]:
        assert on_land(*place), place
    for place in [(-30.0, 30.0), (-150.0, 0.0), (80.0, -20.0), (50.5, 42.0)]:  # oceans; the Caspian Sea
        assert not on_land(*place), place
    points = np.concatenate([np.asarray(r) for poly in land for r in poly])
    assert points[:, 0].min() >= -180 and points[:, 0].max() <= 180
    assert points[:, 1].min() >= -90 and points[:, 1].max() <= 84


def _colour_pixels(png) -> set[int]:
    import matplotlib.image as mpimg

    image = mpimg.imread(png)[..., :3]
    return set(np.unique((np.round(image * 255).astype(int) * [65536, 256, 1]).sum(axis=-1)).tolist())


def test_cli_writes_png_and_geojson(sample_root, tmp_path, capsys):
    out = tmp_path / "maps" / "scenes.png"
    assert main(["map", "--root", str(sample_root), "--out", str(out), "-q"]) == 0
    assert "20 scenes" in capsys.readouterr().out
    geo = json.loads(out.with_suffix(".geojson").read_text())
    assert len(geo["features"]) == 40
    colours = _colour_pixels(out)
    for season, colour in SEASON_COLORS.items():  # a marker of every season is drawn
        assert int(colour[1:], 16) in colours, season
    assert int("e8e4d8", 16) in colours  # land


def test_cli_usage_and_data_errors(sample_root, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    for out in (tmp_path / "map.jpg", tmp_path / "file" / "map.png"):
        with pytest.raises(SystemExit) as exc:
            main(["map", "--root", str(sample_root), "--out", str(out)])
        assert exc.value.code == 2, out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["map", "--root", str(empty), "--out", str(tmp_path / "m.png"), "-q"]) == 1
    assert "no complete SEN12MS triplet" in capsys.readouterr().err
    assert not (tmp_path / "m.png").exists()


def test_map_renders_with_the_network_unavailable(sample_root, tmp_path):
    """Run the command with every socket call failing (and, where the system allows, in a
    network namespace without any interface but a downed loopback)."""
    out = tmp_path / "offline.png"
    script = textwrap.dedent(f"""
        import socket, sys
        def refuse(*args, **kwargs):
            raise OSError("network use during sen12ms map")
        socket.socket.connect = socket.socket.connect_ex = refuse
        socket.create_connection = socket.getaddrinfo = refuse
        from sen12ms_plugins.cli import main
        sys.exit(main(["map", "--root", {str(sample_root)!r}, "--out", {str(out)!r}, "-q"]))
    """)
    command = [sys.executable, "-c", script]
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True, check=False).returncode == 0:
        command = [unshare, "-n", *command]
    env = {"PATH": "/usr/bin:/bin", "MPLCONFIGDIR": str(tmp_path / "mpl"), "HOME": str(tmp_path)}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 10_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
