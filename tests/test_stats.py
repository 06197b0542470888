"""``sen12ms_plugins.analysis.stats`` against a brute-force computation over every pixel.

The tree is generated independently of the session sample (another seed, another
patch count) and then altered with rasterio so that it holds what the real data can
hold and the sample does not: unknown IGBP and LCCS codes (also above 255), patches
without any valid IGBP pixel, NaN and infinite S1 values, S1 values outside the
histogram range, S2 values 0 and 65535.  The brute force reads the files with rasterio
directly and uses plain numpy over the concatenated pixels of each group.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from sen12ms_plugins.analysis.stats import HISTOGRAMS, compute_stats
from sen12ms_plugins.dataset import facts, labels
from sen12ms_plugins.dataset.ids import PatchId
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import compute_splits
from sen12ms_plugins.demo.sample import make_sample
from sen12ms_plugins.errors import EmptySplitError, EmptySplitWarning, PatchFileError

SEASON_NAMES = [facts.SEASON_SHORT[s] for s in facts.SEASONS]
SPLIT_NAMES = ["train", "holdout", "validation", "train_minus_validation", "all"]


def _rewrite(path: Path, change) -> None:
    """Replace a GeoTIFF's pixels with ``change(array)``, keeping its georeference."""
    with rasterio.open(path) as src:
        profile, array = src.profile, src.read()
    array = change(array.copy())
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)


@pytest.fixture(scope="module")
def odd_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stats") / "root"
    ids = make_sample(root, seed=11, patch_size=24, patches_per_scene=3)
    rng = np.random.default_rng(5)

    def unknown_labels(lc):
        lc[0, :3, :] = 0            # IGBP "no data"
        lc[0, 3, :5] = 18           # just past the legend
        lc[0, 4, :2] = 300          # above 255
        lc[1, 5, :4] = 77           # LCCS land cover: not a class
        lc[2, 6, :3] = 255          # LCCS land use: unclassified
        lc[3, 7, :2] = 1000         # LCCS hydrology: above 255
        return lc

    def no_valid_igbp(lc):
        lc[0] = 0
        return lc

    def odd_s1(s1):
        s1[0, 0, :4] = np.nan
        s1[0, 1, :2] = np.inf
        s1[1, 2, :3] = -np.inf
        s1[0, 3, :5] = -95.0        # below the histogram range
        s1[1, 4, :2] = 55.0         # above it
        return s1

    def extreme_s2(s2):
        s2[:, 0, :3] = 0
        s2[:, 1, :3] = 65535
        s2[4] = rng.integers(0, 65536, s2.shape[1:], dtype=np.uint16)
        return s2

    def all_nan_s1(s1):
        s1[:] = np.nan
        return s1

    _rewrite(ids[0].path(root, "lc"), unknown_labels)
    _rewrite(ids[5].path(root, "lc"), unknown_labels)
    _rewrite(ids[7].path(root, "lc"), no_valid_igbp)
    _rewrite(ids[10].path(root, "s1"), odd_s1)
    _rewrite(ids[20].path(root, "s2"), extreme_s2)
    _rewrite(ids[31].path(root, "s1"), all_nan_s1)
    return root


# --- Brute force -------------------------------------------------------------------------


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()


def _members(root: Path) -> dict[str, list[PatchId]]:
    splits = compute_splits(build_index(root))
    members = {name: list(splits.members[name]) for name in SPLIT_NAMES[:-1]}
    members["all"] = list(splits.index.triplets)
    return members


def _dfc(igbp: np.ndarray) -> np.ndarray:
    table = np.asarray(labels.IGBP_TO_DFC)
    return np.where(igbp < len(table), table[np.minimum(igbp, len(table) - 1)], 0)


