"""``sen12ms demo``: the whole pipeline on the built-in sample, end to end."""

from __future__ import annotations

from pathlib import Path

from ._common import add_quiet_argument, subparser

DESCRIPTION = """\
Run the whole pipeline on the built-in sample and check it: build the sample,
index it, split it, and print the patch counts per split and season.  Ends with
OK (exit 0) or FAILED (exit 1).

examples:
  sen12ms demo
  sen12ms demo --workdir /tmp/sen12ms-demo --keep
"""


def register(sub) -> None:
    from .. import facts

    p = subparser(sub, "demo", "run the end-to-end demo on the built-in sample", DESCRIPTION)
    p.add_argument("--workdir", type=Path, help="work folder (default: a temporary folder, removed afterwards)")
    p.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    p.add_argument("--patch-size", type=int, default=facts.PATCH_SIZE,
                   help=f"sample patch size in pixels (default: {facts.PATCH_SIZE}, as the real data)")
    p.add_argument("--patches-per-scene", type=int, default=2, help="sample triplets per scene (default: 2)")
    add_quiet_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..demo import run_demo

    ok = run_demo(args.workdir, patch_size=args.patch_size, patches_per_scene=args.patches_per_scene,
                  keep=args.keep, quiet=args.quiet)
    return 0 if ok else 1
