"""``sen12ms index``: what a root holds."""

from __future__ import annotations

from ..console import print_table
from ..dataset import facts
from ..dataset.index import build_index
from ._common import add_json_argument, add_limit_argument, add_root_argument, print_json, print_listing, subparser

DESCRIPTION = """\
Scan a SEN12MS root (file names only) and report the complete triplets per season,
the complete DFC2020 patches per set when the root holds them (s1, s2, lc and dfc files;
'sen12ms add-dfc2020'), incomplete patches (missing a file) and stray files.  The
index is cached in ROOT/.sen12ms/ (or the user cache when ROOT is read-only) and
refreshed for the folders that changed.

exit codes: 0 every patch is a complete triplet and nothing is stray; 1 incomplete
triplets or stray files were found (listed); 2 usage error.
"""


def register(sub) -> None:
    p = subparser(sub, "index", "count complete and incomplete triplets in a root", DESCRIPTION)
    add_root_argument(p)
    add_json_argument(p)
    p.add_argument("--no-cache", action="store_true", help="rescan everything and do not write the cache")
    add_limit_argument(p, "incomplete triplets and strays")
    p.set_defaults(func=run)


def run(args) -> int:

    index = build_index(args.root, use_cache=not args.no_cache)
    seasons = index.season_counts()
    if args.json:
        print_json({
            "root": str(index.root),
            "triplets": len(index),
            "per_season": seasons,
            "scenes": len(index.scene_counts),
            "dfc2020": index.dfc2020_counts(),
            "incomplete": [{"id": i.patch.name, "missing": list(i.missing)} for i in index.incomplete],
            "strays": list(index.strays),
        })
    else:
        print(f"root: {index.root}")
        print_table(["season", "scenes", "triplets"], [
            [season, sum(1 for s in index.scene_counts if s.season == season), seasons[season]]
            for season in facts.SEASONS
        ] + [["total", len(index.scene_counts), len(index)]])
        if index.dfc2020:
            print()
            print_table(["DFC2020 set", "patches"], [[f, n] for f, n in index.dfc2020_counts().items()])
        print_listing("incomplete triplets", list(index.incomplete), args.limit)
        print_listing("stray files", list(index.strays), args.limit)
    return 1 if index.incomplete or index.strays else 0
