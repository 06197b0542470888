"""The ``train`` split as a view of ``train_minus_validation`` and ``validation``, not a copy.

``train`` is exactly ``train_minus_validation`` + ``validation``.  Writing it as a
split of its own would store 90% of SEN12MS twice, and TFDS split arithmetic
(``"train_minus_validation+validation"``) does not give a split *named* ``train``.
So the builder writes only the two parts, and ``train`` gets:

* a ``SplitInfo`` in ``dataset_info.json`` whose shard lengths are those of the
  parts' shards, in order (first ``train_minus_validation``, then ``validation``);
* shard files ``sen12ms-train.<format>-NNNNN-of-MMMMM`` that are hard links to
  the parts' shard files (the same bytes on disk; deleting either name leaves the
  other intact).  Where a file system has no hard links, relative symbolic links
  in the same folder are made instead.

Every TFDS reader, including ``tfds.load``/``tfds.data_source`` without this
package (the read-only builder made from ``dataset_info.json``), opens shard files
by name and so honours ``train`` like any other split.  On a file system with
neither kind of link (an object store such as ``gs://``) the shards are copied and
a warning says so: ``train`` then costs its size a second time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from tensorflow_datasets.core import splits as splits_lib

from sen12ms_plugins.fsutil import link_file

log = logging.getLogger(__name__)


def link_split(name: str, parts: Sequence[splits_lib.SplitInfo]) -> splits_lib.SplitInfo:
    """Make split ``name`` out of the shard files of ``parts`` (in that order)."""
    if not parts:
        raise ValueError(f"split {name!r} needs at least one part")
    templates = [p.filename_template for p in parts]
    if any(t is None for t in templates):
        raise ValueError(f"split {name!r}: every part needs a filename template")
    template = templates[0].replace(split=name)
    sources = [path for part in parts for path in part.filepaths]
    shard_lengths = [n for part in parts for n in part.shard_lengths]
    if len(sources) != len(shard_lengths):
        raise ValueError(f"split {name!r}: {len(sources)} shard files but {len(shard_lengths)} shard lengths")
    for index, source in enumerate(sources):
        target = template.sharded_filepath(shard_index=index, num_shards=len(sources))
        _link(source, target)
    return splits_lib.SplitInfo(
        name=name,
        shard_lengths=shard_lengths,
        num_bytes=sum(int(p.num_bytes) for p in parts),
        filename_template=template,
    )


def _link(source, target) -> None:
    """The core's link (hard, else symbolic), or a copy on remote file systems (``gs://`` …)."""
    if "://" not in os.fspath(source):
        link_file(source, target)
        return
    log.warning("%s: file system without links; copying %s (this shard is stored twice)", target, source)
    source.copy(target)
