"""``fetch_archive``, the single-archive primitive, used on its own against real loopback servers."""

from __future__ import annotations

import hashlib
import os

import pytest

from sen12ms_plugins import fetch_archive
from sen12ms_plugins.errors import DownloadError

NAME = "ROIs1158_spring_lc.tar.gz"


def md5_of(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_fetches_from_the_first_source_that_has_it(tmp_path, http_mirror, ftp_mirror, sample_archives, sample_md5s):
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    dest = tmp_path / "dest"
    path = fetch_archive(NAME, [str(empty), ftp_mirror.url, http_mirror.url], dest, sample_md5s[NAME], quiet=True)
    assert path == dest / NAME
    assert path.read_bytes() == (sample_archives / NAME).read_bytes()
    assert sorted(os.listdir(dest)) == [NAME]  # no .part, no bookkeeping folder
    assert http_mirror.requests(NAME) == []  # FTP delivered it: HTTP was never asked


def test_resumes_a_part_over_http_and_asks_only_for_the_rest(tmp_path, http_mirror, sample_archives, sample_md5s):
    data = (sample_archives / NAME).read_bytes()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / f"{NAME}.part").write_bytes(data[:1000])
    fetch_archive(NAME, [http_mirror.url], dest, sample_md5s[NAME], quiet=True)
    assert [r.range for r in http_mirror.requests(NAME)] == ["bytes=1000-"]
    assert (dest / NAME).read_bytes() == data and not (dest / f"{NAME}.part").exists()


def test_a_present_file_with_the_right_md5_is_not_fetched(tmp_path, http_mirror, sample_archives, sample_md5s):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / NAME).write_bytes((sample_archives / NAME).read_bytes())
    fetch_archive(NAME, [http_mirror.url], dest, sample_md5s[NAME], quiet=True)
    assert http_mirror.requests(NAME) == []


def test_bad_bytes_everywhere_are_moved_aside_and_named(tmp_path, http_mirror, sample_archives):
    wrong = "0" * 32
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError, match=rf"{NAME}: no mirror delivered it intact") as err:
        fetch_archive(NAME, [http_mirror.url], dest, wrong, quiet=True, retries=0)
    assert f"expected {wrong}, got {md5_of(sample_archives / NAME)}" in str(err.value)
    assert not (dest / NAME).exists()
    assert (dest / f"{NAME}.rejected").read_bytes() == (sample_archives / NAME).read_bytes()


@pytest.mark.parametrize("md5", ["", "xyz", "0" * 31])
def test_arguments_are_checked_before_any_transfer(tmp_path, http_mirror, md5):
    with pytest.raises(ValueError, match="md5 must be 32 hex digits"):
        fetch_archive(NAME, [http_mirror.url], tmp_path, md5)
    with pytest.raises(ValueError, match="sources is empty"):
        fetch_archive(NAME, [], tmp_path, "0" * 32)
    with pytest.raises(ValueError, match="is not a file name"):
        fetch_archive("../x.tar.gz", [http_mirror.url], tmp_path, "0" * 32)
    assert http_mirror.requests() == [] and list(tmp_path.iterdir()) == []
