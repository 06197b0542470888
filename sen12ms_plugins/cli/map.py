"""``sen12ms map``: a world map and a GeoJSON of the scenes, made offline."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import MissingExtraError, UsageError
from ._common import EXIT_PROBLEMS, add_root_argument, finish, subparser
from ._paths import check_writable

DESCRIPTION = """\
Draw one marker per scene (season x scene: the same scene number in two seasons is two
scenes), placed from the GeoTIFF georeference of its patches reprojected to lon/lat,
coloured by season and shaped by split (hold-out, validation, train minus validation),
over coastlines.  Fully offline: the coastlines are Natural Earth 1:110m (public
domain) shipped inside the package; no tiles or data are downloaded.  Only file
headers are read (one open per triplet).

DFC2020 patches ('sen12ms add-dfc2020') are drawn one by one where their headers hold a
usable georeference; the release's is reported stripped, and patches without one are
left out, and counted.

Also writes the scenes as GeoJSON (default: --out with the suffix .geojson): for every
scene a Point (centre) and a Polygon (footprint: the bounding box of its patches),
with properties id, season, season_folder, scene, split, patches, crs, geometry_role.

examples:
  sen12ms map --root /data/sen12ms --out sen12ms-map.png
  sen12ms map --out map.png --geojson scenes.geojson --dpi 200

exit codes: 0 done; 1 the root holds no complete triplet or a patch file cannot be
read (the message names it); 2 usage error.
"""


def register(sub) -> None:
    p = subparser(sub, "map", "world map (PNG) and GeoJSON of the scenes, offline", DESCRIPTION)
    add_root_argument(p)
    p.add_argument("--out", metavar="FILE.png", type=Path, required=True, help="PNG file to write")
    p.add_argument("--geojson", metavar="FILE", type=Path, default=None,
                   help="GeoJSON file to write (default: --out with the suffix .geojson)")
    p.add_argument("--dpi", type=int, default=100, help="resolution of the PNG (default: 100, about 1000 px wide)")
    finish(p, run)


def run(args) -> int:
    from ..analysis.worldmap import make_map  # deferred: rasterio

    if args.out.suffix.lower() != ".png":
        raise UsageError(f"--out must name a .png file, got {args.out}")
    if not 20 <= args.dpi <= 600:
        raise UsageError(f"--dpi must be between 20 and 600, got {args.dpi}")
    MissingExtraError.require(("matplotlib",), "the map")
    geojson = args.geojson if args.geojson is not None else args.out.with_suffix(".geojson")
    if geojson.resolve() == args.out.resolve():
        raise UsageError("--geojson and --out name the same file")
    for path, option in ((args.out, "--out"), (geojson, "--geojson")):
        if path.is_dir():
            raise UsageError(f"{option} {path} is a folder")
        check_writable(path.parent, option)
    try:
        drawn = make_map(args.root, args.out, geojson=geojson, dpi=args.dpi, quiet=args.quiet)
    except OSError as exc:
        print(f"sen12ms map: error: cannot write {args.out} or {geojson}: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    patches = sum(s.patches for s in drawn.scenes)
    extra = f", {len(drawn.dfc2020):,} DFC2020 patches" if drawn.dfc2020 else ""
    print(f"{len(drawn.scenes)} scenes, {patches:,} triplets{extra}: wrote {args.out} and {geojson}")
    if drawn.dfc2020_unlocated:
        print(f"{drawn.dfc2020_unlocated:,} DFC2020 patches are not on the map: their georeference is stripped "
              "(no usable CRS and transform in their headers), so where they lie is unknown")
    return 0
