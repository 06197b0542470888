"""``sen12ms sample``: write the built-in sample tree (and optionally its archives)."""

from __future__ import annotations

from ..console import track
from ..dataset import facts
from ..demo import SAMPLE_PATCHES_PER_SCENE, SampleLayout
from ..errors import UsageError
from ._common import add_quiet_argument, subparser


def add_layout_arguments(p) -> None:
    """--layout and --lc-dtype, shared with ``sen12ms demo``."""
    p.add_argument("--layout", choices=list(SampleLayout), default=SampleLayout.COMPACT.value,
                   help="file layout of the sample: compact (default) or real (see above)")
    p.add_argument("--lc-dtype", choices=list(facts.FILE_DTYPES["lc"]), default="uint16",
                   help="data type of the land-cover files (default: uint16)")

DESCRIPTION = """\
Write a small SEN12MS tree faithful to the real one: 20 real scenes of all four
seasons (hold-out and others, real scene and patch numbers), real GeoTIFFs at the
scenes' real locations, the damaged patch with NaNs in S1.  Deterministic for a
given seed.  With --archives also the 12 ROIs<season>_<sensor>.tar.gz archives,
byte-reproducible, and md5sums.txt, as a download mirror would hold them.

layouts (--layout):
  compact  patches side by side (no overlap), origins on the 10 m grid, GDAL's
           default strips for the patch width (the default)
  real     as the real files: S2 in 1-row strips, S1 in 4-row strips, LC by the
           same 8 KiB rule (4 rows uint16, 8 rows uint8), pixel-interleaved, no
           nodata, non-integer origins, neighbouring patches half a patch apart
           (128 px at 256 px) so that they overlap by half; even patch sizes only
Both write no nodata and place scenes in UTM zones of both hemispheres.  The
land-cover files are uint16 unless --lc-dtype uint8 (the real dtype is
unresolved; both are read alike).

examples:
  sen12ms sample --out /tmp/sen12ms-sample
  sen12ms sample --out /tmp/sen12ms-real --layout real --lc-dtype uint8
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
    add_layout_arguments(p)
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
            layout=args.layout, lc_dtype=args.lc_dtype,
            archives=args.archives or args.archives_only, tree=not args.archives_only,
            progress=lambda jobs: track(jobs, "sample", unit="triplet", quiet=args.quiet),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    what = "archives of " if args.archives_only else ""
    print(f"wrote {what}{len(ids)} triplets ({args.patch_size}x{args.patch_size} px) to {args.out} "
          f"({args.layout} layout, lc {args.lc_dtype})")
    return 0
