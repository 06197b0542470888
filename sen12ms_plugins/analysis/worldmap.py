"""Where the scenes of a SEN12MS root lie: a GeoJSON of the scenes and an offline world map.

A scene here is one (season, scene) pair, as in the dataset: scene 124 of spring and
scene 124 of summer are two scenes and get two markers.  Its location comes from the
GeoTIFF headers of its patches (no pixel is read): the footprint is the bounding box
of all its patches in their UTM CRS, reprojected to lon/lat (edges densified so the
outline follows the projection); the point is the centre of that box.  A footprint that
crosses the antimeridian keeps its longitudes continuous (above 180) rather than
spanning the globe.

DFC2020 patches (``sen12ms add-dfc2020``) are not scenes: each one whose header holds a
usable georeference is a marker of its own (and a Point and a Polygon in the GeoJSON); those
whose georeference is stripped, as the release's are reported to be, are left out and
counted (:attr:`WorldMap.dfc2020_unlocated`), so the command says how many.

The map is drawn with matplotlib (Agg canvas, no pyplot) in plate carrée (lon/lat) over the land
outline of Natural Earth 1:110m, shipped in ``data/land_110m.geojson`` (public domain;
see ``tools/make_land_file.py`` for its provenance).  Nothing is downloaded: no tiles,
no map service, no data fetched at run time.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import rasterio
from rasterio.errors import RasterioError
from rasterio.warp import transform as warp

from ..console import track
from ..dataset import facts
from ..dataset.ids import SceneId
from ..dataset.index import Index, build_index
from ..dataset.splits import compute_splits, holdout_scenes
from ..errors import PatchFileError, RootError
from ..fsutil import atomic_write_bytes
from ..reading.reader import GDAL_OPTIONS, georeference

LAND_FILE = Path(__file__).resolve().parent / "data" / "land_110m.geojson"
#: Scene splits in legend order, with their marker shapes.
SPLIT_MARKERS = {"holdout": "^", "validation": "s", "train_minus_validation": "o"}
SPLIT_TITLES = {"holdout": "hold-out", "validation": "validation", "train_minus_validation": "train (minus validation)"}
#: Marker colour per season (colour-blind safe: Okabe & Ito).
SEASON_COLORS = dict(zip(facts.SEASONS, ("#009E73", "#D55E00", "#E69F00", "#0072B2")))
LAND_COLOR, COAST_COLOR, SEA_COLOR = "#e8e4d8", "#8a8a8a", "#eef4f8"
#: Points per footprint edge when reprojecting to lon/lat.
EDGE_POINTS = 8


@dataclass(frozen=True)
class SceneLocation:
    """One scene: where it lies, its split and its number of complete triplets."""

    season: str
    scene: int
    split: str  # holdout, validation or train_minus_validation
    patches: int
    crs: str  # of its patches, e.g. "EPSG:32650" (the first one, if they differ)
    lon: float
    lat: float
    footprint: tuple[tuple[float, float], ...]  # closed ring, lon/lat

    @property
    def scene_id(self) -> SceneId:
        return SceneId(self.season, self.scene)


#: Marker and colour of the DFC2020 patches, per split.
DFC2020_MARKERS = {"dfc2020_validation": ("P", "#CC79A7"), "dfc2020_test": ("X", "#56B4E9")}


@dataclass(frozen=True)
class PatchLocation:
    """One DFC2020 patch whose header holds a usable georeference."""

    id: str
    split: str  # dfc2020_validation or dfc2020_test
    crs: str
    lon: float
    lat: float
    footprint: tuple[tuple[float, float], ...]  # closed ring, lon/lat


@dataclass(frozen=True)
class WorldMap:
    """What :func:`make_map` drew: the scenes, the DFC2020 patches it could place, and how many it could not."""

    scenes: list[SceneLocation]
    dfc2020: list[PatchLocation]
    dfc2020_unlocated: int = 0


def dfc2020_locations(index: Index, quiet: bool = True) -> tuple[list[PatchLocation], int]:
    """The DFC2020 patches of ``index`` that have a usable georeference (from their S2 header),
    and the number that have none (:func:`~sen12ms_plugins.reading.reader.georeference`)."""
    located, unlocated = [], 0
    splits = compute_splits(index)
    for pid in track(index.dfc2020, "map DFC2020", unit="patch", quiet=quiet):
        geo = georeference(index.root, pid)
        if not geo.known:
            unlocated += 1
            continue
        xs, ys = _box_ring(geo.bounds)
        lons, lats = warp(geo.crs, "EPSG:4326", xs, ys)
        ring = unwrap_longitudes(list(zip(lons, lats)))
        located.append(PatchLocation(pid.name, splits.split_of(pid), geo.crs, float(geo.center_lon),
                                     float(geo.center_lat), tuple((float(x), float(y)) for x, y in ring)))
    return located, unlocated


def _scene_split(scene: SceneId, validation: frozenset[SceneId]) -> str:
    if scene in holdout_scenes():
        return "holdout"
    return "validation" if scene in validation else "train_minus_validation"


def _header(path: Path) -> tuple[str, tuple[float, float, float, float]]:
    """CRS and bounds of one GeoTIFF, read from its header."""
    try:
        with rasterio.Env(**GDAL_OPTIONS), rasterio.open(path) as src:
            if src.crs is None:
                raise PatchFileError(path, "has no coordinate reference system")
            return src.crs.to_string(), tuple(src.bounds)
    except RasterioError as exc:
        raise PatchFileError(path, f"cannot be read as a GeoTIFF ({exc})") from None


def _box_ring(bounds: Sequence[float]) -> tuple[list[float], list[float]]:
    """A box outline, counter-clockwise, with :data:`EDGE_POINTS` points per edge, closed."""
    left, bottom, right, top = bounds
    corners = [(left, bottom), (right, bottom), (right, top), (left, top), (left, bottom)]
    xs, ys = [], []
    for (x0, y0), (x1, y1) in zip(corners, corners[1:]):
        for k in range(EDGE_POINTS):
            t = k / EDGE_POINTS
            xs.append(x0 + (x1 - x0) * t)
            ys.append(y0 + (y1 - y0) * t)
    xs.append(left)
    ys.append(bottom)
    return xs, ys


def unwrap_longitudes(ring: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Keep a ring that crosses the antimeridian in one piece: western longitudes get +360,
    so the outline runs past 180 instead of spanning the globe."""
    lons = [lon for lon, _ in ring]
    if max(lons) - min(lons) <= 180:
        return list(ring)
    return [(lon + 360 if lon < 0 else lon, lat) for lon, lat in ring]


