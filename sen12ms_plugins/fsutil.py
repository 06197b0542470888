"""Small file-system helpers: atomic writes and swaps, writability, links, the per-user cache folder."""

from __future__ import annotations

import ctypes
import errno
import functools
import hashlib
import os
import sys
import tempfile
from pathlib import Path

from .errors import RootError

#: errno values that mean "no room left".
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
#: errno values with which renameat2 says "not on this system or file system".
_NO_EXCHANGE_ERRNOS = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP})


@functools.cache
def _renameat2():
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2  # glibc 2.28 and later
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def exchange_paths(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Swap ``a`` and ``b`` (both must exist) in one atomic step, so that at every moment each
    name holds one of the two; False, changing nothing, where the system or the file system
    cannot (Linux ``renameat2(RENAME_EXCHANGE)`` is used).  Other failures raise OSError."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in _NO_EXCHANGE_ERRNOS:
        return False
    raise OSError(err, os.strerror(err), os.fspath(a), None, os.fspath(b))


def is_writable_dir(path: str | os.PathLike[str]) -> bool:
    """True when files can be created in ``path`` (checked by trying, as permissions lie under root)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".sen12ms-probe.", dir=path)
    except OSError:
        return False
    os.close(fd)
    os.unlink(tmp)
    return True


def make_writable_dir(path: str | os.PathLike[str], what: str) -> Path:
    """Create ``path`` (and its parents) if missing and check that files can be written in it.

    Raises :class:`~sen12ms_plugins.errors.RootError` naming the folder and the reason,
    before any work starts (``what`` says which folder it is, e.g. "SEN12MS root").
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise RootError(f"{path}: {what} is not a folder") from None
    except OSError as exc:
        raise RootError(f"{path}: cannot create the {what}: {exc.strerror}") from None
    if not is_writable_dir(path):
        raise RootError(f"{path}: cannot write into the {what} (read-only or no permission)")
    return path


def user_cache_dir() -> Path:
    """``$SEN12MS_CACHE_DIR``, else ``$XDG_CACHE_HOME/sen12ms-plugins``, else ``~/.cache/sen12ms-plugins``."""
    explicit = os.environ.get("SEN12MS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "sen12ms-plugins")


def root_cache_dir(root: str | os.PathLike[str]) -> Path:
    """The folder of the user cache kept for one dataset root, named after its absolute path:
    what only speeds things up (the index) and, for a root that cannot be written, its
    bookkeeping.  Nothing is created here."""
    root = Path(root).resolve()
    key = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    return user_cache_dir() / "roots" / f"{root.name or 'root'}-{key}"


def link_file(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Make ``target`` the same file as ``source`` without copying it: a hard link, else a
    relative symbolic link (both in one folder).  An existing ``target`` is replaced.

    This is how the adapters give ``train`` the files of its two parts instead of storing
    90% of SEN12MS twice.  Raises OSError naming both files when neither link can be made.
    """
    src, dst = os.fspath(source), os.fspath(target)
    if os.path.lexists(dst):
        os.unlink(dst)
    try:
        os.link(src, dst)
    except OSError as hard_error:
        try:
            os.symlink(os.path.basename(src), dst)
        except OSError as soft_error:
            raise OSError(f"{dst}: cannot link to {src} (hard link: {hard_error}; symbolic link: {soft_error})") from None
