"""The dataset card (``README.md``) of an exported SEN12MS directory.

Its YAML header is what ``datasets`` reads: ``configs:`` maps every split of every
configuration to its Parquet shards (``train`` to the ``train_minus_validation`` and
``validation`` shards), ``dataset_info`` gives the features and split sizes.  A split
without members in the exported root is left out of both, and the body says why.  The body
documents the data for people: fields, splits, dtypes, usage, licence and citation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import datasets
import yaml

from .. import __version__
from ..dataset import facts, labels
from ..dataset.splits import ALL_SPLITS, parts_of
from ..fsutil import atomic_write_bytes
from ..reading.configs import DatasetConfig
from ..reading.examples import SCENE_LABEL_NAMES, SEASON_NAMES


@dataclass(frozen=True)
class ConfigSummary:
    """One exported configuration: its features, shards and patch counts per stored split
    (those of ``holdout``, ``train_minus_validation``, ``validation`` and the DFC2020 splits
    that have members)."""

    config: DatasetConfig
    features: datasets.Features
    shards: Mapping[str, Sequence]  # split -> ShardResult list (relpath, rows, nbytes, file_bytes)
    counts: Mapping[str, int]

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits of this export, in the project's order: ``train`` when one of its parts is stored."""
        return tuple(name for name in ALL_SPLITS if self.parts(name))

    def parts(self, split: str) -> tuple[str, ...]:
        """The stored splits ``split`` is made of (``train``: those of its parts that are stored)."""
        return tuple(part for part in parts_of(split) if part in self.shards)

    def split_count(self, split: str) -> int:
        return sum(self.counts[p] for p in self.parts(split))

    def split_nbytes(self, split: str) -> int:
        return sum(r.nbytes for p in self.parts(split) for r in self.shards[p])

    def patterns(self, split: str) -> list[str]:
        """Glob patterns of a split's shards; the ``-of-MMMMM`` part pins them to this export."""
        out = []
        for part in self.parts(split):
            count = len(self.shards[part])
            out.append(f"data/{self.config.name}/{part}-*-of-{count:05d}.parquet")
        return out


def _array(sensor: str) -> str:
    """``float32 [2, H, W]``: a sensor's array as every configuration stores it."""
    return f"{facts.DTYPES[sensor]} [{len(facts.BANDS[sensor])}, H, W]"


def _range(classes: Mapping[int, str]) -> str:
    return f"{min(classes)}-{max(classes)}"


def _classes(names: Sequence[str]) -> str:
    """``0 spring, 1 summer, …``: the class numbers of a ClassLabel with their names."""
    return ", ".join(f"{k} {name}" for k, name in enumerate(names))


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def card_metadata(summaries: Sequence[ConfigSummary], default: str, triplets: int) -> dict:
    """The YAML header as a dict."""
    default_name = default if any(s.config.name == default for s in summaries) else summaries[0].config.name
    configs = []
    infos = []
    for summary in summaries:
        data_files = []
        for split in summary.splits:
            patterns = summary.patterns(split)
            data_files.append({"split": split, "path": patterns if len(patterns) > 1 else patterns[0]})
        entry: dict = {"config_name": summary.config.name}
        if summary.config.name == default_name:
            entry["default"] = True
        entry["data_files"] = data_files
        configs.append(entry)
        info = datasets.DatasetInfo(
            download_size=sum(r.file_bytes for shards in summary.shards.values() for r in shards),
            dataset_size=sum(summary.split_nbytes(s) for s in summary.splits),
            features=summary.features,
            splits=datasets.SplitDict(
                {
                    split: datasets.SplitInfo(
                        name=split, num_bytes=summary.split_nbytes(split), num_examples=summary.split_count(split)
                    )
                    for split in summary.splits
                }
            ),
        )
        # datasets' own YAML form of features and splits (what push_to_hub writes), one entry per configuration
        card: dict = {}
        datasets.info.DatasetInfosDict({summary.config.name: info}).to_dataset_card_data(card)
        infos.append(card["dataset_info"])
    return {
        "license": facts.LICENSE.lower(),
        "pretty_name": "SEN12MS",
        "task_categories": ["image-classification", "image-segmentation"],
        "tags": ["remote-sensing", "earth-observation", "sentinel-1", "sentinel-2", "sar", "multispectral",
                 "land-cover", "geospatial"],
        "size_categories": [_size_category(triplets)],
        "configs": configs,
        "dataset_info": infos,
    }


