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
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from ..dataset import facts, labels
from ..dataset.ids import PatchId
from ..dataset.index import Index, build_index
from ..dataset.splits import SPLITS, Splits, canonical_split, compute_splits
from ..errors import EmptySplitError

#: Every complete triplet of the root, the damaged patch included (it is in no named split).
ALL: str = "all"
#: Group names for the seasons combined.
ALL_SEASONS: str = "all"
#: The groups ``compute_stats`` builds by default, in report order.
DEFAULT_SPLITS: tuple[str, ...] = (*SPLITS, ALL)
#: The sensors whose bands get statistics.
BAND_SENSORS: tuple[str, ...] = ("s1", "s2")
PERCENTILES: tuple[float, float] = (2.0, 98.0)
#: Triplets per unit of work; chunks never span two scenes.
CHUNK_PATCHES = 64

_DAMAGED = PatchId(*facts.DAMAGED_PATCH)
# Parts every patch falls in exactly once; splits are unions of parts.
_PARTS: tuple[str, ...] = ("holdout", "validation", "train_minus_validation", "none")
_SPLIT_PARTS: Mapping[str, tuple[str, ...]] = {
    "train": ("validation", "train_minus_validation"),
    "holdout": ("holdout",),
    "validation": ("validation",),
    "train_minus_validation": ("train_minus_validation",),
    ALL: _PARTS,
}
# Label codes below this are counted in dense arrays; higher (corrupt) codes in a dict.
_DENSE_CODES = 256
_DFC_LOOKUP = labels.igbp_to_dfc(np.arange(_DENSE_CODES, dtype=np.uint16)).astype(np.intp)
_N_DFC = len(labels.DFC_CLASSES) + 1  # code 0 = no class


@dataclass(frozen=True)
class Histogram:
    """Fixed bins ``[low + k*width, low + (k+1)*width)``, plus one bin below and one above."""

    low: float
    high: float
    width: float

    @property
    def bins(self) -> int:
        return int(round((self.high - self.low) / self.width))

    def bin_of(self, values: np.ndarray) -> np.ndarray:
        """Bin number of each (finite) value, 0 = below ``low``, ``bins + 1`` = at or above ``high``."""
        if values.dtype.kind in "ui" and self.low == 0 and float(self.width).is_integer():
            return values.astype(np.intp) // int(self.width) + 1  # exact, and faster than floats
        k = np.floor((values.astype(np.float64) - self.low) / self.width)
        return (np.clip(k, -1, self.bins) + 1).astype(np.intp)


#: Percentile histograms: S2 in reflectance x10000 (uint16), S1 in dB.
HISTOGRAMS: Mapping[str, Histogram] = {
    "s2": Histogram(0.0, 65536.0, 8.0),
    "s1": Histogram(-80.0, 40.0, 0.01),
}


# --- Accumulators ---------------------------------------------------------------------


