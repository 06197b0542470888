"""Where the dataset is: one rule for the CLI and every ecosystem adapter.

The root is the folder that holds the season folders (``ROIs1158_spring`` …) and,
when downloaded by us, the archives.  It is taken from, in this order:

1. the explicit argument (``--root`` on the command line, ``root=`` in Python,
   the builder argument in TFDS and ``datasets``);
2. the ``SEN12MS_ROOT`` environment variable;
3. where an ecosystem has its own convention (TFDS's ``manual_dir``, the
   ``data_dir`` of ``datasets.load_dataset``), that, as passed by the adapter.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import NoRootGivenError, RootError

ENV_VAR = "SEN12MS_ROOT"


def resolve_root(
    root: str | os.PathLike[str] | None = None,
    *,
    fallback: str | os.PathLike[str] | None = None,
    must_exist: bool = True,
) -> Path:
    """Return the dataset root following the rule above.

    ``fallback`` is an ecosystem's own convention (rule 3).  With ``must_exist``
    the root has to be an existing folder; otherwise it is only resolved.
    """
    chosen = root if root not in (None, "") else os.environ.get(ENV_VAR) or fallback
    if chosen in (None, ""):
        raise NoRootGivenError(
            f"no SEN12MS root given: pass it explicitly (--root DIR, root=DIR) or set {ENV_VAR}"
        )
    path = Path(os.fspath(chosen)).expanduser()
    if must_exist:
        if not path.exists():
            raise RootError(f"{path}: SEN12MS root does not exist")
        if not path.is_dir():
            raise RootError(f"{path}: SEN12MS root is not a folder")
    return path
