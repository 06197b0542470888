"""Scene and patch identifiers: parsing, formatting, lists, sensor swaps."""

import gzip
import hashlib
from pathlib import Path

import pytest

from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import (
    PatchId,
    SceneId,
    format_patch_list,
    parse_filename,
    parse_patch_id,
    parse_scene_line,
    read_patch_list,
    read_scene_list,
    write_patch_list,
)
from sen12ms_plugins.errors import MalformedLineError, MalformedNameError

DATA = Path(__file__).parent / "data"


def test_scene_lines_of_any_sensor():
    assert parse_scene_line("ROIs1158_spring/s1_63") == SceneId("ROIs1158_spring", 63)
    assert parse_scene_line("ROIs1970_fall/s2_1\r\n") == SceneId("ROIs1970_fall", 1)
    assert parse_scene_line("ROIs2017_winter/lc_146") == SceneId("ROIs2017_winter", 146)
    assert SceneId("ROIs1158_spring", 63).line() == "ROIs1158_spring/s1_63"
    assert SceneId("ROIs1158_spring", 63).line("s2") == "ROIs1158_spring/s2_63"


@pytest.mark.parametrize("line", [
    "ROIs1158_spring/s3_63", "ROIs1158_autumn/s1_63", "ROIs1158_spring/s1_063", "ROIs1158_spring/s1_",
    "ROIs1158_spring_s1_63", "ROIs1159_spring/s1_63", "s1_63",
])
def test_malformed_scene_line(line):
    with pytest.raises(MalformedLineError):
        parse_scene_line(line)


def test_file_names_of_every_sensor_round_trip():
    pid = PatchId("ROIs1868_summer", 146, 202)
    for sensor in facts.SENSORS:
        name = pid.filename(sensor)
        assert name == f"ROIs1868_summer_{sensor}_146_p202.tif"
        assert parse_filename(name) == (pid, sensor)
        assert parse_filename(pid.relpath(sensor)) == (pid, sensor)
        assert parse_filename("/data/sen12ms/" + pid.relpath(sensor)) == (pid, sensor)
    assert pid.name == "ROIs1868_summer_146_p202"
    assert parse_patch_id(pid.name) == pid
    assert parse_patch_id("ROIs1868_summer_lc_146_p202.tif") == pid


@pytest.mark.parametrize("name", [
    "ROIs1868_summer_s2_146_p202.tiff", "ROIs1868_summer_s2_146_p0202.tif", "ROIs1868_summer_s2_146_202.tif",
    "ROIs1868_summer_s4_146_p202.tif", "summer_s2_146_p202.tif", "ROIs1868_summer_s2_146_p-1.tif", "",
])
def test_malformed_file_names(name):
    with pytest.raises(MalformedNameError):
        parse_filename(name)


def test_file_in_the_wrong_folder_is_rejected():
    with pytest.raises(MalformedNameError, match="does not belong"):
        parse_filename("ROIs1868_summer/s1_146/ROIs1868_summer_s2_146_p202.tif")


def test_sorting_is_dataset_order():
    ids = [PatchId("ROIs2017_winter", 1, 1), PatchId("ROIs1158_spring", 100, 2), PatchId("ROIs1158_spring", 9, 30),
           PatchId("ROIs1158_spring", 9, 4)]
    assert sorted(ids) == [ids[3], ids[2], ids[1], ids[0]]


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "scenes.txt"
    path.write_text("ROIs1158_spring/s1_63\nROIs1158_spring/s1_146\n\nROIs1158_spring/x_97\n")
    with pytest.raises(MalformedLineError) as err:
        read_scene_list(path)
    assert f"{path}:4:" in str(err.value) and "x_97" in str(err.value)
    assert err.value.lineno == 4


def test_duplicate_scene_is_an_error(tmp_path):
    path = tmp_path / "scenes.txt"
    path.write_text("ROIs1158_spring/s1_63\nROIs1158_spring/s2_63\n")
    with pytest.raises(MalformedLineError, match="already on line 1"):
        read_scene_list(path)


def test_scene_list_without_final_newline(tmp_path):
    path = tmp_path / "scenes.txt"
    path.write_bytes(b"ROIs1158_spring/s2_112\r\nROIs1158_spring/s2_113")
    assert read_scene_list(path) == [SceneId("ROIs1158_spring", 112), SceneId("ROIs1158_spring", 113)]


def test_crlf_patch_list_round_trips_byte_for_byte(tmp_path):
    """Upstream's test_list.txt (CRLF, 18,106 lines) parses and is reproduced exactly."""
    raw = gzip.decompress((DATA / "test_list.txt.gz").read_bytes())
    assert hashlib.md5(raw).hexdigest() == facts.PATCH_LIST_MD5["test_list.txt"]
    path = tmp_path / "test_list.txt"
    path.write_bytes(raw)
    ids = read_patch_list(path)
    assert len(ids) == facts.HOLDOUT_PATCHES
    assert format_patch_list(reversed(ids)) == raw
    out = tmp_path / "again.txt"
    write_patch_list(out, ids)
    assert out.read_bytes() == raw


def test_malformed_patch_line(tmp_path):
    path = tmp_path / "list.txt"
    path.write_bytes(b"ROIs1158_spring_s2_124_p100.tif\r\nROIs1158_spring_s2_124_p1O1.tif\r\n")
    with pytest.raises(MalformedLineError, match=r"list.txt:2: malformed line"):
        read_patch_list(path)
