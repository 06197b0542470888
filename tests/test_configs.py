"""The shared configuration table and the example record every adapter presents."""

from __future__ import annotations

import numpy as np
import pytest

from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import PatchId
from sen12ms_plugins.reading.configs import CONFIGS, DEFAULT_CONFIG, get_config
from sen12ms_plugins.reading.examples import SCENE_LABEL_NAMES, SEASON_NAMES, read_example

from . import crafted


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


#: The fields of an example, in order, per configuration (sen12ms_plugins.reading.examples' table).
FIELDS = {
    "all": ("id", "season", "scene", "patch", "lon", "lat", "s1", "s2", "lc", "igbp", "dfc", "label", "labels"),
    "s2": ("id", "season", "scene", "patch", "lon", "lat", "s2", "igbp", "dfc", "label", "labels"),
    "s1s2": ("id", "season", "scene", "patch", "lon", "lat", "s1", "s2", "igbp", "dfc", "label", "labels"),
}
PIXELS = {"s1": (crafted.s1_pixels, np.float32), "s2": (crafted.s2_pixels, np.uint16),
          "lc": (crafted.lc_pixels, np.uint16)}


@pytest.mark.parametrize("name", list(FIELDS))
def test_read_example_of_crafted_patches(crafted_root, name):
    """Every field of every crafted triplet against what was written into it and what it
    must give, worked out by hand (tests/crafted.py)."""
    config = get_config(name)
    for key, p in crafted.PATCHES.items():
        example = read_example(crafted_root, PatchId(*key), config)
        assert tuple(example) == FIELDS[name]
        season, scene, patch = key
        assert (example["id"], SEASON_NAMES_BY_HAND[example["season"]], example["scene"], example["patch"]) == (
            f"{season}_{scene}_p{patch}", season.split("_")[1], scene, patch)
        assert (example["lon"], example["lat"]) == pytest.approx(p["lonlat"], abs=1e-9)
        for sensor in ("s1", "s2", "lc"):
            if sensor not in FIELDS[name]:
                continue
            make, dtype = PIXELS[sensor]
            assert example[sensor].dtype == dtype
            np.testing.assert_array_equal(example[sensor], make(key), err_msg=f"{key} {sensor}")
        assert example["igbp"].dtype == np.uint16 and example["dfc"].dtype == np.uint8
        np.testing.assert_array_equal(example["igbp"], p["igbp"])
        np.testing.assert_array_equal(example["dfc"], p["dfc"])
        assert example["label"] == p["single"], key
        assert example["labels"].dtype == np.bool_ and example["labels"].shape == (11,)
        assert list(np.flatnonzero(example["labels"])) == list(p["multi"]), key
        assert SCENE_LABEL_NAMES[example["label"]] == SCENE_LABEL_NAMES_BY_HAND[p["single"]]


#: Index k names season class k, by hand (facts.SEASONS' order).
SEASON_NAMES_BY_HAND = ("spring", "summer", "fall", "winter")


def test_season_names():
    assert SEASON_NAMES == SEASON_NAMES_BY_HAND


#: Index k names scene-label class k (DFC 2020), by hand.
SCENE_LABEL_NAMES_BY_HAND = ("No data", "Forest", "Shrubland", "Savanna", "Grassland", "Wetlands", "Croplands",
                             "Urban/Built-up", "Snow/Ice", "Barren", "Water")


def test_scene_label_names():
    assert SCENE_LABEL_NAMES == SCENE_LABEL_NAMES_BY_HAND
