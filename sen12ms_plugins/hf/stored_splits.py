"""Which splits the Hugging Face adapters write, and how ``train`` is made of them.

``train`` is ``train_minus_validation`` plus ``validation`` (:mod:`sen12ms_plugins.dataset.splits`),
so only those two and ``holdout`` are stored; ``train`` is assembled from its parts, in
this order, by the builder (links to the parts' Arrow files) and by the export (the card
lists the parts' Parquet shards).
"""

from __future__ import annotations

from typing import Final

STORED_SPLITS: Final = ("holdout", "validation", "train_minus_validation")
TRAIN_PARTS: Final = ("train_minus_validation", "validation")
