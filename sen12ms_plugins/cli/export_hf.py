"""``sen12ms export-hf``: write a data-only Hugging Face dataset directory (Parquet + dataset card)."""

from __future__ import annotations

from ..dataset.splits import SPLITS, parts_of
from ..errors import UsageError
from ..hf import DEFAULT_ROW_GROUP_SIZE, DEFAULT_SHARD_SIZE
from ..reading.configs import CONFIGS
from ._common import add_root_argument, finish, subparser

DESCRIPTION = """\
Export a SEN12MS root as a Hugging Face dataset directory that datasets 3.x, 4.x
and 5.x load without a loading script, offline or streaming, and that can be
uploaded to the Hub as it is:

  DIR/README.md                                     dataset card (YAML configs, features, licence, citation)
  DIR/data/<config>/<split>-NNNNN-of-MMMMM.parquet  holdout, validation, train_minus_validation

train is not stored twice: the card lists the train_minus_validation and
validation shards for it.  Shards are written under temporary names and renamed
when complete; run the same command again after an interruption and the finished
shards are kept.  README.md is written last: a directory with a card is complete.

configurations: all (s1, s2, lc), s2, s1s2 -- every one unless --config is given.

examples:
  sen12ms export-hf --root /data/sen12ms --out /data/sen12ms-hf
  sen12ms export-hf --out /data/sen12ms-hf --config s2 --num-proc 4
  python -c 'import datasets; print(datasets.load_dataset("/data/sen12ms-hf", "s2", split="holdout"))'

A split without patches in ROOT (a partial root: no hold-out scene, a single
non-hold-out scene) is left out; a warning and the card say which and why.

exit codes: 0 exported; 1 bad or incomplete data (no triplet at all, a patch file
is unreadable; the message names it); 2 usage error.
"""


def _size(text: str) -> int:
    """'500MB', '64MiB', '1000000' -> bytes."""
    units = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3}
    stripped = text.strip().upper()
    number = stripped.rstrip("KMGIB")
    unit = stripped[len(number):]
    try:
        value = float(number) * units[unit]
    except (KeyError, ValueError):
        raise UsageError(f"not a size: {text!r} (e.g. 500MB, 64MiB, 1000000)") from None
    if value < 1:
        raise UsageError(f"size must be positive: {text!r}")
    return int(value)


def register(sub) -> None:
    p = subparser(sub, "export-hf", "export Parquet shards and a dataset card for Hugging Face datasets", DESCRIPTION)
    add_root_argument(p)
    p.add_argument("--out", metavar="DIR", required=True, help="output directory (created; an earlier export is resumed)")
    p.add_argument("--config", action="append", choices=list(CONFIGS), metavar="NAME",
                   help=f"configuration to export, repeatable: {', '.join(CONFIGS)} (default: every one)")
    p.add_argument("--num-proc", type=int, default=1, metavar="N", help="worker processes (default: 1)")
    p.add_argument("--shard-size", default=f"{DEFAULT_SHARD_SIZE // 1000**2}MB", metavar="SIZE",
                   help="uncompressed bytes per shard (default: %(default)s)")
    p.add_argument("--row-group-size", default=f"{DEFAULT_ROW_GROUP_SIZE // 1000**2}MB", metavar="SIZE",
                   help="largest uncompressed Parquet row group (default: %(default)s)")
    finish(p, run)


def run(args) -> int:
    if args.num_proc < 1:
        raise UsageError(f"--num-proc must be at least 1, got {args.num_proc}")
    shard_size, row_group_size = _size(args.shard_size), _size(args.row_group_size)
    from ..hf.export import export_hf  # deferred: needs the [hf] extra (datasets, pyarrow)

    report = export_hf(args.root, args.out, configs=args.config, num_proc=args.num_proc, shard_size=shard_size,
                       row_group_size=row_group_size, quiet=args.quiet)
    for config, per_split in report.shards.items():
        stored = {split: sum(r.rows for r in shards) for split, shards in per_split.items()}
        # every split of the export (train is made of its stored parts), in the project's order
        rows = {name: sum(stored[p] for p in parts_of(name) if p in stored) for name in SPLITS
                if any(p in stored for p in parts_of(name))}
        counts = ", ".join(f"{split} {n:,}" for split, n in rows.items())
        size = sum(r.file_bytes for shards in per_split.values() for r in shards)
        print(f"{config}: {counts} ({sum(len(s) for s in per_split.values())} shards, {size / 1e6:,.1f} MB)")
    print(f"wrote {report.written} shards ({report.triplets_written:,} triplets), kept {report.reused} "
          f"in {report.seconds:.1f} s; dataset card: {report.out / 'README.md'}")
    return 0
