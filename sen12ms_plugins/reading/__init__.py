"""Reading patches: the GeoTIFF readers, and the example every ecosystem presents.

* :mod:`.reader`: one patch file or triplet into numpy arrays, and its georeference;
* :mod:`.fastread`: the uncompressed striped GeoTIFFs SEN12MS ships, without GDAL;
* :mod:`.configs`: the configurations (which sensors and bands an example carries);
* :mod:`.examples`: one example's fields, as TFDS and Hugging Face store them.
"""
