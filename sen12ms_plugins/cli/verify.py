"""``sen12ms verify``: md5 of the archives, completeness (and headers) of the extracted tree."""

from __future__ import annotations

from ..acquisition.verify import VerificationReport, verify_archives, verify_tree
from ..console import print_table
from ..dataset import facts
from ..dataset.root import resolve_root
from ..errors import UsageError
from ._common import add_limit_argument, add_root_argument, finish, print_json, print_listing, subparser

DESCRIPTION = """\
Check a SEN12MS root.

Archives: each ROIs<season>_<sensor>.tar.gz present is md5-hashed (several files in
parallel) and compared with the official md5 (or --checksums, or the md5s the root
was downloaded with).  Each verified archive is remembered by size and modification
time, so a second run reads nothing and is instant.

Tree: every patch must have its s1, s2 and lc file; missing files, orphaned partners
and entries that are not SEN12MS patches are listed; every scene with a folder of one
sensor must have the others' folders; every GeoTIFF must be as long as its header says
(its size, and one header per folder and size).  What should be there: the archives of
the root's recorded download ('sen12ms download' records its request), and the folders
the last passing verify saw; --accept-removed takes those removed since as removed on
purpose.  Counts are compared with the
official ones where they are known and the tree is complete (hold-out patches per
season, total {total:,}, train {train:,}); --full compares them whatever was extracted
here.  --deep also opens every GeoTIFF header: band count, data type, 256x256 pixels
(--patch-size), a CRS, and a TIFF structure that does not contradict itself or the
file (damaged headers are listed, never a crash).

DFC2020 (added by 'sen12ms add-dfc2020'): its patches are checked like SEN12MS's
(four files each), and every file add-dfc2020 wrote must still have the md5 it
recorded (a file unchanged in size, time and inode is not read again; --deep reads
them all, and the values of files whose data type is narrowed: s1 float64, dfc int32).
--full also compares their counts with the release's (986 and 5,128).

By default both are checked, as far as the root holds them.

examples:
  sen12ms verify --root /data/sen12ms
  sen12ms verify --root /data/sen12ms --tree --deep --json > report.json

exit codes: 0 all good; 1 problems found (listed); 2 usage error.
""".format(total=facts.TOTAL_TRIPLETS, train=facts.TRAIN_PATCHES)


def register(sub) -> None:
    p = subparser(sub, "verify", "check archive md5s and the extracted tree", DESCRIPTION)
    add_root_argument(p)
    what = p.add_mutually_exclusive_group()
    what.add_argument("--archives", action="store_true", help="check only the archives")
    what.add_argument("--tree", action="store_true", help="check only the extracted tree")
    p.add_argument("--checksums", metavar="FILE|URL", help="md5 manifest replacing the official md5s")
    p.add_argument("--jobs", type=int, default=None, metavar="N", help="files checked at once (default: CPUs)")
    p.add_argument("--deep", action="store_true", help="open every GeoTIFF header (slow on the full dataset)")
    p.add_argument("--full", action="store_true", help="compare counts with the official ones in any case")
    p.add_argument("--accept-removed", action="store_true",
                   help="take folders removed since the last passing verify as removed on purpose")
    p.add_argument("--patch-size", type=int, default=facts.PATCH_SIZE, metavar="PX",
                   help=f"expected patch size for --deep (default: {facts.PATCH_SIZE}; 0 = any square size)")
    add_limit_argument(p, "files per kind of problem")
    finish(p, run, json=True)


def run(args) -> int:
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.patch_size < 0:
        raise UsageError("--patch-size must be positive (or 0 for any)")
    root = resolve_root(args.root)
    want_archives = args.archives or not args.tree
    want_tree = args.tree or not args.archives
    present = [n for n in facts.ARCHIVE_MD5 if (root / n).is_file()]
    has_tree = any((root / folder).is_dir() for folder in facts.TOP_FOLDERS)
    report = VerificationReport(root)
    if want_archives and (present or args.archives):
        report.merge(verify_archives(root, names=None if args.archives and not present else present,
                                     checksums=args.checksums, jobs=args.jobs, quiet=args.quiet))
    if want_tree and (has_tree or args.tree):
        report.merge(verify_tree(root, deep=args.deep, patch_size=args.patch_size or None,
                                 full=True if args.full else None, jobs=args.jobs, quiet=args.quiet,
                                 accept_removed=args.accept_removed))
    if report.archives is None and report.tree is None:
        report.problems.append(f"{root}: holds neither SEN12MS archives nor an extracted tree")
    if args.json:
        print_json(report.to_dict())
    else:
        _print(report, args.limit)
    return 0 if report.ok else 1


def _print(report, limit: int) -> None:
    print(f"root: {report.root}")
    if report.archives is not None:
        print()
        print_table(["archive", "status", "md5", "checked"],
                    [[a.name, a.status, a.actual or "-", "remembered" if a.remembered else ("hashed" if a.actual else "-")]
                     for a in report.archives])
    tree = report.tree
    if tree is not None:
        print()
        holdout = tree.splits.get("holdout", {})
        print_table(["season", "triplets", "hold-out"],
                    [[s, tree.per_season.get(s, 0), holdout.get(s, 0)] for s in facts.SEASONS]
                    + [["total", tree.triplets, holdout.get("total", 0)]])
        if tree.dfc2020:
            print()
            print_table(["DFC2020 set", "patches"], [[folder, n] for folder, n in tree.dfc2020.items()])
        if tree.compared:
            print(f"compared with the official counts: {', '.join(tree.compared)}")
        print_listing("missing files", tree.missing, limit)
        print_listing("orphaned files (their triplet is incomplete)", tree.orphans, limit)
        print_listing("entries that are not SEN12MS patches", tree.strays, limit)
        checked = "GeoTIFF headers checked" if tree.deep else "GeoTIFFs checked for their length"
        print(f"\n{checked}: {tree.files_checked:,}")
        print_listing("bad GeoTIFFs", [f"{b['path']}: {b['problem']}" for b in tree.bad_files], limit)
    for note in report.notes:
        print(f"note: {note}")
    if report.problems:
        print(f"\n{len(report.problems)} problem(s):")
        for problem in report.problems:
            print(f"  {problem}")
    else:
        print(f"\nall good ({report.seconds:.2f} s)")
