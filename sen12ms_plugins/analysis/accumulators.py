"""Mergeable accumulators for the statistics: per band, per label code, per (season, split part).

Everything here folds one patch at a time into fixed-size arrays and merges with
another accumulator of the same kind, which is what lets :mod:`.stats` read in
several processes and still give the numbers of a single pass (the percentile
method is described in :mod:`.stats`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from ..dataset import facts, labels

PERCENTILES: tuple[float, float] = (2.0, 98.0)
# Label codes below this are counted in dense arrays; higher (corrupt) codes in a dict.
_DENSE_CODES = 256
_DFC_LOOKUP = labels.igbp_to_dfc(np.arange(_DENSE_CODES, dtype=np.uint16)).astype(np.intp)
_N_DFC = len(labels.DFC_CLASSES) + 1  # code 0 = no class


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


class BandAccumulator:
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

    def merge(self, other: BandAccumulator) -> None:
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


class CodeCounter:
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

    def merge(self, other: CodeCounter) -> None:
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


class Cell:
    """Everything counted over the patches of one (season, part)."""

    def __init__(self):
        self.patches = 0
        self.codes = {scheme: CodeCounter() for scheme in labels.SCHEMES}
        self.single = np.zeros(_N_DFC, np.int64)
        self.multi = np.zeros(_N_DFC, np.int64)
        self.bands = {sensor: BandAccumulator(sensor) for sensor in facts.IMAGE_SENSORS}

    def add(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Fold one patch in; a DFC2020 patch (with its ``dfc`` file) counts its 10 m label as DFC."""
        lc = arrays["lc"]
        label = arrays.get("dfc")
        self.patches += 1
        for scheme, (band, _classes) in labels.SCHEMES.items():
            if scheme == "DFC":
                continue  # from the IGBP counts below, without a second pass over the pixels
            counts = np.bincount(lc[band].ravel())
            self.codes[scheme].add(counts)
            if band == labels.SCHEMES["DFC"][0] and label is None:
                dense = np.zeros(_DENSE_CODES, np.int64)
                dense[: min(len(counts), _DENSE_CODES)] = counts[:_DENSE_CODES]
                dfc = np.bincount(_DFC_LOOKUP, weights=dense, minlength=_N_DFC).astype(np.int64)
                dfc[0] += int(counts[_DENSE_CODES:].sum())  # codes above 255 have no class either
                self.codes["DFC"].add(dfc)
        if label is not None:
            self.codes["DFC"].add(np.bincount(label[0].ravel()))
            single, multi = labels.dfc_scene_labels(label[0])
        else:
            single, multi = labels.scene_labels(lc[labels.SCHEMES["IGBP"][0]])
        self.single[single] += 1
        if multi:
            self.multi[list(multi)] += 1
        else:
            self.multi[0] += 1
        for sensor in facts.IMAGE_SENSORS:
            self.bands[sensor].add(arrays[sensor])

    def merge(self, other: Cell) -> None:
        self.patches += other.patches
        for scheme in self.codes:
            self.codes[scheme].merge(other.codes[scheme])
        self.single += other.single
        self.multi += other.multi
        for sensor in self.bands:
            self.bands[sensor].merge(other.bands[sensor])
