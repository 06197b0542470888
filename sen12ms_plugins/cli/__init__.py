"""The ``sen12ms`` command.

Every sub-command lives in its own module of this package and is listed in
:data:`COMMANDS`; each module has ``register(subparsers)``, which adds its parser
and sets ``func(args) -> int`` as the handler.

Exit codes, for every sub-command: 0 success; 1 the command ran and found problems
(or failed on bad data, with a message naming the file, or needs an optional
dependency that is missing, with the extra to install); 2 usage error.  A warning of
the package (an :class:`~sen12ms_plugins.errors.EmptySplitWarning`: a split left out
on a partial root) is one line on stderr, ``sen12ms COMMAND: warning: …``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from importlib import import_module

from .. import __version__
from ..console import write_message
from ..errors import EmptySplitWarning, MissingExtraError, NoRootGivenError, SEN12MSError, UsageError
from ._common import EXIT_PROBLEMS, EXIT_USAGE

#: Sub-command modules, in the order ``--help`` lists them.
COMMANDS = ["demo", "sample", "download", "extract", "add-dfc2020", "verify", "index", "splits", "stats", "map", "export-hf",
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
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warnings(args.command, warnings.showwarning)
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


def _one_line_warnings(command: str, show):
    """``warnings.showwarning`` that prints the package's warnings as one line each (no source
    line, no file position) and leaves every other warning to ``show``."""

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, EmptySplitWarning):
            write_message(f"sen12ms {command}: warning: {message}", file)
        else:
            show(message, category, filename, lineno, file, line)

    return showwarning


if __name__ == "__main__":
    sys.exit(main())
