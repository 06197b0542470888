"""Getting the data onto disk, intact: sources, checksums, download, extraction, records, verification.

* :mod:`.sources`: mirrors (HTTP(S), FTP, folders) and one transfer from one;
* :mod:`.fetch`: one archive from a list of sources into a folder, checked against its md5;
* :mod:`.download`: the 12 archives, in parallel, resumable, optionally extracted as they stream in;
* :mod:`.extract`: safe, atomic, once-only extraction;
* :mod:`.checksums`, :mod:`.manifest`, :mod:`.hashing`: which md5 an archive must have, and computing it;
* :mod:`.records`: what was verified and extracted, and the root's lock;
* :mod:`.verify`: checking archives and the extracted tree.
"""
