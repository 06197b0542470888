"""Put the plugin's SEN12MS where torchgeo looks for its own, and take it back out."""

from __future__ import annotations

import importlib
from typing import Any

from torchgeo.datamodules.sen12ms import SEN12MSDataModule

from . import collate, datamodule
from .dataset import SEN12MS

#: (module, attribute) pairs that name torchgeo's SEN12MS class.  The datamodule's
#: module looks the name up when ``SEN12MSDataModule`` builds its datasets.
TARGETS = (
    ("torchgeo.datasets", "SEN12MS"),
    ("torchgeo.datasets.sen12ms", "SEN12MS"),
    ("torchgeo.datamodules.sen12ms", "SEN12MS"),
)

_originals: dict[tuple[Any, str], Any] = {}


def register() -> None:
    """Make torchgeo's names refer to :class:`~sen12ms_plugins.torchgeo.SEN12MS`, give
    ``SEN12MSDataModule`` the project's splits (:mod:`.datamodule`) and let torch's
    ``default_collate`` take the batches the dataset reads whole as they are
    (:mod:`.collate`).  Idempotent."""
    for module_name, attr in TARGETS:
        _install(importlib.import_module(module_name), attr, SEN12MS)
    for name, method in datamodule.METHODS.items():
        _install(SEN12MSDataModule, name, method)
    collate.install()


def _install(owner: Any, attr: str, value: Any) -> None:
    current = owner.__dict__[attr]
    if current is not value:
        _originals.setdefault((owner, attr), current)
        setattr(owner, attr, value)


def original(owner: Any, attr: str) -> Any:
    """What ``owner.attr`` was before registration (the same when not registered)."""
    return _originals.get((owner, attr), owner.__dict__[attr])


def unregister() -> None:
    """Give torchgeo its own classes and methods back, and torch its collation (a no-op when not registered)."""
    for (owner, attr), value in _originals.items():
        setattr(owner, attr, value)
    _originals.clear()
    collate.uninstall()


def is_registered() -> bool:
    """True when every name in :data:`TARGETS` refers to the plugin's class, the
    datamodule has the project's splits and ``default_collate`` the plugin's batches."""
    return all(getattr(importlib.import_module(m), a) is SEN12MS for m, a in TARGETS) and all(
        SEN12MSDataModule.__dict__[name] is method for name, method in datamodule.METHODS.items()
    ) and collate.is_installed()
