"""The plugin's ``plot()``: true colour with a robust stretch, mask and prediction in their
scheme's class colours with fixed limits, a legend of class names; for every ``label`` layer.

Colours are checked pixel by pixel against the palette of ``sen12ms_plugins.dataset.labels``
(the one the statistics charts use), looked up here code by code; the crafted root's masks
(tests/crafted.py, worked out by hand) hold every case: valid classes, IGBP's invalid 18,
LCCS's 255 (unclassified).  torchgeo's own plot tests are in tests/test_torchgeo.py.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
import torchgeo.datamodules
from matplotlib.colors import to_rgba
from torchgeo.datasets import RGBBandsMissingError

import sen12ms_plugins.torchgeo as plugin  # registers the plugin
from sen12ms_plugins.dataset import labels

from . import crafted

matplotlib.use("agg")
import matplotlib.pyplot as plt

SEN12MS = plugin.SEN12MS
#: The colours a mask value other than a class is drawn in (black, grey, magenta), by hand.
NO_DATA, UNCLASSIFIED, UNKNOWN = "#000000", "#bdbdbd", "#ff00ff"
LAYER_OF = {"IGBP": "igbp", "DFC": "dfc", "LCCS_LC": "lccs_lc", "LCCS_LU": "lccs_lu", "LCCS_SH": "lccs_sh"}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def colour_of(scheme: str, code: int) -> tuple[float, ...]:
    if code == 0:
        return to_rgba(NO_DATA)
    if scheme.startswith("LCCS") and code == 255:
        return to_rgba(UNCLASSIFIED)
    return to_rgba(labels.COLORS[scheme].get(code, UNKNOWN))


def drawn(ax) -> np.ndarray:
    """The RGBA pixels an axes' image shows (its colour map and limits applied)."""
    (image,) = ax.get_images()
    return image.to_rgba(image.get_array())


def legend_texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


@pytest.mark.parametrize("label", sorted(LAYER_OF))
def test_the_mask_in_its_schemes_colours_with_a_legend_of_names(crafted_root, label):
    ds = SEN12MS(crafted_root, "holdout", checksum=False, label=label)
    _, classes = labels.SCHEMES[label]
    seen: dict[int, tuple[float, ...]] = {}
    for i, pid in enumerate(ds.patch_ids):
        mask = crafted.PATCHES[tuple(pid)][LAYER_OF[label]]
        fig = ds.plot(ds[i], suptitle=pid.name)
        image_ax, mask_ax, _ = fig.axes  # and the legend's
        assert [image_ax.get_title(), mask_ax.get_title()] == ["Image (B04, B03, B02)", f"Mask ({label})"]
        pixels = drawn(mask_ax)
        for code in np.unique(mask):
            colour = pixels[mask == code][0]
            np.testing.assert_allclose(pixels[mask == code], np.broadcast_to(colour, pixels[mask == code].shape))
            np.testing.assert_allclose(colour, colour_of(label, int(code)), atol=1e-6, err_msg=f"{label} {code}")
            # fixed class limits: a class has one colour in every figure
            assert tuple(seen.setdefault(int(code), tuple(colour))) == tuple(colour)
        names = {0: "no data", 255: "unclassified"} if label.startswith("LCCS") else {0: "no data"}
        expected = [f"{c}  {classes.get(c) or names.get(c) or 'not a class of ' + label}" for c in np.unique(mask)]
        assert legend_texts(fig) == expected
        assert fig.get_suptitle() == pid.name


def test_prediction_panel_and_unknown_codes(crafted_root):
    ds = SEN12MS(crafted_root, "holdout", checksum=False)
    sample = ds[0]
    prediction = torch.full_like(sample["mask"], 12)
    prediction[:4] = 40  # no IGBP class
    sample["prediction"] = prediction
    fig = ds.plot(sample, show_titles=False)
    _, _, prediction_ax, _ = fig.axes
    assert prediction_ax.get_title() == ""
    pixels = drawn(prediction_ax)
    np.testing.assert_allclose(pixels[4:], np.broadcast_to(to_rgba(labels.IGBP_COLORS[12]), pixels[4:].shape))
    np.testing.assert_allclose(pixels[:4], np.broadcast_to(to_rgba(UNKNOWN), pixels[:4].shape))
    assert "12  Croplands" in legend_texts(fig) and "40  not a class of IGBP" in legend_texts(fig)


def test_robust_stretch_band_by_band(crafted_root):
    ds = SEN12MS(crafted_root, "holdout", checksum=False, bands=("B04", "B03", "B02"))
    ramp = torch.arange(32 * 32, dtype=torch.float32).reshape(32, 32)
    image = torch.stack([ramp, ramp * 10 + 500, ramp])
    image[2, 0, 0] = 1e9  # one glint pixel must not darken the band
    image[2, 0, 1] = float("nan")
    fig = ds.plot({"image": image, "mask": ds[0]["mask"]})
    shown = fig.axes[0].get_images()[0].get_array()
    for k in range(3):
        band = image[k].double().numpy()
        low, high = np.nanpercentile(band, [2, 98])
        expected = np.clip((band - low) / (high - low), 0, 1)
        expected[np.isnan(expected)] = 0
        np.testing.assert_allclose(np.asarray(shown[..., k]), expected, atol=1e-9)
    assert shown[..., 0].min() == 0 and shown[..., 0].max() == 1


def test_the_datamodule_plots_its_mapped_masks_in_the_simplified_classes(sample_root):
    dm = torchgeo.datamodules.SEN12MSDataModule(batch_size=2, root=sample_root, checksum=False)
    dm.setup("fit")
    batch = dm.on_after_batch_transfer(next(iter(dm.val_dataloader())), 0)  # what happens after transfer
    mapped = batch["mask"]
    assert int(mapped.max()) <= len(labels.DFC_CLASSES)  # in the simplified classes
    sample = {"image": batch["image"][0], "mask": mapped[0], "prediction": mapped[0]}
    fig = dm.plot(sample)
    assert [ax.get_title() for ax in fig.axes[1:3]] == ["Mask (DFC)", "Prediction (DFC)"]
    mask = sample["mask"].numpy()
    pixels = drawn(fig.axes[1])
    for code in np.unique(mask):
        np.testing.assert_allclose(pixels[mask == code][0], colour_of("DFC", int(code)), atol=1e-6)


def test_plot_refuses_what_it_cannot_draw(crafted_root):
    ds = SEN12MS(crafted_root, "holdout", checksum=False, bands=("VV", "VH"))
    with pytest.raises(RGBBandsMissingError):
        ds.plot(ds[0])
    ds = SEN12MS(crafted_root, "holdout", checksum=False)
    with pytest.raises(ValueError, match="unknown scheme 'CORINE'; expected one of IGBP, DFC, LCCS_LC"):
        ds.plot(ds[0], scheme="CORINE")
