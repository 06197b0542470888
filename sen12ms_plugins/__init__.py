"""SEN12MS plugins: one core to download, verify, index, split and read SEN12MS,
registered in torchgeo, TensorFlow Datasets and Hugging Face ``datasets``.

The layers (``docs/architecture.md``): :mod:`.dataset` (facts, ids, index, splits),
:mod:`.reading` (GeoTIFF readers, examples), :mod:`.acquisition` (sources, download,
extraction, verification), :mod:`.analysis` (statistics, map), :mod:`.demo` (sample,
cross-ecosystem check, demo); the adapters :mod:`.torchgeo`, :mod:`.tfds`, :mod:`.hf`
and the command line :mod:`.cli` sit on top.  The names below are the public API,
importable from this package directly.

Importing this package loads no machine-learning framework, nor numpy or rasterio:
the names that need numpy are imported when first used.
"""

from __future__ import annotations

# Before the imports below: modules they load read it (``from .. import __version__``).
__version__ = "0.1.0"

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .acquisition.download import download, ensure_dataset, select_archives
from .acquisition.extract import extract_archives
from .acquisition.fetch import fetch_archive
from .acquisition.verify import check_root, verify_archives, verify_tree
from .dataset import facts, labels
from .dataset.ids import PatchId, SceneId, parse_filename, parse_patch_id
from .dataset.index import Index, build_index
from .dataset.root import ENV_VAR, resolve_root
from .dataset.splits import ALIASES, DFC2020_SPLITS, SPLITS, Splits, compute_splits
from .errors import (
    ChecksumMismatchError,
    DFC2020NotAddedError,
    DFC2020SourceError,
    DownloadError,
    EmptySplitError,
    EmptySplitWarning,
    ExtractError,
    MalformedLineError,
    MalformedNameError,
    PatchFileError,
    RootError,
    SEN12MSError,
    SmallSplitWarning,
    TransferError,
    UnsafeArchiveError,
)

if TYPE_CHECKING:
    from .acquisition.dfc2020 import add_dfc2020
    from .analysis.stats import compute_stats
    from .analysis.worldmap import make_map, scene_locations
    from .demo.dfc2020_sample import make_dfc2020_sample
    from .demo.sample import make_sample
    from .reading.reader import GeoReference, georeference, read_file, read_triplet


# These import numpy (and rasterio when used): deferred so that importing the package,
# the CLI's parser or an adapter's defaults stays cheap.
_LAZY = {
    "read_triplet": "reading.reader", "read_file": "reading.reader", "georeference": "reading.reader",
    "GeoReference": "reading.reader", "compute_stats": "analysis.stats", "make_map": "analysis.worldmap",
    "scene_locations": "analysis.worldmap", "make_sample": "demo.sample",
    "add_dfc2020": "acquisition.dfc2020", "make_dfc2020_sample": "demo.dfc2020_sample",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ALIASES", "DFC2020_SPLITS", "ENV_VAR", "SPLITS",
    "ChecksumMismatchError", "DFC2020NotAddedError", "DFC2020SourceError", "DownloadError", "EmptySplitError", "EmptySplitWarning", "ExtractError", "GeoReference", "Index",
    "MalformedLineError", "MalformedNameError", "PatchFileError", "PatchId", "RootError", "SEN12MSError",
    "SceneId", "SmallSplitWarning", "Splits", "TransferError", "UnsafeArchiveError",
    "add_dfc2020", "build_index", "check_root", "compute_splits", "compute_stats", "download", "ensure_dataset",
    "extract_archives", "facts", "fetch_archive", "georeference", "labels", "make_dfc2020_sample", "make_map", "make_sample",
    "parse_filename", "parse_patch_id", "read_file", "read_triplet", "resolve_root", "scene_locations",
    "select_archives", "verify_archives", "verify_tree",
]
