"""What registering the plugin replaced in torchgeo, kept so that it can still be called and put back.

The datamodule's methods call torchgeo's own through :func:`original`, and
:mod:`.registry` installs and restores through :func:`install` and :func:`restore`.
"""

from __future__ import annotations

from typing import Any

#: (owner, attribute) -> what it was before :func:`install` replaced it.
_originals: dict[tuple[Any, str], Any] = {}
#: Stands for an attribute the owner only inherits (``val_dataloader`` of the datamodule).
_INHERITED = object()


def install(owner: Any, attr: str, value: Any) -> None:
    """Set ``owner.attr`` to ``value``, remembering what it was the first time."""
    current = owner.__dict__.get(attr, _INHERITED)
    if current is not value:
        _originals.setdefault((owner, attr), current)
        setattr(owner, attr, value)


def original(owner: Any, attr: str) -> Any:
    """What ``owner.attr`` was before :func:`install` (the same when nothing was installed)."""
    value = _originals.get((owner, attr), owner.__dict__.get(attr, _INHERITED))
    return getattr(super(owner, owner), attr) if value is _INHERITED else value


def restore() -> None:
    """Put back everything :func:`install` replaced."""
    for (owner, attr), value in _originals.items():
        if value is _INHERITED:
            delattr(owner, attr)
        else:
            setattr(owner, attr, value)
    _originals.clear()
