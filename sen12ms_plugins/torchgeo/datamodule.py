"""A SEN12MS datamodule that validates on the project's scene-level validation split."""

from __future__ import annotations

from typing import Any

from torchgeo.datamodules.geo import NonGeoDataModule
from torchgeo.datamodules.sen12ms import SEN12MSDataModule as UpstreamSEN12MSDataModule

from .dataset import SEN12MS

Sample = dict[str, Any]


class SEN12MSSplitsDataModule(UpstreamSEN12MSDataModule):
    """torchgeo's SEN12MS datamodule on the project's named splits.

    Trains on ``train_minus_validation``, validates on ``validation`` (whole scenes,
    about 10% of ``train`` in every season, the same in every ecosystem) and tests
    on ``holdout``, the official hold-out scenes.  Upstream's datamodule instead
    draws a random 80/20 scene split of ``train`` for validation.

    Its name differs from upstream's on purpose: LightningCLI resolves a bare
    ``class_path: SEN12MSDataModule`` by class name and refuses a name two classes
    share.  torchgeo's own ``SEN12MSDataModule`` keeps working with the plugin
    (it builds the plugin's class, so its test set is the hold-out).

    Everything else is upstream's: ``band_set``, the normalisation, and the mapping
    of IGBP masks to the simplified 10-class scheme after each batch transfer, which
    is skipped when the dataset already returns another layer (``label=...``).
    """

    def __init__(self, batch_size: int = 64, num_workers: int = 0, band_set: str = "all", **kwargs: Any) -> None:
        """Initialize a new SEN12MSSplitsDataModule instance.

        Args:
            batch_size: Size of each mini-batch.
            num_workers: Number of workers for parallel data loading.
            band_set: ``all``, ``s1``, ``s2-all`` or ``s2-reduced`` (see :attr:`SEN12MS.BAND_SETS`).
            **kwargs: Additional keyword arguments passed to :class:`SEN12MS`.
        """
        super().__init__(batch_size, num_workers, band_set, **kwargs)
        self.dataset_class = SEN12MS

    def setup(self, stage: str) -> None:
        """Set up datasets.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.
        """
        if stage in ("fit", "validate"):
            self.train_dataset = SEN12MS(split="train_minus_validation", **self.kwargs)
            self.val_dataset = SEN12MS(split="validation", **self.kwargs)
        if stage == "test":
            self.test_dataset = SEN12MS(split="holdout", **self.kwargs)

    def on_after_batch_transfer(self, batch: Sample, dataloader_idx: int) -> Sample:
        """Map IGBP masks to the simplified scheme (as upstream), then augment."""
        if self.kwargs.get("label", "IGBP") == "IGBP":
            return super().on_after_batch_transfer(batch, dataloader_idx)
        return NonGeoDataModule.on_after_batch_transfer(self, batch, dataloader_idx)
