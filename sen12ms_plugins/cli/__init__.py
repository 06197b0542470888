"""The ``sen12ms`` command.

Every sub-command lives in its own module of this package and is listed in
:data:`COMMANDS`; each module has ``register(subparsers)``, which adds its parser
and sets ``func(args) -> int`` as the handler.

Exit codes, for every sub-command: 0 success; 1 the command ran and found problems
(or failed on bad data, with a message naming the file, or needs an optional
dependency that is missing, with the extra to install); 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

from .. import __version__
from ..errors import MissingExtraError, NoRootGivenError, SEN12MSError, UsageError
from ._common import EXIT_PROBLEMS, EXIT_USAGE

#: Sub-command modules, in the order ``--help`` lists them.
COMMANDS = ["demo", "sample", "download", "extract", "verify", "index", "splits", "stats", "map", "export-hf",
            "prepare-hf"]

EPILOG = """\
The dataset root is given with --root, or else taken from the SEN12MS_ROOT
environment variable.

exit codes: 0 success, 1 problems found or bad data (the message names the file),
2 usage error.  Run 'sen12ms COMMAND --help' for a command's options.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sen12ms",
        description="Download, verify, index, split and read the SEN12MS dataset.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        import_module(f".{name.replace('-', '_')}", __name__).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, NoRootGivenError) as exc:
        parser.exit(EXIT_USAGE, f"sen12ms {args.command}: error: {exc}\n")
    except SEN12MSError as exc:
        print(f"sen12ms {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except ImportError as exc:  # an optional dependency the verb needs (one line naming the extra)
        missing = MissingExtraError.from_import_error(exc, "this command")
        print(f"sen12ms {args.command}: error: {missing or f'cannot import {exc.name or exc}: {exc}'}", file=sys.stderr)
        return EXIT_PROBLEMS
    except OSError as exc:  # the environment (disk, permissions, network): no traceback, the file named
        print(f"sen12ms {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        print(f"sen12ms {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_PROBLEMS
    raise AssertionError("unreachable")


if __name__ == "__main__":
    sys.exit(main())
