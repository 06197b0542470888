"""SEN12MS for Hugging Face ``datasets`` (3.6 with the loading script, 4.x and 5.x without).

* :class:`Sen12ms` — the ``GeneratorBasedBuilder`` (``builder.download_and_prepare()``,
  ``builder.as_dataset(split="holdout")``); ``hf_loading_script/sen12ms.py`` subclasses it.
* :func:`export_hf` — a data-only dataset directory (Parquet shards + dataset card)
  for ``load_dataset(DIR)`` and the Hub (``sen12ms export-hf``).
* :func:`prepare_hf` — prepares the ``datasets`` cache so that
  ``load_dataset("sen12ms", "all", split="holdout")`` works by name, offline, from any
  working directory (``sen12ms prepare-hf``).
* :func:`table_to_numpy` — Arrow batches to numpy with the files' dtypes
  (``with_format("numpy")`` widens uint16 to int64);
* :func:`torch_loader`, :class:`TorchSplit` — a split for torch's ``DataLoader`` with the
  files' dtypes (``with_format("torch")`` widens uint16 to int64).

These names import ``datasets`` and ``pyarrow`` (the ``hf`` extra; ``torch_loader`` and
``TorchSplit`` torch too) when first used, so the CLI can read this package's defaults
without them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ..errors import MissingExtraError

if TYPE_CHECKING:
    from .builder import Sen12ms
    from .export import export_hf
    from .features import hf_features, table_to_numpy
    from .prepare import prepare_hf
    from .torch_split import TorchSplit, torch_loader

#: Target uncompressed size of one exported shard (``datasets`` uses 500 MB for its own Parquet exports).
DEFAULT_SHARD_SIZE = 500 * 1000**2
#: Largest uncompressed row group of an export (``datasets``/Hub convention: 100 MB).
DEFAULT_ROW_GROUP_SIZE = 100 * 1000**2

# Each name imports ``datasets`` and ``pyarrow``: deferred, so that the CLI can read the
# defaults above without the [hf] extra.
_LAZY = {
    "Sen12ms": "builder", "export_hf": "export",
    "hf_features": "features", "table_to_numpy": "features", "prepare_hf": "prepare",
    "TorchSplit": "torch_split", "torch_loader": "torch_split",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        try:
            module = import_module(f".{_LAZY[name]}", __name__)
        except ImportError as exc:
            raise (MissingExtraError.from_import_error(exc, f"sen12ms_plugins.hf.{name}") or exc) from None
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Sen12ms", "TorchSplit", "export_hf", "hf_features", "prepare_hf", "table_to_numpy", "torch_loader"]
