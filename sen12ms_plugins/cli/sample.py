"""``sen12ms sample``: write the built-in sample tree (and optionally its archives)."""

from __future__ import annotations

from ..console import track
from ..dataset import facts
from ..demo import SAMPLE_PATCHES_PER_SCENE
from ..errors import UsageError
from ._common import add_quiet_argument, subparser

DESCRIPTION = """\
Write a small SEN12MS tree faithful to the real one: 20 real scenes of all four
seasons (hold-out and others, real scene and patch numbers), real GeoTIFFs at the
scenes' real locations, the damaged patch with NaNs in S1.  Deterministic for a
given seed.  With --archives also the 12 ROIs<season>_<sensor>.tar.gz archives,
byte-reproducible, and md5sums.txt, as a download mirror would hold them.

examples:
  sen12ms sample --out /tmp/sen12ms-sample
  sen12ms sample --out /tmp/mirror --archives-only --patch-size 64
"""


def register(sub) -> None:
    p = subparser(sub, "sample", "write the built-in sample dataset", DESCRIPTION)
    p.add_argument("--out", metavar="DIR", required=True, help="folder to write (must be missing or empty)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--patch-size", type=int, default=facts.PATCH_SIZE,
                   help=f"pixels per side (default: {facts.PATCH_SIZE}, as the real data; smaller is faster)")
    p.add_argument("--patches-per-scene", type=int, default=SAMPLE_PATCHES_PER_SCENE,
                   help=f"triplets per scene, 1-15 (default: {SAMPLE_PATCHES_PER_SCENE})")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--archives", action="store_true", help="also write the 12 archives and md5sums.txt")
    group.add_argument("--archives-only", action="store_true", help="write only the archives and md5sums.txt")
    add_quiet_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..demo.sample import make_sample  # deferred: numpy and rasterio

    try:
        ids = make_sample(
            args.out, seed=args.seed, patch_size=args.patch_size, patches_per_scene=args.patches_per_scene,
            archives=args.archives or args.archives_only, tree=not args.archives_only,
            progress=lambda jobs: track(jobs, "sample", unit="triplet", quiet=args.quiet),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    what = "archives of " if args.archives_only else ""
    print(f"wrote {what}{len(ids)} triplets ({args.patch_size}x{args.patch_size} px) to {args.out}")
    return 0
