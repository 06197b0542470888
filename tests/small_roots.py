"""Small and partial SEN12MS roots cut out of the sample (real GeoTIFFs): the shapes that
leave a split with few members or none."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from sen12ms_plugins.dataset import facts
from sen12ms_plugins.dataset.ids import PatchId, SceneId, parse_filename, write_patch_list

#: One non-hold-out scene per season, the shape of torchgeo's test data (tests/data/sen12ms).
ONE_PER_SEASON = (
    SceneId("ROIs1158_spring", 45),
    SceneId("ROIs1868_summer", 73),
    SceneId("ROIs1970_fall", 1),
    SceneId("ROIs2017_winter", 103),
)
#: The scene the pooled rule takes from ONE_PER_SEASON: the lowest SHA-256 of
#: "sen12ms-plugins/validation/v1:<season>/<scene>" of the four (690b6f3a…; worked out by
#: hand with hashlib, not by the rule's code).
ONE_PER_SEASON_VALIDATION = SceneId("ROIs1970_fall", 1)
#: A hold-out scene of the sample.
HOLDOUT_SCENE = SceneId("ROIs1158_spring", 124)
#: A single non-hold-out scene and a hold-out scene: ``validation`` is empty.
SINGLE_TRAIN_SCENE = (SceneId("ROIs1970_fall", 1), HOLDOUT_SCENE)


def scene_root(sample_root: Path, root: Path, scenes: Iterable[SceneId]) -> Path:
    """A root holding only ``scenes`` of the sample (all their triplets)."""
    for scene in scenes:
        for sensor in facts.SENSORS:
            shutil.copytree(sample_root / scene.dirname(sensor), root / scene.dirname(sensor))
    return root


def torchgeo_shaped_root(sample_root: Path, root: Path) -> Path:
    """Like torchgeo's test data: one non-hold-out scene per season (and one hold-out scene),
    with upstream's ``train_list.txt`` (the non-hold-out patches) and ``test_list.txt`` (the
    hold-out scene's patches), written from the folders copied, not from the split rules."""
    scene_root(sample_root, root, (*ONE_PER_SEASON, HOLDOUT_SCENE))
    train = [p for s in ONE_PER_SEASON for p in patches_of(root, s)]
    write_patch_list(root / "train_list.txt", train)
    write_patch_list(root / "test_list.txt", patches_of(root, HOLDOUT_SCENE))
    return root


def patches_of(root: Path, scene: SceneId) -> list[PatchId]:
    """The triplets of one scene in ``root``, read off its S2 folder's file names."""
    return sorted(parse_filename(p.name)[0] for p in (root / scene.dirname("s2")).glob("*.tif"))