def _brute(root: Path, pids: list[PatchId]) -> dict:
    layers = {scheme: [] for scheme in labels.SCHEMES}
    patches_with = {scheme: {} for scheme in labels.SCHEMES}
    single, multi = {}, {}
    bands = {"s1": [], "s2": []}
    for pid in pids:
        lc = _read(pid.path(root, "lc"))
        per_scheme = {"IGBP": lc[0], "DFC": _dfc(lc[0]), "LCCS_LC": lc[1], "LCCS_LU": lc[2], "LCCS_SH": lc[3]}
        for scheme, layer in per_scheme.items():
            layers[scheme].append(layer.ravel())
            for code in np.unique(layer):
                patches_with[scheme][int(code)] = patches_with[scheme].get(int(code), 0) + 1
        dfc = _dfc(lc[0]).ravel()
        counts = np.array([(dfc == c).sum() for c in range(1, 11)])
        if counts.sum() == 0:
            s, m = 0, [0]
        else:
            s = int(np.argmax(counts)) + 1
            m = [c + 1 for c in range(10) if counts[c] / counts.sum() >= 0.1]
        single[s] = single.get(s, 0) + 1
        for c in m:
            multi[c] = multi.get(c, 0) + 1
        for sensor in bands:
            bands[sensor].append(_read(pid.path(root, sensor)).reshape(len(facts.BANDS[sensor]), -1))
    pixels = {}
    for scheme, parts in layers.items():
        values, counts = np.unique(np.concatenate(parts), return_counts=True)
        pixels[scheme] = dict(zip(values.tolist(), counts.tolist()))
    return {"patches": len(pids), "pixels": pixels, "patches_with": patches_with, "single": single,
            "multi": multi, "bands": {s: np.concatenate(v, axis=1) for s, v in bands.items()}}


@pytest.fixture(scope="module")
def serial(odd_root):
    return compute_stats(odd_root)


@pytest.fixture(scope="module", params=["odd_root", "sample_root"])
def case(request):
    """(stats, brute force, patch side) for the altered tree and for the session sample."""
    root = request.getfixturevalue(request.param)
    members = _members(root)
    brute = {}
    for split in SPLIT_NAMES:
        for season in ["all", *SEASON_NAMES]:
            pids = [p for p in members[split] if season == "all" or facts.SEASON_SHORT[p.season] == season]
            brute[split, season] = _brute(root, pids)
    with rasterio.open(members["all"][0].path(root, "lc")) as src:
        side = src.width
    stats = request.getfixturevalue("serial") if request.param == "odd_root" else compute_stats(root)
    return stats, brute, side


# --- Tests ----------------------------------------------------------------------------------


def test_groups_and_patch_counts(case):
    serial, brute, _side = case
    assert serial.splits == tuple(SPLIT_NAMES)
    assert set(serial.groups) == {(s, season) for s in SPLIT_NAMES for season in ["all", *SEASON_NAMES]}
    for key, expected in brute.items():
        assert serial.groups[key].patches == expected["patches"], key
    # The damaged patch is in no named split but in "all".
    summer = facts.SEASON_SHORT[facts.DAMAGED_PATCH[0]]
    assert serial["all", summer].patches == serial["train", summer].patches + serial["holdout", summer].patches + 1
    parts = serial["validation", "all"].patches + serial["train_minus_validation", "all"].patches
    assert serial["train", "all"].patches == parts


@pytest.mark.parametrize("scheme", list(labels.SCHEMES))
def test_class_counts_match_brute_force(case, scheme):
    serial, brute, side = case
    _band, classes = labels.SCHEMES[scheme]
    for key, expected in brute.items():
        rows = serial.groups[key].classes[scheme]
        got = {c.code: c.pixels for c in rows if c.pixels}
        assert got == expected["pixels"][scheme], (key, scheme)
        got_patches = {c.code: c.patches for c in rows if c.pixels}
        assert got_patches == expected["patches_with"][scheme], (key, scheme)
        # Every named class is listed, zeros too; anything else is flagged, never dropped.
        assert {c.code for c in rows if c.status == "class"} == set(classes)
        for c in rows:
            if c.code in classes:
                assert (c.status, c.name) == ("class", classes[c.code])
            elif scheme.startswith("LCCS") and c.code == labels.LCCS_UNCLASSIFIED:
                assert c.status == "unclassified"
            else:
                assert c.status == "unknown" and c.pixels > 0
        assert sum(c.pixels for c in rows) == expected["patches"] * side * side


def test_unknown_codes_are_reported(serial):
    everything = serial["all", "all"]
    unknown = {(c.scheme, c.code) for rows in everything.classes.values() for c in rows if c.status == "unknown"}
    assert {("IGBP", 0), ("IGBP", 18), ("IGBP", 300), ("DFC", 0), ("LCCS_LC", 77), ("LCCS_SH", 1000)} <= unknown
    lu = {c.code: c for c in everything.classes["LCCS_LU"]}
    assert lu[255].status == "unclassified" and lu[255].pixels >= 3


def test_scene_labels_match_brute_force(case):
    serial, brute, _side = case
    for key, expected in brute.items():
        group = serial.groups[key]
        assert {k: v for k, v in group.single_label.items() if v} == expected["single"], key
        assert {k: v for k, v in group.multi_label.items() if v} == expected["multi"], key


