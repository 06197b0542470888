"""``sen12ms stats``: class distributions and band statistics per split and season."""

from __future__ import annotations

import sys
from pathlib import Path

from ..console import print_table
from ..dataset import facts
from ..errors import MissingExtraError, UsageError
from ._common import EXIT_PROBLEMS, add_root_argument, finish, subparser
from ._paths import check_writable

DEFAULT_OUT = "sen12ms-stats"

DESCRIPTION = """\
Read every triplet of the chosen splits once (streaming, bounded memory) and count,
per split and per season (and all seasons together):
  - pixels per class and patches containing each class, for IGBP (17 classes), the
    simplified DFC scheme (10) and the three LCCS layers; LCCS 255 is listed as
    "unclassified" and any code outside a scheme's legend as "unknown" (never dropped);
  - scene-level labels: patches per single label and per multi-label class
    (simplified scheme, share >= 0.1);
  - per S1 and S2 band: count, NaNs (counted and excluded), mean, std, min, max and
    the 2nd/98th percentiles (from histograms: within 8 units for S2, 0.01 dB for S1).
Splits: train, holdout (alias test), validation, train_minus_validation, and all
(every complete triplet, the damaged patch included).  A triplet in train is read
once and counted in train and in validation or train_minus_validation.  When ROOT
holds DFC2020 ('sen12ms add-dfc2020'), also dfc2020_validation and dfc2020_test: their
patches have no season (counted in "all" seasons only), and their DFC classes and
scene labels are those of the contest's 10 m labels.

Writes into --out: stats.json, patches.csv, class_counts.csv, scene_labels.csv,
band_stats.csv and classes_<SCHEME>.png (log-scale bars per split and season).

examples:
  sen12ms stats --root /data/sen12ms --out stats/ --jobs 2
  sen12ms stats --split train,validation --no-charts --out stats/

Without --split, a split without patches in ROOT (a partial root) is left out; a
warning and stats.json ("empty_splits") say which and why.

exit codes: 0 done; 1 a patch file cannot be read (the message names it), a split
asked for by name is empty, or ROOT holds no triplet; 2 usage error.
"""


def register(sub) -> None:
    p = subparser(sub, "stats", "class distributions and band statistics per split and season", DESCRIPTION)
    add_root_argument(p)
    p.add_argument("--split", action="append", metavar="NAME",
                   help="split(s) to count, repeatable or comma-separated: train, holdout (test), validation, "
                        "train_minus_validation, all, dfc2020_validation, dfc2020_test (default: all five, and the "
                        "DFC2020 splits the root holds)")
    p.add_argument("--out", metavar="DIR", type=Path, default=Path(DEFAULT_OUT),
                   help=f"folder for the JSON, CSV and PNG files (default: ./{DEFAULT_OUT})")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="processes reading in parallel (default: 1)")
    p.add_argument("--no-charts", action="store_true", help="write the tables only, no PNG charts")
    finish(p, run)


def run(args) -> int:
    from ..analysis.stats import ALL_SEASONS, compute_stats, normalise_splits  # deferred: numpy

    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    names = None
    if args.split:
        names = [n.strip() for value in args.split for n in value.split(",") if n.strip()]
        try:
            normalise_splits(names)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out} exists and is not a folder")
    check_writable(args.out, "--out")  # before the long pass, not after it
    if not args.no_charts:
        MissingExtraError.require(("matplotlib",), "the charts (--no-charts writes the tables only)")

    stats = compute_stats(args.root, splits=names, jobs=args.jobs, quiet=args.quiet)
    try:
        written = stats.write(args.out)
        if not args.no_charts:
            from ..analysis.charts import write_class_charts  # deferred: matplotlib, the [plot] extra

            written += write_class_charts(stats, args.out)
    except OSError as exc:
        print(f"sen12ms stats: error: cannot write into {args.out}: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS

    seasons = [facts.SEASON_SHORT[s] for s in facts.SEASONS]
    print(f"root: {stats.root}")
    print_table(["patches", *seasons, "all"],
                [[split, *(stats[split, s].patches for s in [*seasons, ALL_SEASONS])] for split in stats.splits])
    first = stats.splits[0]
    print(f"\nbands of {first}, all seasons (nan = NaN or infinite values, excluded):")
    rows = []
    for sensor, bands in stats[first, ALL_SEASONS].bands.items():
        for b in bands:
            values = [b.mean, b.std, b.min, b.max, b.p2, b.p98]
            rows.append([f"{sensor} {b.band}", b.count, b.nan, *("-" if v is None else f"{v:.2f}" for v in values)])
    print_table(["band", "count", "nan", "mean", "std", "min", "max", "p2", "p98"], rows)
    print(f"\nwrote {len(written)} files to {args.out}: {', '.join(p.name for p in written)}")
    return 0
