"""What the sub-commands share: exit codes, the --root and --quiet options, JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..dataset.root import ENV_VAR

EXIT_PROBLEMS = 1
EXIT_USAGE = 2


def add_root_argument(parser: argparse.ArgumentParser, help: str = "SEN12MS root") -> None:
    parser.add_argument(
        "--root", metavar="DIR", default=None,
        help=f"{help} (default: ${ENV_VAR})",
    )


def add_json_argument(parser: argparse.ArgumentParser, help: str = "print a machine-readable report") -> None:
    parser.add_argument("--json", action="store_true", help=help)


def add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def add_limit_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--limit", type=int, default=20, metavar="N",
                        help=f"list at most N {what} (default: 20; 0 = all)")


def finish(parser: argparse.ArgumentParser, run, *, json: bool = False) -> None:
    """The options every verb ends with (``--json`` when it has a report, ``--quiet``) and its ``run``."""
    if json:
        add_json_argument(parser)
    add_quiet_argument(parser)
    parser.set_defaults(func=run)


def print_listing(title: str, items: list, limit: int) -> None:
    """``title (N):`` and at most ``limit`` of ``items`` (0: all), one per line; nothing when empty."""
    if not items:
        return
    shown = items if limit == 0 else items[:limit]
    print(f"\n{title} ({len(items):,}):")
    for item in shown:
        print(f"  {item}")
    if len(shown) < len(items):
        print(f"  … and {len(items) - len(shown):,} more (--limit 0 lists all)")


def subparser(sub, name: str, help: str, description: str | None = None, epilog: str | None = None) -> argparse.ArgumentParser:
    return sub.add_parser(
        name, help=help, description=description or help, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
