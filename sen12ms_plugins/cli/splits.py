"""``sen12ms splits``: patch counts per split, and upstream-format patch lists."""

from __future__ import annotations

import sys
from pathlib import Path

from ..console import print_table
from ..dataset import facts
from ..dataset.ids import format_scene_list, write_patch_list
from ..dataset.index import build_index
from ..dataset.splits import ALIASES, DFC2020_SPLITS, SPLITS, compare_upstream_lists, compute_splits
from ..errors import EmptySplitError
from ..fsutil import atomic_write_bytes
from ._common import add_json_argument, add_root_argument, print_json, subparser

#: The file --write-lists writes the validation scenes to.
VALIDATION_SCENES_NAME = "validation_scenes.txt"

DESCRIPTION = """\
Compute the named splits of a root and print their patch counts per season:
  holdout                 the {holdout} official hold-out scenes (torchgeo: "test")
  train                   every other complete triplet except the damaged patch
  validation              ~10% of train, whole scenes, stratified by season
  train_minus_validation  train without validation
and, when ROOT holds DFC2020 ('sen12ms add-dfc2020'):
  dfc2020_validation      the contest's validation patches, 10 m labels
  dfc2020_test            the contest's test patches, 10 m labels
With --write-lists DIR, also write <split>_list.txt for each split in upstream's
format (S2 file names, CRLF), plus test_list.txt (the hold-out under torchgeo's name),
and validation_scenes.txt: the validation scenes in the toolbox's scene-list format
(<season folder>/s2_<scene>, one a line, as its ValidationScenes.txt).
When ROOT holds upstream's train_list.txt or test_list.txt (torchgeo reads them),
each is compared with its split (train, holdout).

exit codes: 0 every split has patches and the upstream lists present agree with
them; 1 a split is empty, or a list differs or has a malformed line (the reason
is printed); 2 usage error.
""".format(holdout=facts.HOLDOUT_SCENES)


def register(sub) -> None:
    p = subparser(sub, "splits", "count patches per split; write split lists", DESCRIPTION)
    add_root_argument(p)
    add_json_argument(p, "print counts (and validation scenes) as JSON")
    p.add_argument("--write-lists", metavar="DIR", type=Path, help="write upstream-format patch lists into DIR")
    p.set_defaults(func=run)


def run(args) -> int:

    splits = compute_splits(build_index(args.root))
    comparisons = compare_upstream_lists(splits)  # a malformed line stops here, naming file and line
    counts = splits.counts()
    problems = []
    for name in SPLITS:
        try:
            splits[name]
        except EmptySplitError as exc:
            problems.append(str(exc))
    problems += [str(c) for c in comparisons if not c.agrees]
    if args.json:
        print_json({
            "root": str(splits.index.root),
            "counts": counts,
            "validation_scenes": [s.line("s1") for s in splits.validation_scenes],
            "upstream_lists": {c.path.name: {"split": c.split, "listed": c.listed, "agrees": c.agrees,
                                             "not_here": len(c.not_here), "not_listed": len(c.not_listed)}
                               for c in comparisons},
        })
    else:
        print_table(["split", *(facts.SEASON_SHORT[s] for s in facts.SEASONS), "total"],
                    [[name, *(counts[name].values() if name in SPLITS else ["-"] * len(facts.SEASONS)
                              + [counts[name]["total"]])] for name in splits.names])
        for comparison in comparisons:
            if comparison.agrees:
                print(f"\n{comparison}")
    if args.write_lists:
        args.write_lists.mkdir(parents=True, exist_ok=True)
        names = [*SPLITS, *ALIASES, *(n for n in DFC2020_SPLITS if n in splits.names)]
        for name in names:
            members = splits.members[ALIASES.get(name, name)]
            if members:
                write_patch_list(args.write_lists / f"{name}_list.txt", members)
        written = [f"{n}_list.txt" for n in names if splits.members[ALIASES.get(n, n)]]
        if splits.validation_scenes:
            atomic_write_bytes(args.write_lists / VALIDATION_SCENES_NAME, format_scene_list(splits.validation_scenes))
            written.append(VALIDATION_SCENES_NAME)
        if not args.json:
            print(f"\nwrote {', '.join(written)} to {args.write_lists}")
    for problem in problems:
        print(f"sen12ms splits: {problem}", file=sys.stderr)
    return 1 if problems else 0
