"""The dataset facts are consistent with each other."""

import re

from sen12ms_plugins.dataset import facts, labels


def test_archives_cover_every_season_and_sensor():
    names = {facts.archive_name(season, sensor) for season in facts.SEASONS for sensor in facts.SENSORS}
    assert names == set(facts.ARCHIVE_MD5)
    assert len(names) == 12
    assert all(re.fullmatch(r"[0-9a-f]{32}", md5) for md5 in facts.ARCHIVE_MD5.values())


def test_counts_add_up():
    assert sum(facts.HOLDOUT_PATCHES_PER_SEASON.values()) == facts.HOLDOUT_PATCHES
    # every triplet is hold-out, train, or the one damaged patch
    assert facts.HOLDOUT_PATCHES + facts.TRAIN_PATCHES + 1 == facts.TOTAL_TRIPLETS


def test_bands_and_dtypes():
    assert len(facts.BANDS["s1"]) == 2 and len(facts.BANDS["s2"]) == 13 and len(facts.BANDS["lc"]) == 4
    assert set(facts.RGB_BANDS) <= set(facts.BANDS["s2"])
    assert dict(facts.DTYPES) == {"s1": "float32", "s2": "uint16", "lc": "uint16"}


def test_seasons_sort_chronologically():
    assert list(facts.SEASONS) == sorted(facts.SEASONS)
    assert facts.season_from_short("fall") == "ROIs1970_fall"
    assert facts.season_from_short("ROIs2017_winter") == "ROIs2017_winter"


def test_label_tables():
    assert sorted(labels.IGBP_CLASSES) == list(range(1, 18))
    assert sorted(labels.DFC_CLASSES) == list(range(1, 11))
    assert len(labels.IGBP_TO_DFC) == 18 and set(labels.IGBP_TO_DFC[1:]) == set(range(1, 11))
    assert set(labels.IGBP_COLORS) == set(labels.IGBP_CLASSES)
    assert set(labels.DFC_COLORS) == set(labels.DFC_CLASSES)