def scene_locations(
    root: str | os.PathLike[str] | None = None, *, index: Index | None = None, quiet: bool = True
) -> list[SceneLocation]:
    """Locate every scene of ``root`` (default ``$SEN12MS_ROOT``) from its patches' headers.

    Reads the header of every complete triplet's S2 file (one ``open`` each, no pixels).
    A file without a CRS or that cannot be read raises
    :class:`~sen12ms_plugins.errors.PatchFileError` naming it.
    """
    index = index if index is not None else build_index(root)
    validation = frozenset(compute_splits(index).validation_scenes)
    boxes: dict[SceneId, dict[str, list[float]]] = {}
    for pid in track(index.triplets, "map", unit="patch", quiet=quiet):
        crs, (left, bottom, right, top) = _header(pid.path(index.root, "s2"))
        box = boxes.setdefault(pid.scene_id, {}).get(crs)
        if box is None:
            boxes[pid.scene_id][crs] = [left, bottom, right, top]
        else:
            box[:] = [min(box[0], left), min(box[1], bottom), max(box[2], right), max(box[3], top)]

    scenes = []
    for scene, by_crs in boxes.items():
        rings = []
        for crs, box in by_crs.items():
            xs, ys = _box_ring(box)
            lons, lats = warp(crs, "EPSG:4326", xs, ys)
            rings.append(unwrap_longitudes(list(zip(lons, lats))))
        first_crs, first_box = next(iter(by_crs.items()))
        if len(rings) == 1:
            footprint = rings[0]
            (lon,), (lat,) = warp(first_crs, "EPSG:4326", [(first_box[0] + first_box[2]) / 2],
                                  [(first_box[1] + first_box[3]) / 2])
        else:
            # Patches of one scene in several CRSs (not seen in SEN12MS): the lon/lat box around them all.
            lons = [p[0] for r in rings for p in r]
            lats = [p[1] for r in rings for p in r]
            box = (min(lons), min(lats), max(lons), max(lats))
            footprint = [(box[0], box[1]), (box[2], box[1]), (box[2], box[3]), (box[0], box[3]), (box[0], box[1])]
            lon, lat = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        scenes.append(SceneLocation(
            season=scene.season, scene=scene.scene, split=_scene_split(scene, validation),
            patches=index.scene_counts[scene], crs=first_crs, lon=float(lon), lat=float(lat),
            footprint=tuple((float(x), float(y)) for x, y in footprint),
        ))
    return sorted(scenes, key=lambda s: s.scene_id)


