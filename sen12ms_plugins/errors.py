"""Exceptions raised by the core.  Each names the file (and line) it is about."""

from __future__ import annotations

import os


class SEN12MSError(Exception):
    """Base class of every error this package raises on purpose."""


class MalformedLineError(SEN12MSError, ValueError):
    """A line of a scene or patch list does not have the expected form."""

    def __init__(self, path: str | os.PathLike[str] | None, lineno: int | None, line: str, expected: str):
        self.path = None if path is None else os.fspath(path)
        self.lineno = lineno
        self.line = line
        where = self.path or "<input>"
        if lineno is not None:
            where = f"{where}:{lineno}"
        super().__init__(f"{where}: malformed line {line!r}; expected {expected}")


class MalformedNameError(SEN12MSError, ValueError):
    """A file name is not a SEN12MS patch file name."""


class PatchFileError(SEN12MSError):
    """A patch file is missing, unreadable or not shaped like a SEN12MS patch."""

    def __init__(self, path: str | os.PathLike[str], problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):
        # Rebuild from (path, problem), so the error survives a trip between processes.
        return type(self), (self.path, self.problem)


class RootError(SEN12MSError):
    """The dataset root is missing, unusable, or was not given."""


class NoRootGivenError(RootError):
    """No root was passed and ``SEN12MS_ROOT`` is not set (a usage error on the command line)."""


class EmptySplitError(SEN12MSError):
    """A split has no member in this root (for example no hold-out scene is present)."""
