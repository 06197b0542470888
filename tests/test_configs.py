"""The shared configuration table and the example record every adapter presents."""

from __future__ import annotations

import numpy as np
import pytest

from sen12ms_plugins.dataset import facts, labels
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.reading.configs import CONFIGS, DEFAULT_CONFIG, get_config
from sen12ms_plugins.reading.examples import SCENE_LABEL_NAMES, example_fields, read_example
from sen12ms_plugins.reading.reader import georeference, read_triplet


def test_configs_table():
    assert list(CONFIGS) == ["all", "s2", "s1s2"]
    assert get_config().name == DEFAULT_CONFIG == "all"
    assert get_config("all").sensors == ("s1", "s2", "lc")
    assert get_config("s2").sensors == ("s2",)
    assert get_config("s1s2").sensors == ("s1", "s2")
    for config in CONFIGS.values():
        for sensor, bands in config.bands.items():
            assert bands == facts.BANDS[sensor]
        # the labels need IGBP in every configuration
        assert "IGBP" in config.read_bands()["lc"]
    assert get_config("s2").read_bands() == {"s2": facts.BANDS["s2"], "lc": ("IGBP",)}


def test_unknown_config_lists_known():
    with pytest.raises(ValueError, match="unknown configuration 's3'; expected one of all, s2, s1s2"):
        get_config("s3")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_read_example_matches_reader(sample_root, name):
    config = get_config(name)
    pid = build_index(sample_root).triplets[5]
    example = read_example(sample_root, pid, config)
    assert tuple(example) == example_fields(config)
    full = read_triplet(sample_root, pid)
    for sensor in config.sensors:
        assert example[sensor].dtype == np.dtype(facts.DTYPES[sensor])
        np.testing.assert_array_equal(example[sensor], full[sensor])
    np.testing.assert_array_equal(example["igbp"], full["lc"][0])
    assert example["dfc"].dtype == np.uint8
    np.testing.assert_array_equal(example["dfc"], labels.igbp_to_dfc(full["lc"][0]))
    single, multi = labels.scene_labels(full["lc"])
    assert (example["label"], example["labels"]) == (single, list(multi))
    assert 1 <= example["label"] < len(SCENE_LABEL_NAMES)
    geo = georeference(sample_root, pid)
    assert (example["lon"], example["lat"]) == (geo.center_lon, geo.center_lat)
    assert (example["id"], example["season"], example["scene"], example["patch"]) == (
        pid.name, facts.SEASON_SHORT[pid.season], pid.scene, pid.patch)
