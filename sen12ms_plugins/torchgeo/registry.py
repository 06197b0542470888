"""Put the plugin's SEN12MS where torchgeo looks for its own, and take it back out."""

from __future__ import annotations

import importlib

from torch.utils.data._utils.collate import default_collate_fn_map
from torchgeo.datamodules.sen12ms import SEN12MSDataModule

from . import datamodule
from .collate import BatchedSample, collate_batched
from .dataset import SEN12MS, UpstreamSEN12MS, upstream_init_with_hint
from .originals import install, restore
from .stored import StoredSpec, collate_specs

#: (module, attribute) pairs that name torchgeo's SEN12MS class.  The datamodule's
#: module looks the name up when ``SEN12MSDataModule`` builds its datasets.
TARGETS = (
    ("torchgeo.datasets", "SEN12MS"),
    ("torchgeo.datasets.sen12ms", "SEN12MS"),
    ("torchgeo.datamodules.sen12ms", "SEN12MS"),
)

#: Entries of torch's ``default_collate_fn_map`` (the extension point torch documents for
#: ``default_collate``): batches the dataset read whole, taken as they are (:mod:`.collate`),
#: and the description stored samples carry (:mod:`.stored`).
COLLATE = {BatchedSample: collate_batched, StoredSpec: collate_specs}

#: torchgeo's own ``__init__`` with the hint for the plugin's split names (see ``upstream_init_with_hint``).
_UPSTREAM_INIT = upstream_init_with_hint(UpstreamSEN12MS.__dict__["__init__"])


def register() -> None:
    """Make torchgeo's names refer to :class:`~sen12ms_plugins.torchgeo.SEN12MS`, give
    ``SEN12MSDataModule`` the project's splits and batches as stored (:mod:`.datamodule`),
    give torch's ``default_collate`` the entries of :data:`COLLATE`, and let torchgeo's own
    class, where a name bound before registration still refers to it, answer the plugin's
    split names with a one-line hint instead of a bare ``AssertionError``.  Idempotent."""
    for module_name, attr in TARGETS:
        install(importlib.import_module(module_name), attr, SEN12MS)
    for name, method in datamodule.METHODS.items():
        install(SEN12MSDataModule, name, method)
    install(UpstreamSEN12MS, "__init__", _UPSTREAM_INIT)
    default_collate_fn_map.update(COLLATE)


def unregister() -> None:
    """Give torchgeo its own classes and methods back, and torch its collation (a no-op when not registered)."""
    restore()
    for kind in COLLATE:
        default_collate_fn_map.pop(kind, None)


def is_registered() -> bool:
    """True when every name in :data:`TARGETS` refers to the plugin's class, the datamodule
    has the project's splits, torchgeo's class has the hint and ``default_collate`` takes the
    plugin's batches and stored samples."""
    return (
        all(getattr(importlib.import_module(m), a) is SEN12MS for m, a in TARGETS)
        and all(SEN12MSDataModule.__dict__.get(name) is method for name, method in datamodule.METHODS.items())
        and UpstreamSEN12MS.__dict__["__init__"] is _UPSTREAM_INIT
        and all(default_collate_fn_map.get(kind) is function for kind, function in COLLATE.items())
    )
