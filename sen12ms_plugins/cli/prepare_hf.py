"""``sen12ms prepare-hf``: make ``datasets.load_dataset("sen12ms", "all")`` work by name, offline."""

from __future__ import annotations

from ..errors import UsageError
from ..reading.configs import CONFIGS, DEFAULT_CONFIG
from ._common import add_root_argument, subparser

DESCRIPTION = """\
Prepare SEN12MS in the Hugging Face datasets cache (HF_DATASETS_CACHE, else
HF_HOME/datasets, else ~/.cache/huggingface/datasets) under the name "sen12ms".
Afterwards, with datasets 4.x or 5.x, from any working directory:

  HF_HUB_OFFLINE=1 python -c 'import datasets; print(datasets.load_dataset("sen12ms", "all", split="holdout"))'

Name the configuration ("all", "s2", "s1s2"): datasets looks for "sen12ms" first in a
folder ./sen12ms of the working directory, then on the Hub (skipped with
HF_HUB_OFFLINE=1), then in this cache.  A folder ./sen12ms (your SEN12MS root, say)
makes the named call fail loudly ("BuilderConfig 'all' not found"): run from elsewhere.
The call without a configuration would load that folder instead, and cache it under
the name, where it shadows this preparation from then on; prepare-hf lists such
foreign entries and --remove-foreign removes them.

Running it again reuses what is prepared for this root while its files are unchanged
(names, sizes and modification times); a file rewritten since, even in place, gets the
root prepared anew, replacing the older preparation.  Preparations of other roots are
kept (the last root prepared is the one the name loads; prepare-hf again to switch
back, instantly).  Unfinished folders are removed only when a prepare-hf run that is gone
left them; another process's work is left alone.

examples:
  sen12ms prepare-hf --root /data/sen12ms
  sen12ms prepare-hf --config all --config s2 --num-proc 4
  sen12ms prepare-hf --cache-dir /scratch/hf-cache   # then load_dataset(..., cache_dir="/scratch/hf-cache")
  sen12ms prepare-hf --remove-foreign                # also remove what was cached under the name by mistake

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
    p.add_argument("--remove-foreign", action="store_true",
                   help="remove the entries under the name sen12ms that no prepare-hf made (listed otherwise)")
    p.set_defaults(func=run)


def run(args) -> int:

    if args.num_proc is not None and args.num_proc < 1:
        raise UsageError(f"--num-proc must be at least 1, got {args.num_proc}")
    from ..hf.prepare import prepare_hf  # deferred: the [hf] extra

    report = prepare_hf(args.root, configs=args.config or [DEFAULT_CONFIG], cache_dir=args.cache_dir,
                        num_proc=args.num_proc, force=args.force, remove_foreign=args.remove_foreign)
    for name, location in report.locations.items():
        counts = ", ".join(f"{split} {n:,}" for split, n in report.counts[name].items())
        print(f"{name}: {counts}\n  in {location}")
    for path in report.removed:
        print(f"removed (older preparation of this root, or left unfinished by a prepare-hf run that is gone): {path}")
    for path, other in report.kept.items():
        print(f"kept, prepared from {other or 'an unknown root'}: {path}")
    for path, why in report.left_alone.items():
        print(f"left alone, {why}: {path}")
    for path, what in report.foreign.items():
        print(f"not from prepare-hf ({what}; load_dataset(\"sen12ms\") without a configuration may load it): "
              f"{path}; remove it with: sen12ms prepare-hf --remove-foreign")
    for path, what in report.removed_foreign.items():
        print(f"removed, not from prepare-hf ({what}): {path}")
    config = DEFAULT_CONFIG if DEFAULT_CONFIG in report.locations else next(iter(report.locations))
    cache_dir = "" if args.cache_dir is None else f', cache_dir="{args.cache_dir}"'
    print(f'load it with: datasets.load_dataset("sen12ms", "{config}", split="holdout"{cache_dir})')
    return 0
