"""A two-process DDP fit and test of torchgeo's task on torchgeo's ``SEN12MSDataModule`` (the
plugin registered), run as a script: ``python tests/ddp_fit.py ROOT OUT``.

Lightning's ``ddp`` strategy starts the second process by running this script again (its
subprocess launcher), as it does for a user's training script; both talk over gloo on the
loopback interface.  Each rank writes the patch ids its dataloaders yielded to
``OUT/rank<N>.json`` (``{"train": [...], "val": [...], "test": [...]}``, and ``"loader"``: the class
of the training loader and of its sampler); the sanity-check batches are not counted.  ``tests/test_torchgeo_tasks.py`` runs it and checks the ranks' ids.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lightning.pytorch import Callback, Trainer
from torchgeo.datamodules import SEN12MSDataModule
from torchgeo.trainers import SemanticSegmentationTask

import sen12ms_plugins.torchgeo  # noqa: F401  (registers the plugin)


class RecordIds(Callback):
    """The ``patch_id`` of every sample of every batch, per stage."""

    def __init__(self) -> None:
        self.ids: dict[str, list[str]] = {"train": [], "val": [], "test": []}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.ids["train"] += batch["patch_id"]

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if not trainer.sanity_checking:
            self.ids["val"] += batch["patch_id"]

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self.ids["test"] += batch["patch_id"]


def main(root: str, out: str) -> None:
    record = RecordIds()
    datamodule = SEN12MSDataModule(root=root, batch_size=2, num_workers=0, checksum=False, metadata=True)
    task = SemanticSegmentationTask(model="unet", backbone="resnet18", weights=None, in_channels=15,
                                    num_classes=11)
    trainer = Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      callbacks=[record], default_root_dir=out)
    trainer.fit(task, datamodule=datamodule)
    loader = trainer.train_dataloader  # as Lightning re-made it for this rank
    trainer.test(task, datamodule=datamodule)
    found = {**record.ids, "loader": [type(loader).__name__, type(loader.sampler).__name__]}
    Path(out, f"rank{trainer.global_rank}.json").write_text(json.dumps(found))


if __name__ == "__main__":
    main(*sys.argv[1:])
