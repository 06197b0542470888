"""Getting the data onto disk, intact, and checking it: one module per concept.

* :mod:`.sources`: mirrors (HTTP(S), FTP, folders) and one open transfer from one;
* :mod:`.transfer`: one archive from one source into a sink: first bytes, sizes, room, resume, retries;
* :mod:`.fetch`: one archive from a list of sources into a folder, md5-checked (:func:`~.fetch.fetch_archive`);
* :mod:`.download`: the 12 archives, in parallel, streamed or not; the dry run; what a root was
  asked for, and whether an adapter can build from it;
* :mod:`.checksums`: which md5 an archive must have, manifests, hashing;
* :mod:`.members`: keep, skip or refuse each entry of an archive, zip or folder;
* :mod:`.extract`: staging, writing, committing and recovering extractions, from files and streams;
* :mod:`.dfc2020`: ``add-dfc2020``, through :mod:`.members` and :mod:`.extract`;
* :mod:`.bookkeeping`: what is remembered of a root (``ROOT/.sen12ms/``), its records and locks;
* :mod:`.verify`: archives, the extracted tree, and every GeoTIFF against its format;
* :mod:`.reports`: the statuses and reports of the above.
"""