class _BandAccumulator:
    """Count, NaNs, mean/M2, extremes and a histogram for every band of one sensor."""

    def __init__(self, sensor: str):
        self.sensor = sensor
        self.hist_spec = HISTOGRAMS[sensor]
        n = len(facts.BANDS[sensor])
        self.count = np.zeros(n, np.int64)
        self.nan = np.zeros(n, np.int64)
        self.mean = np.zeros(n, np.float64)
        self.m2 = np.zeros(n, np.float64)
        self.min = np.full(n, np.inf)
        self.max = np.full(n, -np.inf)
        self.hist = np.zeros((n, self.hist_spec.bins + 2), np.int64)

    def add(self, array: np.ndarray) -> None:
        """Fold one patch ([bands, H, W]) in."""
        flat = array.reshape(array.shape[0], -1)
        nbins = self.hist.shape[1]
        if flat.dtype.kind == "f":
            finite = np.isfinite(flat)
            all_finite = bool(finite.all())
        else:
            finite, all_finite = None, True
        for b in range(flat.shape[0]):
            values = flat[b] if all_finite else flat[b][finite[b]]
            self.nan[b] += flat.shape[1] - values.size
            if values.size == 0:
                continue
            x = values.astype(np.float64)
            n = x.size
            mean = float(x.mean())
            m2 = float(np.square(x - mean).sum())
            self._merge_moments(b, n, mean, m2)
            self.min[b] = min(self.min[b], float(values.min()))
            self.max[b] = max(self.max[b], float(values.max()))
            self.hist[b] += np.bincount(self.hist_spec.bin_of(values), minlength=nbins)

    def _merge_moments(self, b: int, n: int, mean: float, m2: float) -> None:
        na = int(self.count[b])
        total = na + n
        delta = mean - self.mean[b]
        self.mean[b] += delta * n / total
        self.m2[b] += m2 + delta * delta * na * n / total
        self.count[b] = total

    def merge(self, other: _BandAccumulator) -> None:
        for b in range(len(self.count)):
            if other.count[b]:
                self._merge_moments(b, int(other.count[b]), float(other.mean[b]), float(other.m2[b]))
        self.nan += other.nan
        self.min = np.minimum(self.min, other.min)
        self.max = np.maximum(self.max, other.max)
        self.hist += other.hist

    def results(self) -> list[BandStats]:
        out = []
        for b, name in enumerate(facts.BANDS[self.sensor]):
            n = int(self.count[b])
            if n == 0:
                out.append(BandStats(self.sensor, name, 0, int(self.nan[b]), None, None, None, None, None, None))
                continue
            p_low, p_high = (self._percentile(b, q) for q in PERCENTILES)
            out.append(BandStats(
                self.sensor, name, n, int(self.nan[b]), float(self.mean[b]), float(np.sqrt(self.m2[b] / n)),
                float(self.min[b]), float(self.max[b]), p_low, p_high,
            ))
        return out

    def _percentile(self, b: int, q: float) -> float:
        """Approximate ``np.percentile(values, q)`` (linear method) from the histogram."""
        n = int(self.count[b])
        rank = q / 100.0 * (n - 1)
        below = int(np.floor(rank))
        above = min(below + 1, n - 1)
        lo, hi = self._value_at(b, below), self._value_at(b, above)
        return lo + (hi - lo) * (rank - below)

    def _value_at(self, b: int, i: int) -> float:
        """Approximate value of the ``i``-th smallest value (0-based), spread evenly in its bin."""
        hist = self.hist[b]
        cum = np.cumsum(hist)
        k = int(np.searchsorted(cum, i, side="right"))
        before = int(cum[k - 1]) if k else 0
        spec = self.hist_spec
        if k == 0:
            left, right = self.min[b], spec.low
        elif k == len(hist) - 1:
            left, right = spec.high, self.max[b]
        else:
            left = spec.low + (k - 1) * spec.width
            right = left + spec.width
        value = left + (right - left) * (i - before + 0.5) / int(hist[k])
        return float(min(max(value, self.min[b]), self.max[b]))


class _CodeCounter:
    """Pixels and patches per label code: dense below 256, a dict above."""

    def __init__(self, size: int = _DENSE_CODES):
        self.pixels = np.zeros(size, np.int64)
        self.patches = np.zeros(size, np.int64)
        self.extra_pixels: dict[int, int] = {}
        self.extra_patches: dict[int, int] = {}

    def add(self, counts: np.ndarray) -> None:
        """Fold in one patch's per-code pixel counts (index = code)."""
        dense = counts[: len(self.pixels)]
        self.pixels[: len(dense)] += dense
        self.patches[: len(dense)] += dense > 0
        if len(counts) > len(self.pixels):
            for code in np.flatnonzero(counts[len(self.pixels):]) + len(self.pixels):
                code = int(code)
                self.extra_pixels[code] = self.extra_pixels.get(code, 0) + int(counts[code])
                self.extra_patches[code] = self.extra_patches.get(code, 0) + 1

    def merge(self, other: _CodeCounter) -> None:
        self.pixels += other.pixels
        self.patches += other.patches
        for code, n in other.extra_pixels.items():
            self.extra_pixels[code] = self.extra_pixels.get(code, 0) + n
        for code, n in other.extra_patches.items():
            self.extra_patches[code] = self.extra_patches.get(code, 0) + n

    def items(self) -> Iterator[tuple[int, int, int]]:
        """(code, pixels, patches) of every code seen, ascending."""
        for code in np.flatnonzero(self.pixels):
            yield int(code), int(self.pixels[code]), int(self.patches[code])
        for code in sorted(self.extra_pixels):
            yield code, self.extra_pixels[code], self.extra_patches[code]


