"""SEN12MS for torchgeo.  Importing this package registers the plugin:

>>> import sen12ms_plugins.torchgeo
>>> from torchgeo.datasets import SEN12MS
>>> ds = SEN12MS("/data/sen12ms", split="holdout")   # doctest: +SKIP

``torchgeo.datasets.SEN12MS``, ``torchgeo.datasets.sen12ms.SEN12MS`` and the class
``torchgeo.datamodules.SEN12MSDataModule`` builds its datasets from then refer to
:class:`SEN12MS`, and that datamodule trains on ``train_minus_validation``, validates on
the scene-level ``validation`` and tests on ``holdout``, moving batches as the files store
them and making torchgeo's batch of them on the device; :func:`unregister` restores
torchgeo's own.  ``SEN12MS(..., stored=True)``, :class:`SEN12MSLoader` and
:func:`torchgeo_batch` do the same in a loop of one's own.
"""

from __future__ import annotations

from ..errors import MissingExtraError

try:  # checked first, so that a missing extra is one clear line, not a deep traceback
    import lightning  # noqa: F401
    import torch  # noqa: F401
    import torchgeo  # noqa: F401
except ImportError as _exc:
    raise (MissingExtraError.from_import_error(_exc, "sen12ms_plugins.torchgeo") or _exc) from None

from .conversion import torchgeo_batch  # noqa: E402
from .dataset import SEN12MS, SPLIT_NAMES, UnknownSplitError, UpstreamSEN12MS  # noqa: E402
from .loader import SEN12MSLoader  # noqa: E402
from .registry import is_registered, register, unregister  # noqa: E402
from .stored import StoredSpec  # noqa: E402

register()

__all__ = [
    "SEN12MS",
    "SEN12MSLoader",
    "SPLIT_NAMES",
    "StoredSpec",
    "UnknownSplitError",
    "UpstreamSEN12MS",
    "is_registered",
    "register",
    "torchgeo_batch",
    "unregister",
]
