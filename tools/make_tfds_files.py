"""Regenerate the TFDS builder's derived files: ``dummy_data/``, ``README.md``, ``CITATIONS.bib``.

* ``tfds_builder/sen12ms/dummy_data/`` is a SEN12MS tree made by the project's
  sample generator (the TFDS test uses it as the manual folder): the built-in
  sample's 20 scenes, :data:`PATCHES_PER_SCENE` patches each, :data:`PATCH_SIZE` px.
  The generator is deterministic, so a rerun gives the same bytes.
* ``README.md`` (TFDS shows it as the dataset description) and ``CITATIONS.bib``
  are written from ``sen12ms_plugins.dataset.facts``, where the description, counts and
  citation live.

    python tools/make_tfds_files.py            # rewrite the files
    python tools/make_tfds_files.py --check    # exit 1 if any of them is stale
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILDER_DIR = REPO / "tfds_builder" / "sen12ms"
DUMMY_DATA = BUILDER_DIR / "dummy_data"
PATCH_SIZE = 16
PATCHES_PER_SCENE = 2
SEED = 0


#: DFC2020 patches per set folder in the dummy tree (as a root holds them after add-dfc2020).
DFC2020_PATCHES = {"ROIs0000_validation": 2, "ROIs0000_test": 3}


def generate_dummy_data(out: Path) -> None:
    """Write the dummy tree into ``out`` (missing or empty): the SEN12MS sample and, beside its
    seasons, DFC2020-like set folders (what ``sen12ms add-dfc2020`` puts into a root)."""
    from sen12ms_plugins.demo.dfc2020_sample import make_dfc2020_sample
    from sen12ms_plugins.demo.sample import make_sample

    make_sample(out, seed=SEED, patch_size=PATCH_SIZE, patches_per_scene=PATCHES_PER_SCENE)
    with tempfile.TemporaryDirectory() as tmp:
        make_dfc2020_sample(Path(tmp) / "dfc2020", seed=SEED, patch_size=PATCH_SIZE, counts=DFC2020_PATCHES,
                            zips=False)
        for folder in DFC2020_PATCHES:
            shutil.move(Path(tmp) / "dfc2020" / folder, out / folder)


def render_readme() -> str:
    from sen12ms_plugins.dataset import facts
    from sen12ms_plugins.tfds.sen12ms_dataset_builder import BUILDER_CONFIGS

    configs = ", ".join(f"`{config.name}`" for config in BUILDER_CONFIGS)

    return f"""\
{facts.DESCRIPTION}

Splits, the same in torchgeo, TensorFlow Datasets and Hugging Face `datasets`
(computed by `sen12ms_plugins.dataset.splits`):

* `train`: every triplet outside the official hold-out scenes except the one
  damaged patch ({facts.TRAIN_PATCHES:,} patches; upstream `train_list.txt`);
* `holdout`: the {facts.HOLDOUT_SCENES} official hold-out scenes ({facts.HOLDOUT_PATCHES:,} patches;
  upstream `test_list.txt`, torchgeo's `test`);
* `validation`: whole scenes holding about 10% of `train` in every season;
* `train_minus_validation`: `train` without `validation`;
* `dfc2020_validation`, `dfc2020_test`: when the root holds them (`sen12ms add-dfc2020`),
  the {facts.DFC2020_PATCHES["ROIs0000_validation"]:,} validation and {facts.DFC2020_PATCHES["ROIs0000_test"]:,} test patches of the 2020 IEEE GRSS Data Fusion
  Contest, from the same sensors and processing, whose `dfc` mask is the contest's
  hand-made 10 m label (IEEE DataPort, login: {facts.DFC2020_URL}).

Configs choose the sensors and bands stored ({configs});
every example also holds its patch id, season, scene, patch number, centre
longitude/latitude, the IGBP and simplified (DFC2020) land-cover masks and the scene
labels (single and multi-label, Schmitt & Wu 2021).

Paper: https://doi.org/{facts.PAPER_DOI}. Licence of the data: {facts.LICENSE}.
"""


def render_citations() -> str:
    from sen12ms_plugins.dataset import facts

    return facts.CITATION_BIBTEX


TEXT_FILES = {"README.md": render_readme, "CITATIONS.bib": render_citations}


def dummy_data_differences(a: Path, b: Path) -> list[str]:
    """Root-relative paths that differ between two trees (bookkeeping folders ignored)."""
    found: list[str] = []

    def walk(cmp: filecmp.dircmp, prefix: str) -> None:
        found.extend(f"{prefix}{name}" for name in cmp.left_only + cmp.right_only + cmp.funny_files)
        # dircmp compares by stat signature only; compare the bytes.
        _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
        found.extend(f"{prefix}{name}" for name in mismatch + errors)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(a, b, ignore=[".sen12ms"]), "")
    return sorted(f"dummy_data/{path}" for path in found)


def stale_files() -> list[str]:
    """Paths (relative to the builder folder) whose content is not what this tool writes."""
    stale = [name for name, render in TEXT_FILES.items()
             if not (BUILDER_DIR / name).is_file() or (BUILDER_DIR / name).read_text(encoding="utf-8") != render()]
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "dummy_data"
        generate_dummy_data(fresh)
        stale += dummy_data_differences(fresh, DUMMY_DATA) if DUMMY_DATA.is_dir() else ["dummy_data/"]
    return stale


def write_all() -> None:
    for name, render in TEXT_FILES.items():
        (BUILDER_DIR / name).write_text(render(), encoding="utf-8")
    with tempfile.TemporaryDirectory(dir=BUILDER_DIR) as tmp:
        fresh = Path(tmp) / "dummy_data"
        generate_dummy_data(fresh)
        # Swap the new tree in whole, so an interrupted run never leaves a mix.
        old = Path(tmp) / "old"
        if DUMMY_DATA.exists():
            DUMMY_DATA.rename(old)
        fresh.rename(DUMMY_DATA)
        shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 when stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"stale: tfds_builder/sen12ms/{path}", file=sys.stderr)
        return 1 if stale else 0
    write_all()
    print(f"wrote {', '.join(TEXT_FILES)} and dummy_data/ in {BUILDER_DIR.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
