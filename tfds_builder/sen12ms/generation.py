"""TFDS examples: the core's examples (``sen12ms_plugins.reading.examples``) in TFDS's layout.

Both generation paths use :func:`make_example`: the plain Python generator and the
Beam workers, which receive it by reference, so it stays a module-level function of
an installed module and takes only plain, picklable arguments (a patch id, a root, a
configuration name).

The fields are the core's; what changes is the layout of the images: TFDS stores
images height x width x bands (HWC), the core reads them bands x height x width.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sen12ms_plugins.dataset.ids import parse_patch_id
from sen12ms_plugins.reading.configs import get_config
from sen12ms_plugins.reading.examples import read_example

#: Namespace of the Beam counters the pipeline reports.
BEAM_NAMESPACE = "sen12ms"


def make_example(patch_id: str, root: str, config: str) -> tuple[str, dict[str, Any]]:
    """``(key, features)`` of one triplet under ``root`` for configuration ``config``; the key is the patch id."""
    dataset_config = get_config(config)
    example = read_example(root, parse_patch_id(patch_id), dataset_config)
    for sensor in dataset_config.sensors:
        # A view: TFDS copies it into bytes in C order anyway.
        example[sensor] = np.moveaxis(example[sensor], 0, -1)
    return example["id"], example


def make_example_in_beam(patch_id: str, root: str, config: str) -> tuple[str, dict[str, Any]]:
    """:func:`make_example` inside a Beam pipeline, counted (``sen12ms/examples``) for the job's report."""
    from apache_beam.metrics import Metrics  # deferred: the [beam] extra; only Beam workers call this

    keyed = make_example(patch_id, root, config)
    Metrics.counter(BEAM_NAMESPACE, "examples").inc()
    return keyed