def render_card(
    summaries: Sequence[ConfigSummary], *, default: str, patch_size: int, triplets: int,
    empty: Mapping[str, str] | None = None,
) -> str:
    """The whole ``README.md``: YAML header, then the description for people; ``empty`` maps
    each split left out (no member in the root) to the reason."""
    if not summaries:
        raise ValueError("a dataset card needs at least one configuration")
    meta = card_metadata(summaries, default, triplets)
    header = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    default_name = next(c["config_name"] for c in meta["configs"] if c.get("default"))
    first = summaries[0]
    config_rows = "\n".join(
        f"| `{s.config.name}`{' (default)' if s.config.name == default_name else ''} | "
        f"{', '.join(f'`{x}`' for x in s.config.sensors)} | {s.config.description} |"
        for s in summaries
    )
    split_rows = "\n".join(
        f"| `{split}` | {first.split_count(split):,} | {_SPLIT_TEXT[split]} |" for split in first.splits
    )
    left_out = "".join(f"\n- `{split}`: {why}." for split, why in (empty or {}).items())
    if left_out:
        left_out = ("\n\nNot in this export, because the root it was written from holds no patch of them:"
                    + left_out)
    label_names = _classes(SCENE_LABEL_NAMES)
    dfc2020 = _DFC2020_TEXT if any(split.startswith("dfc2020_") for split in first.splits) else ""
    return f"""---
{header}---

# SEN12MS

{facts.DESCRIPTION}

Homepage: {facts.HOMEPAGE} — paper: https://doi.org/{facts.PAPER_DOI} — data licence: {facts.LICENSE}.

This directory was written by `sen12ms export-hf` (sen12ms-plugins {__version__}) from a root
of {triplets:,} triplets of {patch_size}x{patch_size} pixels. It holds Parquet shards only; no
loading script is needed (`datasets` 3.x, 4.x and 5.x).

## Configurations

| name | image arrays | content |
|---|---|---|
{config_rows}

Every configuration also has the label fields below.

## Splits

| split | patches | what |
|---|---:|---|
{split_rows}

`train` is stored once: it is the `train_minus_validation` shards followed by the
`validation` shards. No scene is in two of `holdout`, `validation` and
`train_minus_validation`.{left_out}{dfc2020}

## Fields

| field | type | meaning |
|---|---|---|
| `id` | string | patch id, e.g. `ROIs1158_spring_124_p100` |
| `season` | ClassLabel | {_classes(SEASON_NAMES)} (-1, no label: DFC2020, season unknown) |
| `scene`, `patch` | int32 | scene (ROI) and patch number |
| `lon`, `lat` | float64 | patch centre, WGS 84 degrees (NaN: unknown) |
| `s1` | Array3D {_array("s1")} | Sentinel-1 {", ".join(facts.BANDS["s1"])} backscatter in dB (NaN where missing) |
| `s2` | Array3D {_array("s2")} | Sentinel-2 {" ".join(facts.BANDS["s2"])}, TOA reflectance x10000 |
| `lc` | Array3D {_array("lc")} | MODIS {", ".join(facts.BANDS["lc"])} (IGBP and the three LCCS layers) |
| `igbp` | Array2D {facts.DTYPES["lc"]} [H, W] | IGBP class per pixel ({_range(labels.IGBP_CLASSES)}) |
| `dfc` | Array2D {facts.DFC2020_DTYPES["dfc"]} [H, W] | simplified (DFC2020) class per pixel ({_range(labels.DFC_CLASSES)}; 0 = no data); the 10 m label in `dfc2020_*` |
| `label` | ClassLabel | most frequent `dfc` class of the patch (Schmitt & Wu 2021) |
| `labels` | bool [{len(SCENE_LABEL_NAMES)}] | multi-hot: entry k is True when `dfc` class k covers at least {labels.MULTI_LABEL_THRESHOLD:.0%} of the patch |

Scene-label classes: {label_names}.

## Usage

```python
from datasets import load_dataset

holdout = load_dataset("PATH/TO/THIS/DIR", "{default_name}", split="holdout")
stream = load_dataset("PATH/TO/THIS/DIR", "{default_name}", split="train", streaming=True)

ds = holdout.with_format("numpy")   # integer arrays come out as int64, floats as float32
```

On disk, uint16 stays uint16. `with_format("numpy")` and `with_format("torch")` widen
every integer array to int64 (four times the memory of uint16); to keep the files'
dtypes, iterate in Arrow form and convert with `sen12ms_plugins.hf.table_to_numpy`:

```python
from sen12ms_plugins.hf import table_to_numpy

for batch in holdout.with_format("arrow").iter(batch_size=32):
    arrays = table_to_numpy(batch)   # arrays["s2"]: uint16 [32, 13, H, W]
```

With torch, `sen12ms_plugins.hf.torch_loader` is a `DataLoader` whose batches keep them
(`s2` torch.uint16, to be converted on the device):

```python
from sen12ms_plugins.hf import torch_loader

for batch in torch_loader(holdout, batch_size=32, shuffle=True):
    s2 = batch["s2"]                 # torch.uint16 [32, 13, H, W]
```

## Citation

```bibtex
{facts.CITATION_BIBTEX.rstrip()}
```
"""


