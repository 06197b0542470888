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

Two names here are torchgeo's own classes, not classes of this package, so that a
LightningCLI config (``torchgeo fit --config …``) that names them imports, and so registers,
the plugin while it is parsed:

* :data:`SEN12MSDataModule` is ``torchgeo.datamodules.SEN12MSDataModule`` itself (the same
  object: LightningCLI refuses a short name two classes share, and registration changes the
  class's methods, not the class); ``data.class_path: sen12ms_plugins.torchgeo.SEN12MSDataModule``;
* :data:`SemanticSegmentation` is the installed torchgeo's segmentation task,
  ``torchgeo.tasks.SemanticSegmentation`` from torchgeo 0.10 on, ``torchgeo.trainers.SemanticSegmentationTask``
  before (torchgeo 0.8 and 0.9 have no ``torchgeo.tasks``), so that one config runs on both.

``python -m sen12ms_plugins.torchgeo fit|validate|test|predict …`` is torchgeo's command
line with the plugin registered first, for configs that name torchgeo's classes only.
"""

from __future__ import annotations

from ..errors import MissingExtraError

try:  # checked first, so that a missing extra is one clear line, not a deep traceback
    import lightning  # noqa: F401
    import torch  # noqa: F401
    import torchgeo  # noqa: F401
except ImportError as _exc:
    raise (MissingExtraError.from_import_error(_exc, "sen12ms_plugins.torchgeo") or _exc) from None

from torchgeo.datamodules import SEN12MSDataModule  # noqa: E402  (torchgeo's class, re-exported)

try:  # torchgeo >= 0.10
    from torchgeo.tasks import SemanticSegmentation  # noqa: E402
except ImportError:  # torchgeo 0.8, 0.9 (the newest for Python 3.11 is 0.8.1)
    from torchgeo.trainers import SemanticSegmentationTask as SemanticSegmentation  # noqa: E402

from .conversion import torchgeo_batch  # noqa: E402
from .dataset import SEN12MS, SPLIT_NAMES, SEN12MSNotFoundError, UnknownSplitError, UpstreamSEN12MS  # noqa: E402
from .loader import SEN12MSLoader  # noqa: E402
from .registry import is_registered, register, unregister  # noqa: E402
from .stored import StoredSpec  # noqa: E402

register()

__all__ = [
    "SEN12MS",
    "SPLIT_NAMES",
    "SEN12MSDataModule",
    "SEN12MSLoader",
    "SEN12MSNotFoundError",
    "SemanticSegmentation",
    "StoredSpec",
    "UnknownSplitError",
    "UpstreamSEN12MS",
    "is_registered",
    "register",
    "torchgeo_batch",
    "unregister",
]
