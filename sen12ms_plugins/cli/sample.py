"""``sen12ms sample``: write the built-in sample tree (and optionally its archives)."""

from __future__ import annotations

from ..console import track
from ..dataset import facts
from ..demo import SAMPLE_PATCHES_PER_SCENE, SampleLayout, ZipStructure
from ..errors import UsageError
from ._common import finish, subparser


def add_layout_arguments(p) -> None:
    """--layout, --lc-dtype and the DFC2020 variants, shared with ``sen12ms demo``."""
    p.add_argument("--layout", choices=list(SampleLayout), default=SampleLayout.COMPACT.value,
                   help="file layout of the sample: compact (default) or real (see above)")
    p.add_argument("--lc-dtype", choices=list(facts.FILE_DTYPES["lc"]), default="uint16",
                   help="data type of the land-cover files (default: uint16)")
    p.add_argument("--dfc2020-s1-dtype", choices=list(facts.DFC2020_FILE_DTYPES["s1"]), default="float32",
                   help="data type of the DFC2020 zips' s1 files (default: float32)")
    p.add_argument("--dfc2020-dtype", choices=list(facts.DFC2020_FILE_DTYPES["dfc"]), default="uint8",
                   help="data type of the DFC2020 zips' dfc (label) files (default: uint8)")
    p.add_argument("--dfc2020-structure", choices=list(ZipStructure), default=ZipStructure.SET.value,
                   help="top of each DFC2020 zip: set (ROIs0000_validation/s1_validation/…, the default) or "
                        "sensor (s1_validation/…)")

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

DFC2020 (--dfc2020 DIR): the 8 zips of the contest's validation and test sets
(s1_validation.zip … dfc_0.zip), as downloaded from IEEE DataPort, for 'sen12ms
add-dfc2020': few patches (--dfc2020-counts), the same --patch-size, --layout and
--lc-dtype, and the variants the release is reported to have: s1 float32 or float64
(--dfc2020-s1-dtype), dfc uint8 or int32 (--dfc2020-dtype), the set's folder at the
top of each zip or only the sensor folder (--dfc2020-structure), a stripped
georeference (unless --dfc2020-georeferenced).  --dfc2020-extracted writes the
folders the zips extract to instead.  Its 10 m labels are the simplified class of
the land cover with finer detail of their own; no Savanna or Snow/Ice in validation.

examples:
  sen12ms sample --out /tmp/sen12ms-sample
  sen12ms sample --out /tmp/sen12ms-real --layout real --lc-dtype uint8
  sen12ms sample --out /tmp/mirror --archives-only --patch-size 64
  sen12ms sample --dfc2020 /tmp/dfc2020-zips --dfc2020-s1-dtype float64 --dfc2020-dtype int32
"""


def register(sub) -> None:
    p = subparser(sub, "sample", "write the built-in sample dataset", DESCRIPTION)
    p.add_argument("--out", metavar="DIR", help="folder to write the SEN12MS sample into (missing or empty)")
    p.add_argument("--dfc2020", metavar="DIR", help="also (or only) write DFC2020-like zips into DIR (missing or empty)")
    p.add_argument("--dfc2020-counts", metavar="VAL,TEST", default="5,12",
                   help="DFC2020 patches in the validation and the test set (default: 5,12; 0 leaves a set out)")
    p.add_argument("--dfc2020-extracted", action="store_true", help="write the folders the DFC2020 zips extract to")
    p.add_argument("--dfc2020-georeferenced", action="store_true",
                   help="give the DFC2020 patches a real georeference (the release's is reported stripped)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--patch-size", type=int, default=facts.PATCH_SIZE,
                   help=f"pixels per side (default: {facts.PATCH_SIZE}, as the real data; smaller is faster)")
    p.add_argument("--patches-per-scene", type=int, default=SAMPLE_PATCHES_PER_SCENE,
                   help=f"triplets per scene, 1-15 (default: {SAMPLE_PATCHES_PER_SCENE})")
    add_layout_arguments(p)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--archives", action="store_true", help="also write the 12 archives and md5sums.txt")
    group.add_argument("--archives-only", action="store_true", help="write only the archives and md5sums.txt")
    finish(p, run)


def _counts(text: str) -> dict[str, int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 2:
        raise UsageError(f"--dfc2020-counts must be two numbers VAL,TEST, got {text!r}")
    return dict(zip(facts.DFC2020_FOLDERS, values))


def run(args) -> int:
    # deferred: numpy and rasterio
    from ..demo.dfc2020_sample import check_dfc2020_options, make_dfc2020_sample
    from ..demo.sample import check_sample_options, make_sample

    if args.out is None and args.dfc2020 is None:
        raise UsageError("give --out DIR (the SEN12MS sample), --dfc2020 DIR (DFC2020-like zips), or both")
    counts = _counts(args.dfc2020_counts)
    try:  # every option checked before anything is written
        check_sample_options(args.patch_size, args.layout, args.lc_dtype)
        check_dfc2020_options(args.dfc2020_s1_dtype, args.dfc2020_dtype, args.dfc2020_structure)
        if args.out is not None:
            ids = make_sample(
                args.out, seed=args.seed, patch_size=args.patch_size, patches_per_scene=args.patches_per_scene,
                layout=args.layout, lc_dtype=args.lc_dtype,
                archives=args.archives or args.archives_only, tree=not args.archives_only,
                progress=lambda jobs: track(jobs, "sample", unit="triplet", quiet=args.quiet),
            )
            what = "archives of " if args.archives_only else ""
            print(f"wrote {what}{len(ids)} triplets ({args.patch_size}x{args.patch_size} px) to {args.out} "
                  f"({args.layout} layout, lc {args.lc_dtype})")
        if args.dfc2020 is not None:
            dfc = make_dfc2020_sample(
                args.dfc2020, seed=args.seed, patch_size=args.patch_size, counts=counts, layout=args.layout,
                lc_dtype=args.lc_dtype, s1_dtype=args.dfc2020_s1_dtype, dfc_dtype=args.dfc2020_dtype,
                structure=args.dfc2020_structure, zips=not args.dfc2020_extracted,
                georeferenced=args.dfc2020_georeferenced,
            )
            what = "folders" if args.dfc2020_extracted else "zips"
            print(f"wrote DFC2020 {what} of {len(dfc)} patches ({', '.join(f'{f} {n}' for f, n in counts.items())}; "
                  f"s1 {args.dfc2020_s1_dtype}, dfc {args.dfc2020_dtype}, {args.dfc2020_structure} folder at the top) "
                  f"to {args.dfc2020}")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return 0
