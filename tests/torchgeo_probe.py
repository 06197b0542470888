"""A Lightning callback for tests that run torchgeo's command line in another process.

It records, as one JSON line per stage in the file named by ``$SEN12MS_PROBE_OUT``, the
datasets the datamodule built (module and class, split, length, first ids) and whether the
plugin was registered.  It imports nothing of ``sen12ms_plugins``: in such a run, the config
is what must import the plugin.
"""

from __future__ import annotations

import json
import os
import sys

from lightning.pytorch import Callback

#: The datamodule's datasets, in the order Lightning sets them up.
DATASETS = ("train_dataset", "val_dataset", "test_dataset")


class SplitProbe(Callback):
    """Writes what the datamodule's ``setup`` built (see the module docstring)."""

    def setup(self, trainer, pl_module, stage) -> None:
        datamodule = trainer.datamodule
        record = {"stage": str(stage.value if hasattr(stage, "value") else stage),
                  "datamodule": f"{type(datamodule).__module__}.{type(datamodule).__qualname__}",
                  "plugin_imported": "sen12ms_plugins.torchgeo" in sys.modules, "datasets": {}}
        for name in DATASETS:
            dataset = getattr(datamodule, name, None)
            if dataset is not None:
                record["datasets"][name] = {"class": f"{type(dataset).__module__}.{type(dataset).__qualname__}",
                                            "split": getattr(dataset, "split", None), "len": len(dataset),
                                            "ids": list(getattr(dataset, "ids", []))}
        with open(os.environ["SEN12MS_PROBE_OUT"], "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