class _Cell:
    """Everything counted over the patches of one (season, part)."""

    def __init__(self):
        self.patches = 0
        self.codes = {scheme: _CodeCounter() for scheme in labels.SCHEMES}
        self.single = np.zeros(_N_DFC, np.int64)
        self.multi = np.zeros(_N_DFC, np.int64)
        self.bands = {sensor: _BandAccumulator(sensor) for sensor in BAND_SENSORS}

    def add(self, arrays: Mapping[str, np.ndarray]) -> None:
        lc = arrays["lc"]
        self.patches += 1
        for scheme, (band, _classes) in labels.SCHEMES.items():
            if scheme == "DFC":
                continue  # from the IGBP counts below, without a second pass over the pixels
            counts = np.bincount(lc[band].ravel())
            self.codes[scheme].add(counts)
            if band == labels.SCHEMES["DFC"][0]:
                dense = np.zeros(_DENSE_CODES, np.int64)
                dense[: min(len(counts), _DENSE_CODES)] = counts[:_DENSE_CODES]
                dfc = np.bincount(_DFC_LOOKUP, weights=dense, minlength=_N_DFC).astype(np.int64)
                dfc[0] += int(counts[_DENSE_CODES:].sum())  # codes above 255 have no class either
                self.codes["DFC"].add(dfc)
        single, multi = labels.scene_labels(lc[labels.SCHEMES["IGBP"][0]])
        self.single[single] += 1
        if multi:
            self.multi[list(multi)] += 1
        else:
            self.multi[0] += 1
        for sensor in BAND_SENSORS:
            self.bands[sensor].add(arrays[sensor])

    def merge(self, other: _Cell) -> None:
        self.patches += other.patches
        for scheme in self.codes:
            self.codes[scheme].merge(other.codes[scheme])
        self.single += other.single
        self.multi += other.multi
        for sensor in self.bands:
            self.bands[sensor].merge(other.bands[sensor])


def _part_of(splits: Splits, pid: PatchId) -> str:
    return splits.split_of(pid) or "none"


def _process_chunk(root: str, chunk: Sequence[tuple[PatchId, str]]) -> dict[tuple[str, str], _Cell]:
    """Read the triplets of one chunk and count them into cells keyed by (season, part)."""
    from ..reading.reader import read_triplet

    cells: dict[tuple[str, str], _Cell] = {}
    for pid, part in chunk:
        key = (pid.season, part)
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = _Cell()
        cell.add(read_triplet(root, pid))
    return cells


def _process_chunk_star(args: tuple[str, Sequence[tuple[PatchId, str]]]) -> dict[tuple[str, str], _Cell]:
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
class BandStats:
    """Statistics of one band over one group; None where the band had no valid value."""

    sensor: str
    band: str
    count: int
    nan: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    p2: float | None
    p98: float | None


@dataclass(frozen=True)
class ClassCount:
    """Pixels of one code of one scheme, and patches that hold it.

    ``status`` is ``class`` (a named class of the scheme), ``unclassified`` (LCCS
    code 255) or ``unknown`` (any other code).
    """

    scheme: str
    code: int
    name: str
    status: str
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

    def write(self, out: str | os.PathLike[str], *, charts: bool = True) -> list[Path]:
        """Write ``stats.json``, the CSV tables and (with ``charts``) the PNG charts into ``out``.

        Each file is written atomically; the list of files written is returned.
        """
        from ..fsutil import atomic_write_bytes

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
        if charts:
            from .charts import write_class_charts

            written.extend(write_class_charts(self, out))
        return written


def _asdict(obj: Any, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: v for k, v in obj.__dict__.items() if k not in drop}


def _label_rows(table: Mapping[int, int]) -> list[dict[str, Any]]:
    return [{"code": code, "name": _dfc_name(code), "patches": n} for code, n in table.items()]


def _dfc_name(code: int) -> str:
    return labels.DFC_CLASSES.get(code, "no valid label")


def _class_counts(scheme: str, counter: _CodeCounter) -> tuple[ClassCount, ...]:
    band, classes = labels.SCHEMES[scheme]
    seen = {code: (pixels, patches) for code, pixels, patches in counter.items()}
    rows = [ClassCount(scheme, code, name, "class", *seen.pop(code, (0, 0))) for code, name in classes.items()]
    is_lccs = band != labels.SCHEMES["IGBP"][0]
    if is_lccs:
        rows.append(ClassCount(scheme, labels.LCCS_UNCLASSIFIED, "Unclassified", "unclassified",
                               *seen.pop(labels.LCCS_UNCLASSIFIED, (0, 0))))
    for code, (pixels, patches) in sorted(seen.items()):
        rows.append(ClassCount(scheme, code, f"unknown code {code}", "unknown", pixels, patches))
    return tuple(rows)