_SPLIT_TEXT = {
    "train": "every non-hold-out triplet except the damaged patch (upstream `train_list.txt`)",
    "holdout": f"the {facts.HOLDOUT_SCENES} official hold-out scenes (upstream `test_list.txt`, torchgeo's `test`)",
    "validation": "whole scenes, about 10% of `train` per season (deterministic rule)",
    "train_minus_validation": "`train` without `validation`",
    "dfc2020_validation": "the 2020 Data Fusion Contest's validation patches, hand-made 10 m labels "
                          f"({facts.DFC2020_PATCHES['ROIs0000_validation']:,} as released)",
    "dfc2020_test": "the 2020 Data Fusion Contest's test patches, hand-made 10 m labels "
                    f"({facts.DFC2020_PATCHES['ROIs0000_test']:,} as released)",
}
_DFC2020_TEXT = f"""

The `dfc2020_*` splits are the 2020 IEEE GRSS Data Fusion Contest's validation and test
data (same sensors and processing as SEN12MS; {facts.DFC2020_URL}, login), added to the
root with `sen12ms add-dfc2020`. Their examples have the same fields, with these values:
`dfc` is the contest's hand-made 10 m label (not derived from IGBP), and `label`/`labels`
are computed from it; `igbp` and `lc` are their MODIS layers (500 m, as in SEN12MS);
`season` is -1 (no label: unknown), `scene` 0, and `lon`/`lat` NaN where the file's georeference is
stripped (as the release's are reported to be). The ids start with `ROIs0000_`."""


def write_card(
    path: Path, summaries: Sequence[ConfigSummary], *, default: str, patch_size: int, triplets: int,
    empty: Mapping[str, str] | None = None,
) -> None:
    """Write the card atomically: a reader sees no card or a complete one."""
    text = render_card(summaries, default=default, patch_size=patch_size, triplets=triplets, empty=empty)
    atomic_write_bytes(path, text.encode("utf-8"))
