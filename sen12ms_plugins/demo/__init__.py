"""Trying the plugins without the real dataset: the built-in sample, the cross-ecosystem check, the demo.

* :mod:`.sample`: a small SEN12MS tree (and its 12 archives) generated on the spot;
* :mod:`.crosscheck`: one split read through each ecosystem, compared patch by patch;
* :mod:`.run`: ``sen12ms demo``, the whole pipeline end to end on the sample.

This is the only package outside the CLI and the adapters that imports an adapter
(:mod:`.crosscheck` reads through all three).
"""

#: Triplets per scene of ``sen12ms sample`` (20 scenes): 60 triplets.
SAMPLE_PATCHES_PER_SCENE = 3
#: Triplets per scene of ``sen12ms demo``: 40 triplets, enough for every split in every season.
DEMO_PATCHES_PER_SCENE = 2
