"""``sen12ms extract``: extract downloaded archives, safely and once."""

from __future__ import annotations

from ..acquisition.download import select_archives
from ..acquisition.extract import extract_archives
from ..console import print_table
from ..errors import UsageError
from ._common import add_root_argument, finish, print_json, subparser

DESCRIPTION = """\
Extract the SEN12MS archives in ROOT into ROOT (ROIs<season>/<sensor>_<scene>/…).

Safe: members that are not patches but harmless (a README, macOS ._* files, folders
outside <season>/<sensor>_<scene>/) are skipped, never written, and listed; an archive
holding anything dangerous (absolute paths, '..', links, devices, another season's or
sensor's folders, a file larger than a patch can be) is refused and nothing is written.
Atomic per archive: members go to a temporary folder in ROOT, the archive's md5 is
confirmed (hashed in the same pass unless already verified), then the scene folders
are moved into place; on any error (including a full disk) the temporary folder is
deleted.  Once: an extracted archive is recorded with its md5 and skipped next time.

examples:
  sen12ms extract --root /data/sen12ms
  sen12ms extract --root /data/sen12ms --seasons winter --delete-archives

exit codes: 0 every archive is extracted; 1 an archive failed (the message names it);
2 usage error.
"""


def register(sub) -> None:
    p = subparser(sub, "extract", "extract downloaded archives (safe, atomic, once)", DESCRIPTION)
    add_root_argument(p)
    p.add_argument("--seasons", metavar="LIST", help="comma-separated: spring,summer,fall,winter (default: all present)")
    p.add_argument("--sensors", metavar="LIST", help="comma-separated: s1,s2,lc (default: all present)")
    p.add_argument("--checksums", metavar="FILE|URL", help="md5 manifest replacing the official md5s")
    p.add_argument("--delete-archives", action="store_true", help="delete each archive once its content is in place")
    finish(p, run, json=True)


#: Skipped members printed per archive (the JSON report and the extraction record list more).
SHOWN_SKIPS = 10


def print_skipped(name: str, skipped, total: int) -> None:
    """List the members of ``name`` that were skipped as not patches."""
    if not total:
        return
    print(f"\n{name}: skipped {total:,} member(s) that are not patches (never written):")
    for item in skipped[:SHOWN_SKIPS]:
        print(f"  {item.member}: {item.reason}")
    if total > min(len(skipped), SHOWN_SKIPS):
        print(f"  … and {total - min(len(skipped), SHOWN_SKIPS):,} more (--json lists up to {len(skipped):,})")


def run(args) -> int:
    names = None
    if args.seasons or args.sensors:
        try:
            names = select_archives(args.seasons, args.sensors)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    report = extract_archives(args.root, names=names, delete_archives=args.delete_archives, quiet=args.quiet,
                              checksums=args.checksums)
    if args.json:
        print_json(report.to_dict())
    else:
        print(f"root: {report.root}")
        print_table(["archive", "status", "files", "skipped", "seconds"],
                    [[o.name, o.status, o.files, o.skipped_total, f"{o.seconds:.1f}"] for o in report.outcomes])
        for o in report.outcomes:
            print_skipped(o.name, o.skipped, o.skipped_total)
    return 0 if report.ok else 1
