"""Put the plugin's SEN12MS where torchgeo looks for its own, and take it back out."""

from __future__ import annotations

import importlib

from .dataset import SEN12MS

#: (module, attribute) pairs that name torchgeo's SEN12MS class.  The datamodule's
#: module looks the name up when ``SEN12MSDataModule`` builds its datasets.
TARGETS = (
    ("torchgeo.datasets", "SEN12MS"),
    ("torchgeo.datasets.sen12ms", "SEN12MS"),
    ("torchgeo.datamodules.sen12ms", "SEN12MS"),
)

_originals: dict[tuple[str, str], type] = {}


def register() -> None:
    """Make torchgeo's names refer to :class:`~sen12ms_plugins.torchgeo.SEN12MS` (idempotent)."""
    for module_name, attr in TARGETS:
        module = importlib.import_module(module_name)
        current = getattr(module, attr)
        if current is not SEN12MS:
            _originals.setdefault((module_name, attr), current)
            setattr(module, attr, SEN12MS)


def unregister() -> None:
    """Give torchgeo its own classes back (a no-op when not registered)."""
    for (module_name, attr), original in _originals.items():
        setattr(importlib.import_module(module_name), attr, original)
    _originals.clear()


def is_registered() -> bool:
    """True when every name in :data:`TARGETS` refers to the plugin's class."""
    return all(getattr(importlib.import_module(m), a) is SEN12MS for m, a in TARGETS)
