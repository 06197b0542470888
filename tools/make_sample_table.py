"""Regenerate ``sen12ms_plugins/demo/data/sample_scenes.csv`` from the reference lists.

Developers only: it reads ``../shared/reference`` (the upstream split lists and the
historical scene locations).  The installed package never reads that folder; it reads
the compact table this script writes.

    python tools/make_sample_table.py [--reference ../shared/reference]
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from sen12ms_plugins.dataset.facts import DAMAGED_PATCH as DAMAGED
from sen12ms_plugins.demo.sample import GRID_COLUMNS  # patch-grid width that places neighbours of a known patch

# Scenes of the built-in sample: (season, scene).  Per season two real hold-out scenes
# (one in winter, the only winter hold-out scene with a known location) and three or
# more others; scene 146 of summer holds the damaged patch.
HOLDOUT = [
    ("ROIs1158_spring", 124), ("ROIs1158_spring", 17),
    ("ROIs1868_summer", 43), ("ROIs1868_summer", 72),
    ("ROIs1970_fall", 120), ("ROIs1970_fall", 39),
    ("ROIs2017_winter", 32),
]
OTHERS = [
    ("ROIs1158_spring", 45), ("ROIs1158_spring", 101), ("ROIs1158_spring", 9),
    ("ROIs1868_summer", 73), ("ROIs1868_summer", 146), ("ROIs1868_summer", 56), ("ROIs1868_summer", 87),
    ("ROIs1970_fall", 1), ("ROIs1970_fall", 130), ("ROIs1970_fall", 14),
    ("ROIs2017_winter", 103), ("ROIs2017_winter", 138), ("ROIs2017_winter", 63),
]
# A location for the damaged patch's scene, whose real location is not in the
# reference data: marked "synthetic" in the table.
SYNTHETIC_LOCATION = {("ROIs1868_summer", 146): (11.5, 48.1)}
PATCHES_PER_SCENE = 16


def spread(values: list[int], n: int) -> list[int]:
    """n values spread over a sorted list (first, last, then midpoints), in pick order."""
    if len(values) <= n:
        return values
    picks: list[int] = []
    step = (len(values) - 1) / (n - 1)
    for i in range(n):
        picks.append(values[round(i * step)])
    # Interleave so that any prefix is spread too: 0, n-1, n/2, n/4, ...
    order = sorted(range(n), key=lambda i: (bin(i)[::-1], i))
    return [picks[i] for i in order]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parents[1]
    parser.add_argument("--reference", type=Path, default=here.parent / "shared" / "reference")
    parser.add_argument("--out", type=Path, default=here / "sen12ms_plugins" / "demo" / "data" / "sample_scenes.csv")
    args = parser.parse_args()
    ref = args.reference

    listed: dict[tuple[str, int], list[int]] = {}
    for name in ("test_list.txt", "historical/val_list.txt"):
        for line in (ref / name).read_text().split():
            season_a, season_b, _sensor, scene, patch = line[: -len(".tif")].split("_")
            listed.setdefault((f"{season_a}_{season_b}", int(scene)), []).append(int(patch[1:]))
    located: dict[tuple[str, int], tuple[int, float, float]] = {}
    with open(ref / "historical" / "scene_locations.csv", newline="") as f:
        for row in csv.DictReader(f):
            located[(row["season_folder"], int(row["scene"]))] = (
                int(row["patch"]), float(row["lon"]), float(row["lat"]))

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["season", "scene", "holdout", "anchor_patch", "lon", "lat", "location", "patch_source", "patches"])
    for holdout, scenes in ((1, HOLDOUT), (0, OTHERS)):
        for key in scenes:
            if key in located:
                anchor, lon, lat = located[key]
                location = "reference"
            else:
                anchor = DAMAGED[2] if key == DAMAGED[:2] else sorted(listed[key])[0]
                lon, lat = SYNTHETIC_LOCATION[key]
                location = "synthetic"
            if key in listed:
                patches = spread(sorted(listed[key]), PATCHES_PER_SCENE)
                source = "list"
            else:
                # Only one real patch number is known: add grid neighbours of it.
                steps = [0, 1, GRID_COLUMNS, GRID_COLUMNS + 1, -1, -GRID_COLUMNS, 2, 2 * GRID_COLUMNS,
                         -GRID_COLUMNS - 1, GRID_COLUMNS - 1, 3, -2, 3 * GRID_COLUMNS, -2 * GRID_COLUMNS, 4, 5]
                patches = [anchor + s for s in steps if 0 <= anchor + s <= 945]
                source = "reference+grid"
            if key == DAMAGED[:2]:
                patches = [DAMAGED[2]] + [p for p in patches if p != DAMAGED[2]]
            w.writerow([key[0], key[1], holdout, anchor, lon, lat, location, source, " ".join(map(str, patches))])
    args.out.write_text(out.getvalue())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
