"""Getting the data onto disk, intact: sources, checksums, download, extraction, records, verification.

* :mod:`.sources`: mirrors (HTTP(S), FTP, folders) and one transfer from one;
* :mod:`.transfer`: one archive from one source into a sink: first bytes (:mod:`.content`), sizes, resume, retries;
* :mod:`.fetch`: one archive from a list of sources into a folder, checked against its md5;
* :mod:`.space`: free space for the transfers of a run, counted together;
* :mod:`.download`: the 12 archives, in parallel, resumable, optionally extracted as they stream in;
* :mod:`.extract`: safe, atomic, once-only extraction (:mod:`.members` decides on each member,
  :mod:`.staging` writes and commits);
* :mod:`.checksums`, :mod:`.manifest`, :mod:`.hashing`: which md5 an archive must have, and computing it;
* :mod:`.records`: what was verified (md5s, sizes) and extracted, and the root's lock;
* :mod:`.verify`: checking archives and the extracted tree.
"""
