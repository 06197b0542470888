import numpy as np

from sen12ms_plugins.dataset import labels


def test_igbp_to_dfc_matches_the_documented_scheme():
    igbp = np.arange(0, 20, dtype=np.uint16)
    dfc = labels.igbp_to_dfc(igbp)
    expected = [0, 1, 1, 1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 6, 8, 9, 10, 0, 0]
    assert dfc.tolist() == expected
    assert labels.igbp_to_dfc(np.array([65535], dtype=np.uint16)).tolist() == [0]


def test_scene_labels_single_and_multi():
    igbp = np.zeros((10, 10), np.uint16)
    igbp[:6] = 12   # croplands -> 6 (60 %)
    igbp[6:9] = 17  # water -> 10 (30 %)
    igbp[9, :5] = 1  # forest -> 1 (5 %)
    igbp[9, 5:] = 0  # no data: ignored
    single, multi = labels.scene_labels(igbp)
    assert single == 6
    # shares over the 95 labelled pixels: 63 %, 32 %, 5 %
    assert multi == (6, 10)
    assert labels.scene_labels(igbp, threshold=0.05) == (6, (1, 6, 10))
    assert labels.scene_labels(np.zeros((3, 3), np.uint16)) == (0, ())


def test_every_scheme_has_one_distinct_colour_per_class():
    from matplotlib.colors import is_color_like  # deferred: the [plot] extra

    assert set(labels.COLORS) == set(labels.SCHEMES)
    for scheme, (_, classes) in labels.SCHEMES.items():
        colors = labels.COLORS[scheme]
        assert set(colors) == set(classes), scheme
        assert all(is_color_like(c) and c.startswith("#") and len(c) == 7 for c in colors.values()), scheme
        assert len(set(colors.values())) == len(colors), f"{scheme}: two classes share a colour"
        assert labels.NO_DATA not in classes
