"""Trying the plugins without the real dataset: the built-in sample, the cross-ecosystem check, the demo.

* :mod:`.sample`: a small SEN12MS tree (and its 12 archives) generated on the spot;
* :mod:`.dfc2020_sample`: DFC2020-like zips (or their folders), in the variants the release may have;
* :mod:`.crosscheck`: one split read through each ecosystem, compared patch by patch;
* :mod:`.run`: ``sen12ms demo``, the whole pipeline end to end on the sample.

This is the only package outside the CLI and the adapters that imports an adapter
(:mod:`.crosscheck` reads through all three).
"""

from enum import StrEnum


class SampleLayout(StrEnum):
    """How the sample's GeoTIFFs are laid out (:mod:`.sample` says what each holds)."""

    COMPACT = "compact"  # whole-patch grid, 10 m origins, GDAL's default strips for the patch width
    REAL = "real"  # the real files' strips, non-integer origins, neighbours overlapping by half


class ZipStructure(StrEnum):
    """What the top of a DFC2020-like zip holds (:mod:`.dfc2020_sample`; the release's is not known)."""

    SET = "set"  # ROIs0000_validation/s1_validation/<patches>
    SENSOR = "sensor"  # s1_validation/<patches>


#: Triplets per scene of ``sen12ms sample`` (20 scenes): 60 triplets.
SAMPLE_PATCHES_PER_SCENE = 3
#: Triplets per scene of ``sen12ms demo``: 40 triplets, enough for every split in every season.
DEMO_PATCHES_PER_SCENE = 2
