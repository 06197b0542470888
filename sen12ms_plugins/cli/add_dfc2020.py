"""``sen12ms add-dfc2020``: add the DFC2020 validation and test sets (zips from IEEE DataPort) to a root."""

from __future__ import annotations

from pathlib import Path

from ..acquisition.dfc2020 import add_dfc2020
from ..console import print_table
from ..dataset import facts
from ._common import add_root_argument, finish, print_json, subparser
from .extract import print_skipped

DESCRIPTION = f"""\
Add the 2020 IEEE GRSS Data Fusion Contest's validation set ({facts.DFC2020_PATCHES['ROIs0000_validation']:,}
patches) and test set ({facts.DFC2020_PATCHES['ROIs0000_test']:,}), with hand-made 10 m labels in the
simplified 10-class scheme, to a SEN12MS root, as the splits dfc2020_validation and
dfc2020_test of every ecosystem.

The data is on IEEE DataPort behind a login, so it is never downloaded for you:
  {facts.DFC2020_URL}
Download into one folder (DIR) the zips of the sets you want, all four of each:
  validation: {', '.join(n for n, (f, _) in facts.DFC2020_ZIPS.items() if f == 'ROIs0000_validation')}
  test:       {', '.join(n for n, (f, _) in facts.DFC2020_ZIPS.items() if f == 'ROIs0000_test')}
DIR may hold folders extracted from them instead (DIR/s1_validation/ or
DIR/ROIs0000_validation/s1_validation/ …); a zip is preferred to its folder.

The patches go to ROOT/ROIs0000_validation/<sensor>_validation/ and
ROOT/ROIs0000_test/<sensor>_0/.  As for 'extract': safe (members that are not
patches are skipped and listed; links, '..', absolute paths, another set's or
sensor's folder, files larger than a patch refuse the source, and nothing is
written), atomic per set (written into a temporary folder of ROOT, moved into place,
the record last), once (a source already added is recognised without reading it).
The md5 of each zip (or of each file of a folder) and of every file written are
recorded; 'sen12ms verify' checks that they stay so.

examples:
  sen12ms add-dfc2020 --root /data/sen12ms --from ~/Downloads/dfc2020
  sen12ms add-dfc2020 --root /data/sen12ms --from /data/dfc2020-extracted --json

exit codes: 0 every source is added (or was already); 1 a source is missing or bad
(the message names it; nothing of its set was added); 2 usage error.
"""


def register(sub) -> None:
    p = subparser(sub, "add-dfc2020", "add the DFC2020 validation and test sets (zips from IEEE DataPort)",
                  DESCRIPTION)
    add_root_argument(p)
    p.add_argument("--from", dest="source", metavar="DIR", type=Path, required=True,
                   help="folder holding the DFC2020 zips (or folders extracted from them)")
    finish(p, run, json=True)


def run(args) -> int:
    report = add_dfc2020(args.root, args.source, quiet=args.quiet)
    if args.json:
        print_json(report.to_dict())
        return 0
    print(f"root: {report.root}")
    print_table(["source", "kind", "status", "files", "data type", "skipped", "md5 recorded"],
                [[o.name, o.kind, o.status, o.files, ",".join(o.dtypes) or "-", o.skipped_total, o.md5 or "-"]
                 for o in report.sources])
    for o in report.sources:
        print_skipped(o.name, o.skipped, o.skipped_total)
    print()
    print_table(["split", "patches"], [[f"dfc2020_{name}", report.patches[folder]]
                                       for name, folder in facts.DFC2020_SETS.items()])
    for note in report.notes:
        print(f"note: {note}")
    return 0
