"""``sen12ms prepare-hf``: make ``datasets.load_dataset("sen12ms")`` work by bare name, offline."""

from __future__ import annotations

from ..errors import UsageError
from ..reading.configs import CONFIGS, DEFAULT_CONFIG
from ._common import add_root_argument, subparser

DESCRIPTION = """\
Prepare SEN12MS in the Hugging Face datasets cache (HF_DATASETS_CACHE, else
HF_HOME/datasets, else ~/.cache/huggingface/datasets) under the name "sen12ms".
Afterwards, with datasets 4.x or 5.x, from any working directory:

  HF_HUB_OFFLINE=1 python -c 'import datasets; print(datasets.load_dataset("sen12ms", split="holdout"))'

datasets looks for "sen12ms" in this order: a folder ./sen12ms in the working
directory (it would win), the Hub (skipped with HF_HUB_OFFLINE=1, or when the Hub
has no such repository or cannot be reached), then this cache.  Without a
configuration name the newest preparation is loaded; "all" is kept the newest when
it is prepared.  Name one to be sure: load_dataset("sen12ms", "s2", split="train").

Running it again reuses what is prepared for this root while its files are unchanged
(names, sizes and modification times); a file rewritten since, even in place, gets the
root prepared anew, replacing the older preparation.  Preparations of other roots are
kept (the last root prepared is the one the bare name loads; prepare-hf again to switch
back, instantly).  Unfinished folders are removed only when a prepare-hf run that is gone
left them; another process's work is left alone.

examples:
  sen12ms prepare-hf --root /data/sen12ms
  sen12ms prepare-hf --config all --config s2 --num-proc 4
  sen12ms prepare-hf --cache-dir /scratch/hf-cache   # then load_dataset(..., cache_dir="/scratch/hf-cache")

A split without patches in ROOT (a partial root) is not prepared; a warning says
which and why.

exit codes: 0 prepared; 1 bad or incomplete data (no triplet at all, a patch file is
unreadable; the message names it); 2 usage error.
"""


def register(sub) -> None:

    p = subparser(sub, "prepare-hf", "prepare the datasets cache for load_dataset(\"sen12ms\")", DESCRIPTION)
    add_root_argument(p)
    p.add_argument("--config", action="append", choices=list(CONFIGS), metavar="NAME",
                   help=f"configuration to prepare, repeatable: {', '.join(CONFIGS)} "
                        f"(default: the {DEFAULT_CONFIG!r} configuration)")
    p.add_argument("--cache-dir", metavar="DIR", default=None,
                   help="datasets cache to prepare (default: the one load_dataset uses)")
    p.add_argument("--num-proc", type=int, default=None, metavar="N", help="worker processes (default: 1)")
    p.add_argument("--force", action="store_true", help="regenerate even if this root is already prepared")
    p.set_defaults(func=run)


def run(args) -> int:

    if args.num_proc is not None and args.num_proc < 1:
        raise UsageError(f"--num-proc must be at least 1, got {args.num_proc}")
    from ..hf.prepare import prepare_hf  # deferred: the [hf] extra

    report = prepare_hf(args.root, configs=args.config or [DEFAULT_CONFIG], cache_dir=args.cache_dir,
                        num_proc=args.num_proc, force=args.force)
    for name, location in report.locations.items():
        counts = ", ".join(f"{split} {n:,}" for split, n in report.counts[name].items())
        print(f"{name}: {counts}\n  in {location}")
    for path in report.removed:
        print(f"removed (older preparation of this root, or left unfinished by a prepare-hf run that is gone): {path}")
    for path, other in report.kept.items():
        print(f"kept, prepared from {other or 'an unknown root'}: {path}")
    for path, why in report.left_alone.items():
        print(f"left alone, {why}: {path}")
    print('load it with: datasets.load_dataset("sen12ms", split="holdout")'
          + ("" if args.cache_dir is None else f' (cache_dir="{args.cache_dir}")'))
    return 0