def _group(split: str, season: str, cell: _Cell) -> GroupStats:
    return GroupStats(
        split=split,
        season=season,
        patches=cell.patches,
        classes={scheme: _class_counts(scheme, cell.codes[scheme]) for scheme in labels.SCHEMES},
        single_label={code: int(n) for code, n in enumerate(cell.single) if code or n},
        multi_label={code: int(n) for code, n in enumerate(cell.multi) if code or n},
        bands={sensor: tuple(cell.bands[sensor].results()) for sensor in BAND_SENSORS},
    )


# --- Entry point ----------------------------------------------------------------------


def normalise_splits(names: Iterable[str] | None) -> tuple[str, ...]:
    """Canonical split names in report order (``test`` -> ``holdout``; ``all`` kept); default all five."""
    if names is None:
        return DEFAULT_SPLITS
    chosen = {name if name == ALL else canonical_split(name) for name in names}
    if not chosen:
        raise ValueError("no split chosen")
    return tuple(name for name in DEFAULT_SPLITS if name in chosen)


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
    :class:`~sen12ms_plugins.errors.EmptySplitError`; with the default, empty splits
    are reported with zero patches.  ``jobs`` processes read in parallel.  A triplet
    that cannot be read raises :class:`~sen12ms_plugins.errors.PatchFileError`
    naming the file: nothing is skipped.
    """
    explicit = splits is not None
    chosen = normalise_splits(splits)
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    index = index if index is not None else build_index(root)
    split_table = compute_splits(index)
    if explicit:
        for name in chosen:
            if name == ALL and not index.triplets:
                raise EmptySplitError(f"{index.root}: split 'all' is empty: the root holds no complete SEN12MS triplet")
            if name != ALL:
                split_table[name]  # raises EmptySplitError with the reason
    wanted_parts = {part for name in chosen for part in _SPLIT_PARTS[name]}
    work = [(pid, part) for pid in index.triplets if (part := _part_of(split_table, pid)) in wanted_parts]
    cells = _run(str(index.root), work, jobs, quiet)

    groups: dict[tuple[str, str], GroupStats] = {}
    for name in chosen:
        total = _Cell()
        per_season = {}
        for season in facts.SEASONS:
            cell = _Cell()
            for part in _SPLIT_PARTS[name]:
                if (season, part) in cells:
                    cell.merge(cells[season, part])
            per_season[season] = cell
            total.merge(cell)
        groups[name, ALL_SEASONS] = _group(name, ALL_SEASONS, total)
        for season in facts.SEASONS:
            short = facts.SEASON_SHORT[season]
            groups[name, short] = _group(name, short, per_season[season])
    return DatasetStats(root=index.root, splits=chosen, groups=groups)


def _run(root: str, work: list[tuple[PatchId, str]], jobs: int, quiet: bool) -> dict[tuple[str, str], _Cell]:
    """Process every chunk (in ``jobs`` processes) and merge the cells in chunk order."""
    from ..progress import Progress

    chunks = _chunks(work, CHUNK_PATCHES)
    cells: dict[tuple[str, str], _Cell] = {}
    with Progress(len(work), "stats", unit="patch", quiet=quiet) as bar:
        if jobs == 1 or len(chunks) < 2:
            results: Iterable = (_process_chunk(root, chunk) for chunk in chunks)
            _fold(results, chunks, cells, bar)
        else:
            import multiprocessing

            # spawn: a forked GDAL/rasterio state is not safe to share with children.
            context = multiprocessing.get_context("spawn")
            with context.Pool(min(jobs, len(chunks))) as pool:
                results = pool.imap(_process_chunk_star, ((root, chunk) for chunk in chunks))
                _fold(results, chunks, cells, bar)
    return cells


def _fold(results: Iterable[dict], chunks: list[list], cells: dict[tuple[str, str], _Cell], bar) -> None:
    for chunk, result in zip(chunks, results):
        for key, cell in result.items():
            if key in cells:
                cells[key].merge(cell)
            else:
                cells[key] = cell
        bar.update(len(chunk))
