"""The fastest gzip decoder available: python-isal (ISA-L) when installed, else zlib.

ISA-L inflates about twice as fast as zlib; its threaded reader also moves the
decompression to a second thread, so it overlaps with writing the extracted files.
``benchmarks/bench_download.py`` measures the result against ``tar xzf``.
"""

from __future__ import annotations

import gzip
import zlib
from typing import BinaryIO

#: Block handed from the decompression thread to the reader.
BLOCK_SIZE = 1 << 20

try:
    from isal import igzip as _igzip
    from isal import igzip_threaded as _igzip_threaded
    from isal import isal_zlib as _isal_zlib
except ImportError:  # python-isal is optional; zlib always works
    _igzip = _igzip_threaded = _isal_zlib = None


def decoder_name() -> str:
    """Which decoder :func:`open_gzip` uses, for reports and benchmarks."""
    return "python-isal (threaded)" if _igzip_threaded is not None else "zlib (gzip module)"


def open_gzip(fileobj: BinaryIO) -> BinaryIO:
    """A readable stream of the decompressed bytes of ``fileobj`` (a gzip stream, possibly
    multi-member).  Closing it does not close ``fileobj``."""
    if _igzip_threaded is not None:
        return _igzip_threaded.open(fileobj, "rb", threads=1, block_size=BLOCK_SIZE)
    return gzip.GzipFile(fileobj=fileobj, mode="rb")


def decode_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "this is not a valid gzip stream" (corrupt or truncated)."""
    errors: list[type[BaseException]] = [gzip.BadGzipFile, zlib.error, EOFError]
    if _isal_zlib is not None:
        errors.append(_isal_zlib.error)
    if _igzip is not None:
        errors.append(_igzip.BadGzipFile)
    return tuple(errors)
