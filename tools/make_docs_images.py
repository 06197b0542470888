"""Regenerate the pictures of the documentation from the built-in sample.

    python tools/make_docs_images.py [--out docs/img]

Runs the same commands a user runs, on the default built-in sample (60 triplets of
256x256 px, seed 0) in a temporary folder:

    sen12ms sample --out SAMPLE
    sen12ms stats --root SAMPLE --out STATS
    sen12ms map --root SAMPLE --out MAP.png

and copies ``STATS/classes_IGBP.png`` and ``MAP.png`` into ``--out`` as
``sample_classes_IGBP.png`` and ``sample_map.png``; with torchgeo installed it also draws
``torchgeo_plot.png``: the torchgeo dataset's ``plot()`` of the hold-out's fourth sample with
its mask as the prediction, shifted by 40 rows.  Each is reduced to 256 colours (without
dithering) so that they stay small in the repository.  Needs matplotlib and Pillow (the
``plot`` extra).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "img"


def _small_png(src: Path, dst: Path) -> None:
    from PIL import Image

    image = Image.open(src).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(dst, optimize=True)
    print(f"wrote {dst} ({dst.stat().st_size:,} bytes, {image.width}x{image.height} px)")


def main() -> None:
    from sen12ms_plugins.cli import main as sen12ms

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder for the PNGs (default: {DEFAULT_OUT})")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sen12ms-docs-") as tmp:
        sample, stats, map_png = Path(tmp, "sample"), Path(tmp, "stats"), Path(tmp, "map.png")
        for argv in (["sample", "--out", str(sample), "-q"],
                     ["stats", "--root", str(sample), "--out", str(stats), "-q"],
                     ["map", "--root", str(sample), "--out", str(map_png), "-q"]):
            if sen12ms(argv) != 0:
                raise SystemExit(f"sen12ms {' '.join(argv)} failed")
        _small_png(stats / "classes_IGBP.png", args.out / "sample_classes_IGBP.png")
        _small_png(map_png, args.out / "sample_map.png")
        plot_png = Path(tmp, "plot.png")
        if _torchgeo_plot(sample, plot_png):
            _small_png(plot_png, args.out / "torchgeo_plot.png")


def _torchgeo_plot(sample: Path, out: Path) -> bool:
    """The torchgeo dataset's figure of one sample (False without the torchgeo extra)."""
    try:
        import sen12ms_plugins.torchgeo as plugin
    except ImportError:
        return False
    import matplotlib

    matplotlib.use("agg")
    import torch

    ds = plugin.SEN12MS(sample, split="holdout", checksum=False)
    item = ds[3]
    item["prediction"] = torch.roll(item["mask"], 40, 0)  # stands for a model's output
    ds.plot(item, suptitle=ds.patch_ids[3].name).savefig(out, dpi=90)
    return True


if __name__ == "__main__":
    main()
