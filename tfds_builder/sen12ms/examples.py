"""One TFDS example per SEN12MS triplet, built with numpy only.

Both generation paths use :func:`make_example`: the plain Python generator and
the Beam workers (which receive it by reference, so it must stay a module-level
function of an installed module and take only plain, picklable arguments).

An example holds, for patch ``ROIs1158_spring_124_p100``:

* ``id`` ``"ROIs1158_spring_124_p100"``, ``season`` ``"spring"``, ``scene`` 124,
  ``patch`` 100, ``lon``/``lat`` of the patch centre (WGS 84 degrees);
* the selected bands of each selected sensor, height x width x bands (TFDS's HWC
  order), in the file's data type: ``s1`` float32, ``s2`` uint16, ``lc`` uint16;
* ``igbp`` (uint8, H x W): the IGBP class of every pixel, the first ``lc`` band;
  ``dfc`` (uint8, H x W): the same in the simplified 10-class scheme.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sen12ms_plugins import facts, labels
from sen12ms_plugins.errors import PatchFileError
from sen12ms_plugins.ids import PatchId, parse_patch_id
from sen12ms_plugins.reader import georeference, read_triplet

#: Namespace of the Beam counters the pipeline reports.
BEAM_NAMESPACE = "sen12ms"

#: ``((sensor, bands), ...)``: what a builder config stores; ``bands`` None means all.
BandSelection = Sequence[tuple[str, Sequence[str] | None]]

_IGBP = "IGBP"


def band_names(selection: BandSelection) -> dict[str, tuple[str, ...]]:
    """Sensor -> band names (in the order they are stacked) of a selection."""
    return {sensor: tuple(facts.BANDS[sensor] if bands is None else bands) for sensor, bands in selection}


def make_example(patch_id: str, root: str, selection: BandSelection) -> tuple[str, dict[str, Any]]:
    """``(key, features)`` of one triplet under ``root``; the key is the patch id."""
    pid = parse_patch_id(patch_id)
    wanted = band_names(selection)
    # ``lc`` is read whole: the masks need its IGBP band even when the config does
    # not store it, and the file is small.
    arrays = read_triplet(root, pid, {**wanted, "lc": None})
    lc = arrays["lc"]
    igbp = _igbp_mask(lc[facts.BANDS["lc"].index(_IGBP)], pid, root)
    geo = georeference(root, pid)
    example: dict[str, Any] = {
        "id": pid.name,
        "season": facts.SEASON_SHORT[pid.season],
        "scene": pid.scene,
        "patch": pid.patch,
        "lon": geo.center_lon,
        "lat": geo.center_lat,
        "igbp": igbp,
        "dfc": labels.igbp_to_dfc(igbp),
    }
    if "lc" in wanted:
        arrays["lc"] = lc[[facts.BANDS["lc"].index(b) for b in wanted["lc"]]]
    for sensor in wanted:
        # A view: TFDS copies it into bytes in C order anyway.
        example[sensor] = np.moveaxis(arrays[sensor], 0, -1)
    return pid.name, example


def make_example_in_beam(patch_id: str, root: str, selection: BandSelection) -> tuple[str, dict[str, Any]]:
    """:func:`make_example` inside a Beam pipeline, counted (``sen12ms/examples``) for the job's report."""
    from apache_beam.metrics import Metrics

    keyed = make_example(patch_id, root, selection)
    Metrics.counter(BEAM_NAMESPACE, "examples").inc()
    return keyed


def _igbp_mask(layer: np.ndarray, pid: PatchId, root: str) -> np.ndarray:
    """The IGBP layer as uint8; a value that does not fit means a corrupt file, not a label."""
    top = int(layer.max())
    if top > np.iinfo(np.uint8).max:
        raise PatchFileError(pid.path(root, "lc"), f"IGBP band holds value {top}, outside the IGBP codes 0-17")
    return layer.astype(np.uint8)
