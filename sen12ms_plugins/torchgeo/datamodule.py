"""torchgeo's ``SEN12MSDataModule`` on the project's named splits.

Registering the plugin (:mod:`sen12ms_plugins.torchgeo.registry`) installs the two
methods below on torchgeo's own ``SEN12MSDataModule`` class, so that the datamodule
people already use (and configure in LightningCLI by its name) trains on
``train_minus_validation``, validates on ``validation`` (whole scenes, about 10% of
``train`` in every season, the same in every ecosystem) and tests on ``holdout``.
Upstream instead draws a random 80/20 scene split of ``train`` for validation.

On a root with fewer than two non-hold-out scenes ``validation`` is empty: ``fit`` then
trains on ``train_minus_validation`` without validation (one ``EmptySplitWarning``, on
rank 0, says so and why; ``val_dataloader`` gives no loader, so Lightning skips the
validation loop), while ``validate`` asks for the split by name and fails with the
``EmptySplitError`` saying why.  Without validation there is no ``val_loss``, on which
torchgeo's tasks step their ``ReduceLROnPlateau``: such a fit makes the trainer's
learning-rate schedulers that monitor a metric non-strict (Lightning's ``strict=False``),
so they skip a step, with Lightning's warning, instead of stopping the fit.

The class itself is not replaced: LightningCLI resolves ``class_path:
SEN12MSDataModule`` by class name and refuses a name that two classes share.
"""

from __future__ import annotations

import warnings
from typing import Any

from lightning.pytorch.utilities.rank_zero import rank_zero_only
from torchgeo.datamodules.geo import NonGeoDataModule
from torchgeo.datamodules.sen12ms import SEN12MSDataModule

from ..dataset.splits import TRAIN_PARTS
from ..errors import EmptySplitWarning
from .dataset import SEN12MS

Sample = dict[str, Any]


def setup(self, stage: str) -> None:
    """Set up datasets from the project's splits.

    Args:
        stage: Either 'fit', 'validate', 'test', or 'predict'.
    """
    if stage in ("fit", "validate"):
        self.train_dataset = SEN12MS(split="train_minus_validation", **self.kwargs)
        self.val_dataset = None
        kept: tuple[str, ...] = ("validation",)
        if stage == "fit":
            with warnings.catch_warnings():
                if rank_zero_only.rank != 0:  # said once, by the first process of a distributed run
                    warnings.simplefilter("ignore", EmptySplitWarning)
                kept = self.train_dataset.splits.with_members(TRAIN_PARTS, doing=(
                    "SEN12MSDataModule fit trains on {splits} without validation (learning-rate "
                    "schedulers that monitor a metric skip their step while it is missing)"
                ))
        if "validation" in kept:
            self.val_dataset = SEN12MS(split="validation", **self.kwargs)
        #: True after a ``fit`` setup on a root whose ``validation`` is empty.
        self.fit_without_validation = "validation" not in kept
    if stage == "test":
        self.test_dataset = SEN12MS(split="holdout", **self.kwargs)


def val_dataloader(self) -> Any:
    """torchgeo's validation loader; none (an empty list, which Lightning skips) after a
    ``fit`` setup that found ``validation`` empty."""
    if getattr(self, "fit_without_validation", False):
        if self.trainer is not None:
            # Called once the optimizers are configured, before the first scheduler step.
            for config in self.trainer.lr_scheduler_configs:
                if config.monitor is not None:
                    config.strict = False
        return []
    from .registry import original  # here, not at the top: the registry imports this module

    # torchgeo's method on torchgeo's class (not type(self): a user's subclass inherits ours)
    return original(SEN12MSDataModule, "val_dataloader")(self)


def on_after_batch_transfer(self, batch: Sample, dataloader_idx: int) -> Sample:
    """Map IGBP masks to the simplified scheme, as upstream does, but leave a mask alone
    that the dataset already returns in another layer (``label=...``)."""
    from .registry import original  # here, not at the top: the registry imports this module

    if self.kwargs.get("label", "IGBP") == "IGBP":
        return original(SEN12MSDataModule, "on_after_batch_transfer")(self, batch, dataloader_idx)
    return NonGeoDataModule.on_after_batch_transfer(self, batch, dataloader_idx)


#: The methods registration installs on torchgeo's ``SEN12MSDataModule``.
METHODS = {"setup": setup, "val_dataloader": val_dataloader, "on_after_batch_transfer": on_after_batch_transfer}
