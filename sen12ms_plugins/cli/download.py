"""``sen12ms download``: fetch the archives, resumable and checksummed; optionally extract them."""

from __future__ import annotations

import sys

from ..acquisition.download import DEFAULT_JOBS, download
from ..acquisition.sources import DEFAULT_TIMEOUT
from ..acquisition.transfer import DEFAULT_BACKOFF, DEFAULT_RETRIES
from ..console import print_table
from ..errors import DownloadError, UsageError
from ._common import add_root_argument, finish, print_json, subparser
from .extract import print_skipped

DESCRIPTION = """\
Fetch the 12 SEN12MS archives (ROIs<season>_<sensor>.tar.gz, ~510 GB in all) into
ROOT, from the official FTP endpoint, then the official HTTPS share, or from the
mirrors you give (tried in order).  Every archive is checked against its md5 while
it streams in (the official md5s, or those of --checksums); data sits at
<archive>.part until its md5 matched.  Interrupted transfers resume (HTTP Range,
FTP REST); a re-run transfers nothing already complete and verified.  Dropped
connections, timeouts and 5xx answers are retried with backoff; 4xx answers, refused
logins, an HTML or text page instead of the archive, and a size that differs from
the verified one move on to the next mirror at once; md5 mismatches fail with a
message (a bad file is moved to <archive>.rejected, .rejected.1, ..., never left at
its final name).  Sizes servers announce are remembered in ROOT/.sen12ms; a change
is reported (and a part fetched against the old size restarted).

Mirrors: http(s)://host/folder/ (or a URL with {name} where the archive name goes),
ftp://user:password@host/folder/, file:///folder/ or a local folder.

examples:
  sen12ms download --root /data/sen12ms --dry-run
  sen12ms download --root /data/sen12ms --seasons spring,fall --sensors s2,lc --extract
  sen12ms download --root /data/sen12ms --stream          # extract while downloading
  sen12ms download --root /tmp/s --mirror http://127.0.0.1:8000/ --checksums http://127.0.0.1:8000/md5sums.txt

exit codes: 0 every archive is there and verified (and extracted if asked); 1 an
archive could not be obtained (the message names it and why); 2 usage error.
"""


def register(sub) -> None:

    p = subparser(sub, "download", "download (and extract) the SEN12MS archives", DESCRIPTION)
    add_root_argument(p, "folder to download into, created if missing")
    p.add_argument("--seasons", metavar="LIST", help="comma-separated: spring,summer,fall,winter (default: all)")
    p.add_argument("--sensors", metavar="LIST", help="comma-separated: s1,s2,lc (default: all)")
    p.add_argument("--mirror", metavar="URL", action="append", dest="mirrors",
                   help="where to download from; repeat to give fallbacks (default: the official FTP, then HTTPS)")
    p.add_argument("--checksums", metavar="FILE|URL",
                   help="md5 manifest ('<md5>  <archive>' per line) replacing the official md5s")
    p.add_argument("--jobs", type=int, default=DEFAULT_JOBS, metavar="N",
                   help=f"archives transferred at once (default: {DEFAULT_JOBS})")
    p.add_argument("--extract", action="store_true", help="extract each archive once verified")
    p.add_argument("--delete-archives", action="store_true", help="delete each archive once extracted (needs --extract)")
    p.add_argument("--stream", action="store_true",
                   help="extract while downloading: the archives never sit on disk (md5 still checked)")
    p.add_argument("--dry-run", action="store_true", help="show what is there and what would be fetched; change nothing")
    p.add_argument("--retries", type=int, default=DEFAULT_RETRIES, metavar="N",
                   help=f"failures in a row tolerated per archive and mirror (default: {DEFAULT_RETRIES})")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"a connection silent this long is dropped and retried (default: {DEFAULT_TIMEOUT:g})")
    p.add_argument("--backoff", type=float, default=DEFAULT_BACKOFF, metavar="SECONDS",
                   help=f"wait before the first retry, doubled at each further one (default: {DEFAULT_BACKOFF:g})")
    finish(p, run, json=True)


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def run(args) -> int:

    if args.delete_archives and not (args.extract or args.stream):
        raise UsageError("--delete-archives needs --extract (archives are deleted once extracted)")
    try:
        report = download(
            args.root, seasons=args.seasons, sensors=args.sensors, mirrors=args.mirrors, checksums=args.checksums,
            jobs=args.jobs, extract=args.extract, delete_archives=args.delete_archives, stream=args.stream,
            quiet=args.quiet, dry_run=args.dry_run, retries=args.retries, timeout=args.timeout, backoff=args.backoff,
        )
        failed = None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except DownloadError as exc:
        if exc.report is None:
            raise
        report, failed = exc.report, exc
    if args.json:
        print_json(report.to_dict())
    else:
        _print(report)
    if failed is not None:
        print(f"sen12ms download: error: {failed}", file=sys.stderr)
        return 1
    return 0


def _print(report) -> None:
    print(f"root: {report.root}")
    print(f"mirrors: {', '.join(report.mirrors)}")
    if report.dry_run:
        print_table(["archive", "status", "on disk", "size"],
                    [[a.name, a.status, _size(a.have), _size(a.size)] for a in report.archives])
        todo = [a for a in report.archives if a.status in ("would fetch", "would resume")]
        unknown = [a for a in todo if a.size is None]
        left = sum((a.size or 0) - (a.have if a.status == "would resume" else 0) for a in todo)
        print(f"\nwould fetch {len(todo)} of {len(report.archives)} archives, {_size(left)}"
              + (f" plus {len(unknown)} of unknown size" if unknown else ""))
        for a in report.archives:
            if a.error:
                print(f"  note: {a.error}")
        for a in unknown:
            print(f"  {a.name}: {a.source}")
        return
    print_table(["archive", "status", "fetched", "size", "extracted"],
                [[a.name, a.status, _size(a.fetched), _size(a.size), "yes" if a.extracted else "no"]
                 for a in report.archives])
    for a in report.archives:
        print_skipped(a.name, a.skipped, a.skipped_total)
    notes = [note for a in report.archives for note in a.notes]
    if notes:
        print()
    for note in notes:
        print(f"note: {note}")
    print(f"\nfetched {_size(report.fetched)} in {report.seconds:.1f} s")
