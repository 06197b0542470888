"""Regenerate ``sen12ms_plugins/analysis/data/land_110m.geojson``, the land outline ``sen12ms map`` draws.

Developers only.  Source: Natural Earth 1:110m Admin 0 countries (public domain,
https://www.naturalearthdata.com/about/terms-of-use/), as shipped in the wheel of the
PyPI package ``pyogrio`` (MIT) under ``pyogrio/tests/fixtures/naturalearth_lowres/``
(pyogrio copied it from GeoPandas' former ``naturalearth_lowres`` data set).  The
countries are merged into land polygons (the borders between countries disappear, the
coastlines stay), coordinates are rounded to 0.01 degree, and the result is written as
one GeoJSON MultiPolygon.  Run with an environment that has pyogrio and shapely:

    python tools/make_land_file.py [--out sen12ms_plugins/analysis/data/land_110m.geojson]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "sen12ms_plugins" / "analysis" / "data" / "land_110m.geojson"
DECIMALS = 2  # 0.01 degree, about 1 km: finer than the 1:110m source (about 10 km)
# Snapping grid applied before merging, so that the shared borders of neighbouring
# countries coincide exactly and leave no slivers.
SNAP_DEGREES = 1e-4


def _ring(coords) -> list[list[float]]:
    """Rounded ring without repeated points, closed."""
    out: list[list[float]] = []
    for x, y in coords:
        point = [round(x, DECIMALS), round(y, DECIMALS)]
        if not out or point != out[-1]:
            out.append(point)
    if out[0] != out[-1]:
        out.append(out[0])
    return out


def main() -> None:
    import pyogrio
    import shapely

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    source = Path(pyogrio.__file__).parent / "tests" / "fixtures" / "naturalearth_lowres" / "naturalearth_lowres.shp"
    _meta, _fids, wkb, _fields = pyogrio.raw.read(source, columns=[])
    geometries = shapely.from_wkb(wkb)
    land = shapely.union_all(shapely.set_precision(geometries, SNAP_DEGREES))
    polygons = []
    for poly in sorted(land.geoms, key=lambda p: -p.area):
        rings = [_ring(poly.exterior.coords)] + [_ring(hole.coords) for hole in poly.interiors]
        if len(rings[0]) >= 4:  # a ring that rounding collapsed is no land worth drawing
            polygons.append([r for r in rings if len(r) >= 4])
    collection = {
        "type": "FeatureCollection",
        "name": "land_110m",
        "source": (
            "Natural Earth 1:110m Admin 0 countries, merged into land polygons; "
            f"from pyogrio {pyogrio.__version__} (PyPI), pyogrio/tests/fixtures/naturalearth_lowres"
        ),
        "license": "public domain (Natural Earth, https://www.naturalearthdata.com/about/terms-of-use/)",
        "generator": "tools/make_land_file.py",
        "features": [{
            "type": "Feature",
            "properties": {"name": "land"},
            "geometry": {"type": "MultiPolygon", "coordinates": polygons},
        }],
    }
    text = json.dumps(collection, separators=(",", ":"))
    args.out.write_text(text + "\n", encoding="utf-8")
    points = sum(len(r) for p in polygons for r in p)
    print(f"wrote {args.out}: {len(polygons)} polygons, {points} points, {len(text):,} bytes")


if __name__ == "__main__":
    main()
