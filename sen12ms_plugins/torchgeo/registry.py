"""Put the plugin's SEN12MS where torchgeo looks for its own, and take it back out."""

from __future__ import annotations

import importlib

from torchgeo.datamodules.sen12ms import SEN12MSDataModule

from . import collate, datamodule, stored
from .dataset import SEN12MS, UpstreamSEN12MS, upstream_init_with_hint
from .originals import install, restore

#: (module, attribute) pairs that name torchgeo's SEN12MS class.  The datamodule's
#: module looks the name up when ``SEN12MSDataModule`` builds its datasets.
TARGETS = (
    ("torchgeo.datasets", "SEN12MS"),
    ("torchgeo.datasets.sen12ms", "SEN12MS"),
    ("torchgeo.datamodules.sen12ms", "SEN12MS"),
)

#: torchgeo's own ``__init__`` with the hint for the plugin's split names (see ``upstream_init_with_hint``).
_UPSTREAM_INIT = upstream_init_with_hint(UpstreamSEN12MS.__dict__["__init__"])


def register() -> None:
    """Make torchgeo's names refer to :class:`~sen12ms_plugins.torchgeo.SEN12MS`, give
    ``SEN12MSDataModule`` the project's splits and batches as stored (:mod:`.datamodule`), let torch's
    ``default_collate`` take the batches the dataset reads whole as they are (:mod:`.collate`)
    and collate stored samples (:mod:`.stored`),
    and let torchgeo's own class, where a name bound before registration still refers to it,
    answer the plugin's split names with a one-line hint instead of a bare ``AssertionError``.
    Idempotent."""
    for module_name, attr in TARGETS:
        install(importlib.import_module(module_name), attr, SEN12MS)
    for name, method in datamodule.METHODS.items():
        install(SEN12MSDataModule, name, method)
    install(UpstreamSEN12MS, "__init__", _UPSTREAM_INIT)
    collate.install()
    stored.install()


def unregister() -> None:
    """Give torchgeo its own classes and methods back, and torch its collation (a no-op when not registered)."""
    restore()
    collate.uninstall()
    stored.uninstall()


def is_registered() -> bool:
    """True when every name in :data:`TARGETS` refers to the plugin's class, the datamodule
    has the project's splits, torchgeo's class has the hint and ``default_collate`` takes the
    plugin's batches and stored samples."""
    return (
        all(getattr(importlib.import_module(m), a) is SEN12MS for m, a in TARGETS)
        and all(SEN12MSDataModule.__dict__.get(name) is method for name, method in datamodule.METHODS.items())
        and UpstreamSEN12MS.__dict__["__init__"] is _UPSTREAM_INIT
        and collate.is_installed()
        and stored.is_installed()
    )
