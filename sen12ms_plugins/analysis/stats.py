"""Class distributions and band statistics of a SEN12MS root, per split and season.

One streaming pass reads every triplet of the requested splits once (optionally in
several processes) and folds it into fixed-size accumulators, so memory does not grow
with the number of patches.  What is counted, for every group (split x season, and
split x all seasons):

* ``patches``: triplets in the group;
* per label scheme (:data:`~sen12ms_plugins.dataset.labels.SCHEMES`: IGBP, the simplified DFC
  scheme derived from IGBP, the three LCCS layers): pixels per code and patches that
  contain the code.  Every named class is listed (zeros too); LCCS code 255 is listed
  as ``unclassified``; any other code is listed as ``unknown`` with its value, never
  dropped (a DFC ``unknown`` is an IGBP code outside 1-17);
* scene-level labels (:func:`~sen12ms_plugins.dataset.labels.scene_labels`, simplified scheme):
  patches whose single label is each class, patches whose multi-label holds each
  class (code 0: the patch has no valid IGBP pixel);
* per band of S1 and S2: valid values (``count``), non-finite values (``nan``: NaN or
  infinite, counted and excluded from everything else), mean, population standard
  deviation, min, max and the approximate 2nd and 98th percentiles.

Percentiles come from fixed-bin histograms (:data:`HISTOGRAMS`): S2 over 0..65536 in
bins of 8 (reflectance x10000), S1 over -80..40 dB in bins of 0.01 dB, plus one bin
below and one above the range whose edges are the exact min and max.  The value
reported for a rank is placed inside its bin by linear interpolation, so it is off by
less than one bin width from numpy's ``percentile`` (linear method) over all values;
for a rank that falls outside the range the error is bounded by the exact min or max.
Histograms, counts, sums (mean and variance merged with Chan et al.'s pairwise
formula, in float64) and extremes are all mergeable, which is what makes the parallel
pass possible; chunks are merged in index order so ``jobs=1`` and ``jobs=N`` give
identical numbers.

Split membership is computed once per patch: a patch belongs to one part
(``holdout``, ``validation``, ``train_minus_validation``, or none for the damaged
patch) and every split is a union of parts (``train`` = ``validation`` +
``train_minus_validation``; ``all`` = every complete triplet, the damaged patch
included).

A root holding DFC2020 (``sen12ms add-dfc2020``) adds the groups ``dfc2020_validation`` and
``dfc2020_test`` (by default, when present; ``all`` stays SEN12MS's).  Their patches have no
season: they count in the ``all`` seasons group only (the season groups are empty).  Their
``DFC`` classes and scene labels are those of the contest's 10 m label (the ``dfc`` file);
``IGBP`` and the LCCS layers those of their MODIS ``lc`` file.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..console import Progress
from ..dataset import facts, labels
from ..dataset.ids import PatchId
from ..dataset.index import Index, build_index
from ..dataset.splits import DFC2020_SPLITS, DISJOINT_SPLITS, SPLITS, Splits, canonical_split, compute_splits, parts_of
from ..errors import EmptySplitError
from ..fsutil import atomic_write_bytes
from ..reading.reader import mark_announced, probe_layouts, read_triplet
from .accumulators import HISTOGRAMS, PERCENTILES, BandStats, Cell, CodeCounter

#: Every complete triplet of the root, the damaged patch included (it is in no named split).
ALL: str = "all"
#: Group names for the seasons combined.
ALL_SEASONS: str = "all"
#: The groups ``compute_stats`` builds by default, in report order.
DEFAULT_SPLITS: tuple[str, ...] = (*SPLITS, ALL)
#: Triplets per unit of work; chunks never span two scenes.
CHUNK_PATCHES = 64
#: The part of the damaged patch, which is in no named split (but in ``all``).
_NO_SPLIT = "none"


def _part_of(splits: Splits, pid: PatchId) -> str:
    return splits.split_of(pid) or _NO_SPLIT


def _parts(name: str) -> tuple[str, ...]:
    """The parts a group is made of: every patch falls in exactly one part."""
    return (*DISJOINT_SPLITS, _NO_SPLIT) if name == ALL else parts_of(name)


def _process_chunk(root: str, chunk: Sequence[tuple[PatchId, str]]) -> dict[tuple[str, str], Cell]:
    """Read the triplets of one chunk and count them into cells keyed by (season, part)."""
    cells: dict[tuple[str, str], Cell] = {}
    for pid, part in chunk:
        key = (pid.season, part)
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = Cell()
        cell.add(read_triplet(root, pid))
    return cells


def _process_chunk_star(args: tuple[str, Sequence[tuple[PatchId, str]]]) -> dict[tuple[str, str], Cell]:
    return _process_chunk(*args)


def _chunks(work: Sequence[tuple[PatchId, str]], size: int) -> list[list[tuple[PatchId, str]]]:
    """Split the work into runs of at most ``size`` triplets of one scene each."""
    chunks: list[list[tuple[PatchId, str]]] = []
    for item in work:
        last = chunks[-1] if chunks else None
        if last is None or len(last) >= size or last[0][0].scene_id != item[0].scene_id:
            chunks.append([item])
        else:
            last.append(item)
    return chunks


# --- Results --------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassCount:
    """Pixels of one code of one scheme, and patches that hold it.

    ``status`` is ``class`` (a named class of the scheme), ``unclassified`` (LCCS
    code 255) or ``unknown`` (any other code).
    """

    scheme: str
    code: int
    name: str
    status: labels.ClassStatus
    pixels: int
    patches: int


@dataclass(frozen=True)
class GroupStats:
    """Everything counted over one split and one season (or ``all`` seasons)."""

    split: str
    season: str  # short season name, or "all"
    patches: int
    classes: Mapping[str, tuple[ClassCount, ...]]  # scheme -> counts
    single_label: Mapping[int, int]  # simplified class (0 = none) -> patches
    multi_label: Mapping[int, int]
    bands: Mapping[str, tuple[BandStats, ...]]  # sensor -> per band

    def class_pixels(self, scheme: str) -> dict[int, int]:
        """Pixels per code of one scheme (every code listed, zeros included)."""
        return {c.code: c.pixels for c in self.classes[scheme]}


@dataclass(frozen=True)
class DatasetStats:
    """The result of :func:`compute_stats`: one :class:`GroupStats` per split and season."""

    root: Path
    splits: tuple[str, ...]
    groups: Mapping[tuple[str, str], GroupStats] = field(repr=False)
    #: The splits left out because this root holds no patch of them, each with the reason.
    empty: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, key: tuple[str, str]) -> GroupStats:
        """``stats["train", "spring"]``, ``stats["holdout", "all"]``; seasons by short or folder name."""
        split, season = key
        split = split if split == ALL else canonical_split(split)
        season = season if season == ALL_SEASONS else facts.SEASON_SHORT[facts.season_from_short(season)]
        return self.groups[split, season]

    def to_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "splits": list(self.splits),
            "empty_splits": dict(self.empty),
            "seasons": [*(facts.SEASON_SHORT[s] for s in facts.SEASONS), ALL_SEASONS],
            "percentiles": list(PERCENTILES),
            "histograms": {s: {"low": h.low, "high": h.high, "bin_width": h.width} for s, h in HISTOGRAMS.items()},
            "multi_label_threshold": labels.MULTI_LABEL_THRESHOLD,
            "groups": [
                {
                    "split": g.split,
                    "season": g.season,
                    "patches": g.patches,
                    "classes": {
                        scheme: [_asdict(c, drop=("scheme",)) for c in counts]
                        for scheme, counts in g.classes.items()
                    },
                    "scene_labels": {
                        "single": _label_rows(g.single_label),
                        "multi": _label_rows(g.multi_label),
                    },
                    "bands": {sensor: [_asdict(b, drop=("sensor",)) for b in rows] for sensor, rows in g.bands.items()},
                }
                for g in self.groups.values()
            ],
        }

    # CSV tables, one row per fact; the same numbers as the JSON.
    def class_rows(self) -> list[list[Any]]:
        rows = [["split", "season", "scheme", "code", "name", "status", "pixels", "patches", "pixel_share"]]
        for g in self.groups.values():
            for scheme, counts in g.classes.items():
                total = sum(c.pixels for c in counts)
                for c in counts:
                    share = c.pixels / total if total else 0.0
                    rows.append([g.split, g.season, scheme, c.code, c.name, c.status, c.pixels, c.patches,
                                 f"{share:.6g}"])
        return rows

    def scene_label_rows(self) -> list[list[Any]]:
        rows = [["split", "season", "kind", "code", "name", "patches"]]
        for g in self.groups.values():
            for kind, table in (("single", g.single_label), ("multi", g.multi_label)):
                for row in _label_rows(table):
                    rows.append([g.split, g.season, kind, row["code"], row["name"], row["patches"]])
        return rows

    def band_rows(self) -> list[list[Any]]:
        rows = [["split", "season", "sensor", "band", "count", "nan", "mean", "std", "min", "max", "p2", "p98"]]
        for g in self.groups.values():
            for sensor, bands in g.bands.items():
                for b in bands:
                    rows.append([g.split, g.season, sensor, b.band, b.count, b.nan,
                                 *("" if v is None else repr(v) for v in (b.mean, b.std, b.min, b.max, b.p2, b.p98))])
        return rows

    def patch_rows(self) -> list[list[Any]]:
        return [["split", "season", "patches"]] + [[g.split, g.season, g.patches] for g in self.groups.values()]

    def write(self, out: str | os.PathLike[str]) -> list[Path]:
        """Write ``stats.json`` and the CSV tables into ``out`` (the charts are
        :func:`~sen12ms_plugins.analysis.charts.write_class_charts`).

        Each file is written atomically; the list of files written is returned.
        """
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        tables = {
            "patches.csv": self.patch_rows(),
            "class_counts.csv": self.class_rows(),
            "scene_labels.csv": self.scene_label_rows(),
            "band_stats.csv": self.band_rows(),
        }
        for name, rows in tables.items():
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(rows)
            atomic_write_bytes(out / name, buffer.getvalue().encode("utf-8"))
            written.append(out / name)
        atomic_write_bytes(out / "stats.json", (json.dumps(self.to_json(), indent=1) + "\n").encode("utf-8"))
        written.append(out / "stats.json")
        return written


def _asdict(obj: Any, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: v for k, v in obj.__dict__.items() if k not in drop}


def _label_rows(table: Mapping[int, int]) -> list[dict[str, Any]]:
    return [{"code": code, "name": _dfc_name(code), "patches": n} for code, n in table.items()]


def _dfc_name(code: int) -> str:
    return labels.DFC_CLASSES.get(code, "no valid label")


def _class_counts(scheme: str, counter: CodeCounter) -> tuple[ClassCount, ...]:
    band, classes = labels.SCHEMES[scheme]
    seen = {code: (pixels, patches) for code, pixels, patches in counter.items()}
    rows = [ClassCount(scheme, code, name, labels.ClassStatus.CLASS, *seen.pop(code, (0, 0))) for code, name in classes.items()]
    is_lccs = band != labels.SCHEMES["IGBP"][0]
    if is_lccs:
        rows.append(ClassCount(scheme, labels.LCCS_UNCLASSIFIED, "Unclassified", labels.ClassStatus.UNCLASSIFIED,
                               *seen.pop(labels.LCCS_UNCLASSIFIED, (0, 0))))
    for code, (pixels, patches) in sorted(seen.items()):
        rows.append(ClassCount(scheme, code, f"unknown code {code}", labels.ClassStatus.UNKNOWN, pixels, patches))
    return tuple(rows)


def _group(split: str, season: str, cell: Cell) -> GroupStats:
    return GroupStats(
        split=split,
        season=season,
        patches=cell.patches,
        classes={scheme: _class_counts(scheme, cell.codes[scheme]) for scheme in labels.SCHEMES},
        single_label={code: int(n) for code, n in enumerate(cell.single) if code or n},
        multi_label={code: int(n) for code, n in enumerate(cell.multi) if code or n},
        bands={sensor: tuple(cell.bands[sensor].results()) for sensor in facts.IMAGE_SENSORS},
    )


# --- Entry point ----------------------------------------------------------------------


def normalise_splits(names: Iterable[str] | None) -> tuple[str, ...]:
    """Canonical split names in report order (``test`` -> ``holdout``; ``all`` kept); default all five."""
    if names is None:
        return DEFAULT_SPLITS
    chosen = {name if name == ALL else canonical_split(name) for name in names}
    if not chosen:
        raise ValueError("no split chosen")
    return tuple(name for name in (*DEFAULT_SPLITS, *DFC2020_SPLITS) if name in chosen)


def compute_stats(
    root: str | os.PathLike[str] | None = None,
    *,
    splits: Iterable[str] | None = None,
    jobs: int = 1,
    quiet: bool = True,
    index: Index | None = None,
) -> DatasetStats:
    """Count classes and band statistics over the requested splits of ``root``.

    ``splits`` is any of :data:`~sen12ms_plugins.dataset.splits.SPLITS` (or ``test``) and
    ``all`` (every complete triplet); default all five.  A split requested by name
    that has no patch in this root raises
    :class:`~sen12ms_plugins.errors.EmptySplitError`; with the default, the splits
    without patches are left out (:attr:`DatasetStats.empty` and ``stats.json`` say why,
    and one :class:`~sen12ms_plugins.errors.EmptySplitWarning`), and a root without any
    triplet is an ``EmptySplitError``.  ``jobs`` processes read in parallel.  A triplet
    that cannot be read raises :class:`~sen12ms_plugins.errors.PatchFileError`
    naming the file: nothing is skipped.
    """
    explicit = splits is not None
    chosen = normalise_splits(splits)
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    index = index if index is not None else build_index(root)
    split_table = compute_splits(index)
    if ALL in chosen and not index.triplets and (explicit or not index.dfc2020):
        raise EmptySplitError(f"{index.root}: split 'all' is empty: the root holds no complete SEN12MS triplet")
    named = [name for name in chosen if name != ALL]
    empty: dict[str, str] = {}
    if explicit:
        for name in named:
            split_table[name]  # raises EmptySplitError with the reason
    else:
        # "all" is SEN12MS's triplets: a root of DFC2020 alone has none; its DFC2020 splits come last
        more = [*((ALL,) if index.triplets else ()), *(n for n in split_table.names if n in DFC2020_SPLITS)]
        empty = split_table.empty(named)
        kept = split_table.with_members(named, doing="the statistics cover {splits}" + "".join(
            f" and {name}" for name in more) + " only", none_is_error=False)
        chosen = (*kept, *more)
    wanted_parts = {part for name in chosen for part in _parts(name)}
    work = [(pid, part) for pid in (*index.triplets, *index.dfc2020)
            if (part := _part_of(split_table, pid)) in wanted_parts]
    cells = _run(str(index.root), work, jobs, quiet)

    groups: dict[tuple[str, str], GroupStats] = {}
    for name in chosen:
        total = Cell()
        per_season = {}
        for season in facts.TOP_FOLDERS:  # a DFC2020 set's folder stands in for its patches' season
            cell = Cell()
            for part in _parts(name):
                if (season, part) in cells:
                    cell.merge(cells[season, part])
            per_season[season] = cell
            total.merge(cell)
        groups[name, ALL_SEASONS] = _group(name, ALL_SEASONS, total)
        for season in facts.SEASONS:
            short = facts.SEASON_SHORT[season]
            groups[name, short] = _group(name, short, per_season[season])
    return DatasetStats(root=index.root, splits=chosen, groups=groups, empty=empty)


def _run(root: str, work: list[tuple[PatchId, str]], jobs: int, quiet: bool) -> dict[tuple[str, str], Cell]:
    """Process every chunk (in ``jobs`` processes) and merge the cells in chunk order."""
    chunks = _chunks(work, CHUNK_PATCHES)
    cells: dict[tuple[str, str], Cell] = {}
    with Progress(len(work), "stats", unit="patch", quiet=quiet) as bar:
        if jobs == 1 or len(chunks) < 2:
            results: Iterable = (_process_chunk(root, chunk) for chunk in chunks)
            _fold(results, chunks, cells, bar)
        else:
            # spawn: a forked GDAL/rasterio state is not safe to share with children.
            context = multiprocessing.get_context("spawn")
            # A layout the fast reader leaves to rasterio is announced here, once, not by every worker.
            seen = probe_layouts(root, chunks[0][0][0])
            with context.Pool(min(jobs, len(chunks)), initializer=mark_announced, initargs=(seen,)) as pool:
                results = pool.imap(_process_chunk_star, ((root, chunk) for chunk in chunks))
                _fold(results, chunks, cells, bar)
    return cells


def _fold(results: Iterable[dict], chunks: list[list], cells: dict[tuple[str, str], Cell], bar) -> None:
    for chunk, result in zip(chunks, results):
        for key, cell in result.items():
            if key in cells:
                cells[key].merge(cell)
            else:
                cells[key] = cell
        bar.update(len(chunk))