def test_patch_without_valid_igbp_has_no_scene_label(serial):
    assert serial["all", "all"].single_label[0] == 1
    assert serial["all", "all"].multi_label[0] == 1


def test_band_statistics_match_brute_force(case):
    serial, brute, _side = case
    for key, expected in brute.items():
        for sensor, values in expected["bands"].items():
            width = HISTOGRAMS[sensor].width
            for b, stats in enumerate(serial.groups[key].bands[sensor]):
                assert stats.band == facts.BANDS[sensor][b]
                x = values[b].astype(np.float64)
                finite = x[np.isfinite(x)]
                assert stats.count == finite.size, (key, sensor, b)
                assert stats.nan == x.size - finite.size, (key, sensor, b)
                if finite.size == 0:
                    assert stats.mean is None and stats.p2 is None
                    continue
                assert stats.mean == pytest.approx(finite.mean(), rel=1e-9, abs=1e-9)
                assert stats.std == pytest.approx(finite.std(), rel=1e-9, abs=1e-9)
                assert (stats.min, stats.max) == (finite.min(), finite.max())
                for q, got in ((2, stats.p2), (98, stats.p98)):
                    exact = np.percentile(finite, q)
                    assert abs(got - exact) <= width * (1 + 1e-9), (key, sensor, b, q, got, exact)


def test_nan_and_infinite_values_are_counted_and_excluded(serial):
    s1 = {b.band: b for b in serial["all", "all"].bands["s1"]}
    # 4 NaN + 2 inf in VV of one patch, 3 -inf in VH; one patch all NaN; the damaged patch's NaNs.
    damaged_nan = 24 * (24 // 2 - 24 // 3)
    assert s1["VV"].nan == 4 + 2 + 24 * 24 + damaged_nan
    assert s1["VH"].nan == 3 + 24 * 24 + damaged_nan
    assert s1["VV"].min == -95.0 and s1["VH"].max == 55.0
    assert all(b.nan == 0 for b in serial["all", "all"].bands["s2"])


def test_parallel_equals_serial(odd_root, serial):
    parallel = compute_stats(odd_root, jobs=2)
    assert parallel.to_json() == serial.to_json()


def test_chosen_splits_only(odd_root, serial):
    only = compute_stats(odd_root, splits=["test", "validation"])
    assert only.splits == ("holdout", "validation")
    assert {s for s, _ in only.groups} == {"holdout", "validation"}
    assert only["holdout", "all"] == serial["holdout", "all"]
    assert only["test", "spring"] == serial["holdout", "spring"]


def test_bad_arguments(odd_root):
    with pytest.raises(ValueError, match="unknown split 'nope'"):
        compute_stats(odd_root, splits=["nope"])
    with pytest.raises(ValueError, match="jobs"):
        compute_stats(odd_root, jobs=0)


def test_empty_split_by_name_is_an_error(copy_tree, sample_root):
    root = copy_tree(sample_root)
    import shutil

    for season in facts.SEASONS[1:]:
        shutil.rmtree(root / season)
    holdout_only = {pid.scene for pid in compute_splits(build_index(root)).members["holdout"]}
    for sensor in facts.SENSORS:
        for folder in (root / facts.SEASONS[0]).glob(f"{sensor}_*"):
            if int(folder.name.split("_")[1]) not in holdout_only:
                shutil.rmtree(folder)
    with pytest.raises(EmptySplitError, match="'train' is empty"):
        compute_stats(root, splits=["train"])
    # by default the empty splits are left out, saying why (tests/test_stats_partial.py)
    with pytest.warns(EmptySplitWarning):
        default = compute_stats(root)
    assert default.splits == ("holdout", "all") and default["holdout", "all"].patches > 0
    assert default.empty["train"] == "every triplet present belongs to the hold-out scenes"


def test_unreadable_patch_names_the_file(copy_tree, sample_root):
    root = copy_tree(sample_root)
    pid = build_index(root).triplets[3]
    path = pid.path(root, "s2")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(PatchFileError, match=path.name):
        compute_stats(root)


def test_json_is_plain_and_complete(serial):
    data = json.loads(json.dumps(serial.to_json()))
    assert data["histograms"]["s2"]["bin_width"] == HISTOGRAMS["s2"].width
    assert len(data["groups"]) == 25
    group = data["groups"][0]
    assert set(group) == {"split", "season", "patches", "classes", "scene_labels", "bands"}
    assert len(group["bands"]["s2"]) == 13 and len(group["bands"]["s1"]) == 2
