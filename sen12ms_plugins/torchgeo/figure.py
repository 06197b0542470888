"""The figure of one sample: true-colour image, mask and prediction in the classes' colours.

What it draws, for a paper as much as for a look at the data:

* the image as true colour (``rgb_bands``, B04 B03 B02) with a robust stretch, band by band
  as GIS software shows imagery by default (a 2-98 % cumulative cut): each band's 2nd and 98th
  percentiles (NaN and infinities left out) become 0 and 1, so that a few bright pixels (cloud,
  glint) do not darken the rest and the blue haze of top-of-atmosphere reflectance does not
  tint the picture; any scale works (digital numbers, or the datamodule's normalised values);
* the mask and, when the sample has one, the prediction, in the colours of their scheme
  (:data:`~sen12ms_plugins.dataset.labels.COLORS`: the MODIS IGBP legend, the simplified
  classes in their IGBP parents' colours, the LCCS layers), with fixed class limits: a class
  has the same colour in every figure, whatever the classes of the patch; no data (0) is
  black, LCCS "unclassified" (255) grey, a code the scheme does not know magenta;
* a legend of the classes shown (code and name), in a column of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..dataset import labels

#: Percentiles of the image that become black and white.
STRETCH = (2.0, 98.0)
NO_DATA_COLOR = "#000000"
UNCLASSIFIED_COLOR = "#bdbdbd"
#: A value outside the scheme: corrupt data or a model predicting outside the classes.
UNKNOWN_COLOR = "#ff00ff"


def robust_stretch(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` ([3, H, W], any real dtype) as float [H, W, 3] in [0, 1]: each band's
    :data:`STRETCH` percentiles (of its finite values) to 0 and 1, clipped; a band without
    finite values, or of one value, is 0; NaN is 0."""
    out = np.zeros((*rgb.shape[1:], 3))
    for k, band in enumerate(rgb.astype(np.float64)):
        finite = band[np.isfinite(band)]
        if finite.size == 0:
            continue
        low, high = np.percentile(finite, STRETCH)
        if high > low:
            out[..., k] = np.nan_to_num(np.clip((band - low) / (high - low), 0, 1), nan=0.0)
    return out


class ClassColors:
    """The colours of one scheme's codes, as indexes into one fixed colour map: index 0 is no
    data, then the classes in code order, then unclassified (LCCS) and unknown."""

    def __init__(self, scheme: str):
        _, classes = labels.SCHEMES[scheme]
        self.scheme = scheme
        self.names = {labels.NO_DATA: "no data", **classes}
        self.codes = [labels.NO_DATA, *sorted(classes)]
        colors = [NO_DATA_COLOR, *(labels.COLORS[scheme][code] for code in self.codes[1:])]
        if scheme.startswith("LCCS"):
            self.codes.append(labels.LCCS_UNCLASSIFIED)
            self.names[labels.LCCS_UNCLASSIFIED] = "unclassified"
            colors.append(UNCLASSIFIED_COLOR)
        self.unknown = len(colors)
        self.cmap = ListedColormap([*colors, UNKNOWN_COLOR], name=f"sen12ms-{scheme}")
        self._lookup = {code: k for k, code in enumerate(self.codes)}

    def indexes(self, mask: np.ndarray) -> np.ndarray:
        """``mask``'s codes as indexes into :attr:`cmap` (a code the scheme lacks: the unknown colour)."""
        values, inverse = np.unique(mask, return_inverse=True)
        table = np.array([self._lookup.get(int(v), self.unknown) for v in values])
        return table[inverse].reshape(mask.shape)

    def draw(self, ax: Any, mask: np.ndarray) -> None:
        # vmin/vmax span every index, so that the limits never depend on the patch
        ax.imshow(self.indexes(mask), cmap=self.cmap, vmin=-0.5, vmax=self.cmap.N - 0.5, interpolation="nearest")

    def legend(self, masks: Sequence[np.ndarray]) -> list[Patch]:
        """A legend entry per code that occurs in ``masks``, in code order."""
        present = sorted({int(v) for mask in masks for v in np.unique(mask)})
        handles = []
        for code in present:
            index = self._lookup.get(code, self.unknown)
            name = self.names.get(code, "not a class of " + self.scheme)
            handles.append(Patch(facecolor=self.cmap(index), edgecolor="#555555", linewidth=0.5,
                                 label=f"{code}  {name}"))
        return handles


def _numpy(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def plot_sample(sample: dict[str, Any], rgb: Sequence[int], scheme: str, *, rgb_names: Sequence[str],
                show_titles: bool = True, suptitle: str | None = None) -> Figure:
    """The figure of the module docstring: ``sample["image"]``'s bands ``rgb`` (indexes, in red,
    green, blue order, named ``rgb_names``), ``sample["mask"]`` and ``sample["prediction"]``
    (when present) in ``scheme``'s classes."""
    image = robust_stretch(_numpy(sample["image"])[list(rgb)])
    panels = [("Mask", _numpy(sample["mask"]))]
    if "prediction" in sample:
        panels.append(("Prediction", _numpy(sample["prediction"])))
    colors = ClassColors(scheme)
    ncols = 1 + len(panels)
    fig, axs = plt.subplots(1, ncols + 1, figsize=(4 * ncols + 3.2, 4.4), layout="constrained",
                            gridspec_kw={"width_ratios": [1] * ncols + [0.8]})
    axs[0].imshow(image, interpolation="nearest")
    for ax, (_, mask) in zip(axs[1:], panels):
        colors.draw(ax, mask)
    for ax in axs:
        ax.set_axis_off()
    if show_titles:
        axs[0].set_title(f"Image ({', '.join(rgb_names)})")
        for ax, (title, _) in zip(axs[1:], panels):
            ax.set_title(f"{title} ({scheme})")
    axs[-1].legend(handles=colors.legend([mask for _, mask in panels]), loc="center left", frameon=False,
                   fontsize="small", title=f"{scheme} classes" if show_titles else None, title_fontsize="small")
    if suptitle is not None:
        fig.suptitle(suptitle)
    return fig
