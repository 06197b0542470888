"""SEN12MS plugins: one core to download, verify, index, split and read SEN12MS,
registered in torchgeo, TensorFlow Datasets and Hugging Face ``datasets``.

The core imports no machine-learning framework; the adapters live in
``sen12ms_plugins.torchgeo``, ``sen12ms_plugins.tfds`` and ``sen12ms_plugins.hf``
and are imported only when asked for.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    EmptySplitError,
    MalformedLineError,
    MalformedNameError,
    PatchFileError,
    RootError,
    SEN12MSError,
)
from .ids import PatchId, SceneId, parse_filename, parse_patch_id
from .index import Index, build_index
from .root import ENV_VAR, resolve_root
from .splits import ALIASES, SPLITS, Splits, compute_splits

if TYPE_CHECKING:
    from .reader import GeoReference, georeference, read_triplet

__version__ = "0.1.0"

# numpy and rasterio are imported only when the reader is first used.
_LAZY = {"read_triplet": "reader", "georeference": "reader", "GeoReference": "reader"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ALIASES", "ENV_VAR", "SPLITS",
    "EmptySplitError", "GeoReference", "Index", "MalformedLineError", "MalformedNameError",
    "PatchFileError", "PatchId", "RootError", "SEN12MSError", "SceneId", "Splits",
    "build_index", "compute_splits", "georeference", "parse_filename", "parse_patch_id",
    "read_triplet", "resolve_root",
]