def scenes_geojson(scenes: Iterable[SceneLocation], dfc2020: Iterable[PatchLocation] = ()) -> dict[str, Any]:
    """A GeoJSON FeatureCollection: for every scene a Point (its centre) then a Polygon (its footprint).

    Properties: ``id`` (``ROIs1158_spring_124``), ``season`` (short name),
    ``season_folder``, ``scene``, ``split``, ``patches``, ``crs`` and ``geometry_role``
    (``center`` or ``footprint``).  Each located DFC2020 patch follows, the same way, with
    ``id`` its patch id (``ROIs0000_test_0_p17``), ``season`` ``unknown``, ``season_folder``
    its set's folder, ``scene`` 0 and ``patches`` 1.
    """
    features = []
    items = [({"id": str(s.scene_id), "season": facts.SEASON_SHORT[s.season], "season_folder": s.season,
               "scene": s.scene, "split": s.split, "patches": s.patches, "crs": s.crs}, s) for s in scenes]
    items += [({"id": p.id, "season": facts.UNKNOWN_SEASON, "season_folder": p.id.rsplit("_", 2)[0],
                "scene": facts.DFC2020_SCENE, "split": p.split, "patches": 1, "crs": p.crs}, p) for p in dfc2020]
    for props, s in items:
        ring = [[round(x, 6), round(y, 6)] for x, y in s.footprint]
        features.append({"type": "Feature", "properties": {**props, "geometry_role": "center"},
                         "geometry": {"type": "Point", "coordinates": [round(s.lon, 6), round(s.lat, 6)]}})
        features.append({"type": "Feature", "properties": {**props, "geometry_role": "footprint"},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return {"type": "FeatureCollection", "features": features}


def load_land() -> list[list[list[tuple[float, float]]]]:
    """The shipped land polygons: a list of polygons, each a list of rings (outer first)."""
    data = json.loads(LAND_FILE.read_text(encoding="utf-8"))
    polygons = []
    for feature in data["features"]:
        geometry = feature["geometry"]
        parts = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        polygons.extend([[tuple(map(float, p)) for p in ring] for ring in poly] for poly in parts)
    return polygons


def render_map(scenes: Sequence[SceneLocation], *, title: str | None = None, dpi: int = 100,
               dfc2020: Sequence[PatchLocation] = ()) -> bytes:
    """The world map of ``scenes`` (and of located DFC2020 patches) as PNG bytes (no network needed)."""
    # deferred: matplotlib is the [plot] extra; the scene locations and GeoJSON work without it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    # A bare Figure on the Agg canvas: pyplot's global state (and the user's backend) stay untouched.
    fig = Figure(figsize=(10, 4.8))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.set_facecolor(SEA_COLOR)
    land = load_land()
    outers = [poly[0] for poly in land]
    holes = [ring for poly in land for ring in poly[1:]]  # lakes and inland seas, e.g. the Caspian
    ax.add_collection(PolyCollection(outers, facecolors=LAND_COLOR, edgecolors=COAST_COLOR, linewidths=0.5))
    ax.add_collection(PolyCollection(holes, facecolors=SEA_COLOR, edgecolors=COAST_COLOR, linewidths=0.5))

    for season in facts.SEASONS:
        for split, marker in SPLIT_MARKERS.items():
            chosen = [s for s in scenes if s.season == season and s.split == split]
            if chosen:
                ax.scatter([s.lon for s in chosen], [s.lat for s in chosen], s=38, marker=marker,
                           c=SEASON_COLORS[season], edgecolors="black", linewidths=0.6, zorder=3)

    for split, (marker, color) in DFC2020_MARKERS.items():
        chosen = [p for p in dfc2020 if p.split == split]
        if chosen:
            ax.scatter([p.lon for p in chosen], [p.lat for p in chosen], s=30, marker=marker, c=color,
                       edgecolors="black", linewidths=0.5, zorder=4)

    lats = [s.lat for s in (*scenes, *dfc2020)]
    ax.set_xlim(-180, 180)
    ax.set_ylim(min([-60.0, *lats]) - 2, max([85.0, *lats]) + 2)  # Antarctica holds no scene
    ax.set_aspect("equal")
    ax.set_xticks(range(-180, 181, 60))
    ax.set_yticks(range(-60, 91, 30))
    ax.tick_params(labelsize=7)
    ax.grid(linewidth=0.3, color="#c8d3dc")
    ax.set_axisbelow(True)

    season_handles = [
        Line2D([], [], linestyle="", marker="o", markersize=7, markerfacecolor=SEASON_COLORS[season],
               markeredgecolor="black",
               label=f"{facts.SEASON_SHORT[season]} ({sum(s.season == season for s in scenes)})")
        for season in facts.SEASONS
    ]
    split_handles = [
        Line2D([], [], linestyle="", marker=marker, markersize=7, markerfacecolor="white", markeredgecolor="black",
               label=f"{SPLIT_TITLES[split]} ({sum(s.split == split for s in scenes)})")
        for split, marker in SPLIT_MARKERS.items()
    ]
    # Legends below the map, where they hide no scene.
    first = ax.legend(handles=season_handles, title="season (scenes)", loc="upper left", bbox_to_anchor=(0, -0.06),
                      ncol=4, fontsize=7, title_fontsize=7, frameon=False)
    ax.add_artist(first)
    ax.legend(handles=split_handles, title="split (scenes)", loc="upper right", bbox_to_anchor=(1, -0.06), ncol=3,
              fontsize=7, title_fontsize=7, frameon=False)
    if dfc2020:
        ax.add_artist(ax.get_legend())
        handles = [Line2D([], [], linestyle="", marker=marker, markersize=7, markerfacecolor=color,
                          markeredgecolor="black", label=f"{split} ({sum(p.split == split for p in dfc2020)})")
                   for split, (marker, color) in DFC2020_MARKERS.items()]
        ax.legend(handles=handles, title="DFC2020 (patches)", loc="upper center", bbox_to_anchor=(0.5, -0.2),
                  ncol=2, fontsize=7, title_fontsize=7, frameon=False)
    patches = sum(s.patches for s in scenes)
    extra = f", {len(dfc2020):,} DFC2020 patches" if dfc2020 else ""
    ax.set_title(title or f"SEN12MS: {len(scenes)} scenes (season x scene), {patches:,} triplets{extra}", fontsize=10)
    ax.text(1.0, 1.005, "coastlines: Natural Earth 1:110m (public domain)", transform=ax.transAxes, ha="right",
            va="bottom", fontsize=6, color="#666666")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.1)
    return buffer.getvalue()


def make_map(
    root: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    *,
    geojson: str | os.PathLike[str] | None = None,
    dpi: int = 100,
    quiet: bool = True,
) -> WorldMap:
    """Locate the scenes of ``root`` (and its DFC2020 patches that can be located), write the
    map PNG to ``out`` and the GeoJSON to ``geojson`` (default: ``out`` with the suffix
    ``.geojson``), each atomically; return what was drawn."""
    out = Path(out)
    geojson = Path(geojson) if geojson is not None else out.with_suffix(".geojson")
    index = build_index(root)
    located, unlocated = dfc2020_locations(index, quiet) if index.dfc2020 else ([], 0)
    if not index.triplets and not located:
        why = f" ({unlocated:,} DFC2020 patches, none georeferenced)" if unlocated else ""
        raise RootError(f"{index.root}: holds no complete SEN12MS triplet{why}, so there is nothing to map")
    scenes = scene_locations(index=index, quiet=quiet)
    png = render_map(scenes, dpi=dpi, dfc2020=located)
    for path in (out, geojson):
        path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(geojson, (json.dumps(scenes_geojson(scenes, located), indent=1) + "\n").encode("utf-8"))
    atomic_write_bytes(out, png)
    return WorldMap(scenes, located, unlocated)
