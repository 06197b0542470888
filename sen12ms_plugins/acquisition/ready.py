"""Can an ecosystem adapter build from a root, and, when the user asked for it, completing it first.

The adapters (TFDS, Hugging Face) never download unless asked (``download=True``).
Without it, :func:`require_ready` fails at once, before anything is created, when the root

* does not exist, or is not a folder;
* holds no complete triplet (the s1, s2 and lc files of one patch);
* holds an unfinished download: an archive of the request recorded by ``sen12ms download``
  (:mod:`.selection`) is not extracted.  A partial download made on purpose
  (``--seasons``/``--sensors``) is finished once its own archives are extracted.

Each error is one line naming the root, what is wrong and the command that fixes it.
With ``download=True`` the adapter calls :func:`fetch_missing`, which completes the recorded
request (all 12 archives when there is none), saying how much that is first, and touches
no network when nothing is missing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..console import write_message
from ..dataset import facts
from ..dataset.index import Index, build_index
from ..errors import RootError
from ..fsutil import existing_meta_dir
from .checksums import ChecksumSpec
from .download import Mirrors, ensure_dataset
from .selection import EVERYTHING, SELECTION_NAME, Selection, not_extracted, read_selection


def require_ready(root: str | os.PathLike[str], *, opt_in: str) -> Index:
    """The index of ``root`` when an adapter can build from it; else :class:`RootError`.

    ``opt_in`` completes the message with the adapter's way to download, e.g.
    ``or pass download=True``.
    """
    root = Path(root)
    how = f"`{EVERYTHING.command(root)}` ({EVERYTHING.describe()}), {opt_in}"
    if not root.exists():
        raise RootError(f"{root}: SEN12MS root does not exist; to download SEN12MS into it run {how}")
    if not root.is_dir():
        raise RootError(f"{root}: SEN12MS root is not a folder")
    selection = read_selection(root)
    if selection is not None:
        missing = not_extracted(root, selection)
        if missing:
            record = existing_meta_dir(root) / SELECTION_NAME
            raise RootError(
                f"{root}: unfinished download: {len(missing)} of the {len(selection.archives)} archives recorded in "
                f"{record} are not extracted ({', '.join(missing)}); complete it with "
                f"`{selection.command(root)}`, {opt_in}")
    index = _index(root)
    if not index.triplets and not index.dfc2020:  # DFC2020 alone makes a root too (its two splits)
        if selection is not None:
            raise RootError(f"{root}: the download recorded there (`{selection.command(root)}`) holds no complete "
                            f"triplet: a patch needs its {', '.join(facts.SENSORS)} files")
        raise RootError(f"{root}: holds no SEN12MS triplet (the {', '.join(facts.SENSORS)} files of a patch in "
                        f"<season>/<sensor>_<scene>/ folders); to download SEN12MS into it run {how}")
    return index


def fetch_missing(
    root: str | os.PathLike[str],
    *,
    mirrors: Mirrors | None = None,
    checksums: ChecksumSpec = None,
    quiet: bool = False,
) -> Index:
    """Download and extract what ``root`` lacks of its recorded request (all 12 archives when
    nothing was recorded and the root holds no triplet), then return its index.

    A tree not made by the downloader that holds triplets is used as it is.  How much is
    to come is printed first; when nothing is missing no mirror is contacted.
    """
    root = Path(root)
    selection = read_selection(root)
    if selection is None:
        index = _index(root) if root.is_dir() else None
        if index is not None and index.triplets:
            return index  # extracted by hand, torchgeo's folder, the sample: used as it is
        selection = EVERYTHING
    missing = not_extracted(root, selection) if root.is_dir() else list(selection.archives)
    if missing:
        if not quiet:
            write_message(_announcement(root, selection, missing))
        ensure_dataset(root, seasons=selection.seasons, sensors=selection.sensors, mirrors=mirrors,
                       checksums=checksums, quiet=quiet)
    return require_ready(root, opt_in="then try again")


def _index(root: Path) -> Index:
    """The root's index; a folder without any season (or DFC2020) folder is not indexed, as
    indexing would leave bookkeeping in a folder that may not be meant as a root at all."""
    if any((root / folder).is_dir() for folder in facts.TOP_FOLDERS):
        return build_index(root)
    return Index(root=root, triplets=())


def _announcement(root: Path, selection: Selection, missing: Sequence[str]) -> str:
    todo = "" if len(missing) == len(selection.archives) else f"; {len(missing)} of them still to download or extract"
    return f"sen12ms: downloading SEN12MS into {root}: {selection.describe()}{todo}"
