"""PNG charts of the class distributions computed by :mod:`sen12ms_plugins.analysis.stats`.

One chart per label scheme, ``classes_<SCHEME>.png``: a grid of panels, one row per
split and one column per season (all seasons first), each panel a horizontal bar per
code with the pixel count on a log scale.  Bars take the official legend colour where
one is known (IGBP, simplified DFC); LCCS classes, which have no official palette, are
drawn in one neutral colour; ``unclassified`` (LCCS 255) and ``unknown`` codes are grey
and hatched, so they can never pass for a class.  Importing this module imports
matplotlib (the ``[plot]`` extra; :mod:`.stats` does not need it), and figures are drawn
on its Agg canvas without pyplot: no display is needed and the caller's backend is left
alone.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from ..dataset import labels
from ..dataset.labels import ClassStatus
from ..dataset.splits import DFC2020_SPLITS
from ..fsutil import atomic_write_bytes

if TYPE_CHECKING:
    from .stats import DatasetStats

#: Official legend colours per scheme, where the scheme has one.
SCHEME_COLORS = {"IGBP": labels.IGBP_COLORS, "DFC": labels.DFC_COLORS}
NEUTRAL_COLOR = "#6f8fb0"
UNKNOWN_COLOR = "#cccccc"
SPLIT_TITLES = {
    "train": "train",
    "holdout": "hold-out",
    "validation": "validation",
    "train_minus_validation": "train minus validation",
    "all": "all triplets",
}
_BAR_INCHES = 0.15
_PANEL_INCHES = 2.1
_LABEL_INCHES = 2.9


def _bar_style(scheme: str, code: int, status: str) -> tuple[str, str | None]:
    """Fill colour and hatch of one code's bars."""
    if status != ClassStatus.CLASS:
        return UNKNOWN_COLOR, "////" if status == ClassStatus.UNKNOWN else "...."
    return SCHEME_COLORS.get(scheme, {}).get(code, NEUTRAL_COLOR), None


def plot_class_chart(stats: DatasetStats, scheme: str, dpi: int = 80) -> bytes:
    """The chart of one scheme as PNG bytes."""
    groups = list(stats.groups.values())
    seasons = list(dict.fromkeys(g.season for g in groups))
    splits = list(stats.splits)
    # The same codes, in the same order, in every panel: the scheme's classes, then the
    # unclassified and unknown codes seen in any group.
    codes: dict[int, tuple[str, str]] = {}
    for g in groups:
        for c in g.classes[scheme]:
            if c.status == ClassStatus.CLASS or c.pixels:
                codes.setdefault(c.code, (c.name, c.status))
    order = list(codes)
    styles = [_bar_style(scheme, code, codes[code][1]) for code in order]
    top = max([c.pixels for g in groups for c in g.classes[scheme]] + [10])

    panel_height = len(order) * _BAR_INCHES + 0.45
    width = _LABEL_INCHES + _PANEL_INCHES * len(seasons)
    height = panel_height * len(splits) + 0.9
    # A bare Figure on the Agg canvas: pyplot's global state (and the user's backend) stay untouched.
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(splits), len(seasons), squeeze=False, sharex=True, sharey=True)
    # Fixed margins (in inches) instead of tight_layout, which is slow on large grids.
    fig.subplots_adjust(left=_LABEL_INCHES / width, right=1 - 0.15 / width, top=1 - 0.55 / height,
                        bottom=0.5 / height, wspace=0.08, hspace=0.3 / _BAR_INCHES / len(order) * 1.5)
    ys = list(range(len(order)))
    for r, split in enumerate(splits):
        for c, season in enumerate(seasons):
            ax = axes[r][c]
            group = stats.groups[split, season]
            if split in DFC2020_SPLITS and season != "all":
                ax.set_visible(False)  # DFC2020 patches have no season: only their "all seasons" panel
                continue
            pixels = {cc.code: cc.pixels for cc in group.classes[scheme]}
            counts = [pixels.get(code, 0) for code in order]
            ax.barh(ys, counts, height=0.8, linewidth=0.4, edgecolor="#444444",
                    color=[s[0] for s in styles], hatch=[s[1] for s in styles])
            zeros = [y for y, n in zip(ys, counts) if n == 0]
            if zeros:
                ax.scatter([0.7] * len(zeros), zeros, marker="x", s=6, linewidths=0.5, color="#999999")
            ax.set_xscale("log")
            ax.xaxis.set_minor_locator(NullLocator())  # minor log ticks cost most of the drawing time
            ax.set_xlim(0.5, top * 3)
            ax.set_ylim(len(order) - 0.5, -0.5)
            ax.tick_params(labelsize=6, length=2, pad=1)
            ax.grid(axis="x", linewidth=0.3, color="#dddddd")
            ax.set_axisbelow(True)
            season_title = "all seasons" if season == "all" else season
            ax.set_title(f"{season_title}: {group.patches:,} patches", fontsize=7, pad=2)
            if r == len(splits) - 1:
                ax.set_xlabel("pixels", fontsize=7, labelpad=1)
            if c == 0:
                ax.set_ylabel(SPLIT_TITLES.get(split, split), fontsize=8, fontweight="bold")
    axes[0][0].set_yticks(ys, [f"{codes[k][0]} ({k})" for k in order], fontsize=6)
    fig.suptitle(f"SEN12MS {scheme}: pixels per class (log scale; x = none), per split (rows) and season (columns)",
                 fontsize=9, y=1 - 0.2 / height)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def write_class_charts(stats: DatasetStats, out: str | Path, dpi: int = 80) -> list[Path]:
    """Write ``classes_<SCHEME>.png`` for every scheme into ``out`` (atomically); return the paths."""
    paths = []
    for scheme in labels.SCHEMES:
        path = Path(out) / f"classes_{scheme}.png"
        atomic_write_bytes(path, plot_class_chart(stats, scheme, dpi=dpi))
        paths.append(path)
    return paths
