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


def add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def subparser(sub, name: str, help: str, description: str | None = None, epilog: str | None = None) -> argparse.ArgumentParser:
    return sub.add_parser(
        name, help=help, description=description or help, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
