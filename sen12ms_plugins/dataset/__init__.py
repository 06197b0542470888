"""The dataset's vocabulary and layout: facts, label schemes, ids and file names, the root, the index, the splits.

Nothing here opens a GeoTIFF or imports numpy: this layer only names things and
lists files.  Every other layer, and every ecosystem adapter, takes its facts from
here (:mod:`.facts`, :mod:`.labels`) instead of repeating them.
"""
