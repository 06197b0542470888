"""torchgeo's ``SEN12MSDataModule`` on the project's named splits.

Registering the plugin (:mod:`sen12ms_plugins.torchgeo.registry`) installs the two
methods below on torchgeo's own ``SEN12MSDataModule`` class, so that the datamodule
people already use (and configure in LightningCLI by its name) trains on
``train_minus_validation``, validates on ``validation`` (whole scenes, about 10% of
``train`` in every season, the same in every ecosystem) and tests on ``holdout``.
Upstream instead draws a random 80/20 scene split of ``train`` for validation.

The class itself is not replaced: LightningCLI resolves ``class_path:
SEN12MSDataModule`` by class name and refuses a name that two classes share.
"""

from __future__ import annotations

from typing import Any

from torchgeo.datamodules.geo import NonGeoDataModule

from .dataset import SEN12MS

Sample = dict[str, Any]


def setup(self, stage: str) -> None:
    """Set up datasets from the project's splits.

    Args:
        stage: Either 'fit', 'validate', 'test', or 'predict'.
    """
    if stage in ("fit", "validate"):
        self.train_dataset = SEN12MS(split="train_minus_validation", **self.kwargs)
        self.val_dataset = SEN12MS(split="validation", **self.kwargs)
    if stage == "test":
        self.test_dataset = SEN12MS(split="holdout", **self.kwargs)


def on_after_batch_transfer(self, batch: Sample, dataloader_idx: int) -> Sample:
    """Map IGBP masks to the simplified scheme, as upstream does, but leave a mask alone
    that the dataset already returns in another layer (``label=...``)."""
    from .registry import original  # here, not at the top: the registry imports this module

    if self.kwargs.get("label", "IGBP") == "IGBP":
        return original(type(self), "on_after_batch_transfer")(self, batch, dataloader_idx)
    return NonGeoDataModule.on_after_batch_transfer(self, batch, dataloader_idx)


#: The methods registration installs on torchgeo's ``SEN12MSDataModule``.
METHODS = {"setup": setup, "on_after_batch_transfer": on_after_batch_transfer}
