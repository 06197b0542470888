"""``content_stamp``: what tells two versions of a root's files apart (the Hugging Face cache key)."""

from __future__ import annotations

import os

import pytest

from sen12ms_plugins.dataset.index import build_index, content_stamp
from sen12ms_plugins.errors import PatchFileError


def test_stamp_follows_each_files_size_and_time_not_its_folder(sample_root, copy_tree):
    root = copy_tree(sample_root)
    index = build_index(root)
    first = content_stamp(index)
    assert content_stamp(build_index(root)) == first, "nothing changed, same stamp"

    victim = index.triplets[7].path(root, "lc")
    folder = victim.parent.stat().st_mtime_ns
    st = victim.stat()
    with open(victim, "r+b") as f:  # same size, same inode, other bytes at the end
        f.seek(-2, os.SEEK_END)
        f.write(b"\x01\x02")
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert victim.parent.stat().st_mtime_ns == folder and victim.stat().st_size == st.st_size
    again = build_index(root)
    assert again.triplets == index.triplets
    assert content_stamp(again) != first

    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))  # the old time back: unnoticed, as documented
    assert content_stamp(again) == first


def test_a_file_gone_since_indexing_is_named(sample_root, copy_tree):
    root = copy_tree(sample_root)
    index = build_index(root)
    victim = index.triplets[-1].path(root, "s1")
    victim.unlink()
    with pytest.raises(PatchFileError, match=f"{victim}: disappeared after the root was indexed"):
        content_stamp(index)
