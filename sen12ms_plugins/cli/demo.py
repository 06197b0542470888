"""``sen12ms demo``: the whole pipeline on the built-in sample, end to end."""

from __future__ import annotations

from pathlib import Path

from ..dataset import facts
from ..demo import DEMO_PATCHES_PER_SCENE
from ..errors import MissingExtraError, UsageError
from ._common import finish, subparser
from .sample import add_layout_arguments

DESCRIPTION = """\
Run the whole pipeline on the built-in sample and check it, as a new user would
with the real dataset: build the sample as the 12 archives, serve them over HTTP
on 127.0.0.1, download them with the real downloader (md5-checked) into a fresh
root, extract, add DFC2020-like zips with 'add-dfc2020' (the --dfc2020-* options
choose their variants), verify, index and split; load every split (the SEN12MS
ones and dfc2020_validation, dfc2020_test) through torchgeo,
TensorFlow Datasets and Hugging Face datasets; write class statistics and the
world map.  Prints per split and ecosystem the patch count, the first ids and a
checksum of the pixels, and ends with OK (exit 0) only if every ecosystem gave
exactly the core's patches, else FAILED (exit 1).  The server is stopped at the end
and the temporary work folder removed, unless --keep (or --workdir DIR, which is
always kept): it then holds the root, the prepared TFDS and Hugging Face data, the
statistics and the map.  Your datasets/TFDS caches are not used.
--layout and --lc-dtype choose the sample's file layout and land-cover data type
as for 'sen12ms sample' (e.g. --layout real --lc-dtype uint8: the real files'
strips, origins and overlaps, with 8-bit land cover).

examples:
  sen12ms demo
  sen12ms demo --keep
  sen12ms demo --workdir /tmp/sen12ms-demo --patch-size 64 --report /tmp/demo.json
  sen12ms demo --layout real --lc-dtype uint8 --patch-size 64
"""


def register(sub) -> None:

    p = subparser(sub, "demo", "run the end-to-end demo on the built-in sample", DESCRIPTION)
    p.add_argument("--workdir", type=Path, help="work folder (default: a temporary folder, removed afterwards)")
    p.add_argument("--keep", action="store_true", help="keep the temporary work folder (root, TFDS/HF data, statistics, map) and print where it is")
    p.add_argument("--patch-size", type=int, default=facts.PATCH_SIZE,
                   help=f"sample patch size in pixels (default: {facts.PATCH_SIZE}, as the real data)")
    p.add_argument("--patches-per-scene", type=int, default=DEMO_PATCHES_PER_SCENE,
                   help="sample triplets per scene (default: %(default)s)")
    add_layout_arguments(p)
    p.add_argument("--report", type=Path, metavar="FILE", help="also write the outcome as JSON to FILE")
    finish(p, run)


#: What the demo runs: every adapter, and matplotlib for the charts and the map.
NEEDS = ("torch", "torchgeo", "lightning", "tensorflow", "tensorflow_datasets", "datasets", "pyarrow", "matplotlib")


def run(args) -> int:
    MissingExtraError.require(NEEDS, "the demo (it runs every ecosystem; the [all] extra has them all)")
    from ..demo.run import run_demo  # deferred: numpy, rasterio, and the adapters it runs

    try:
        ok = run_demo(args.workdir, patch_size=args.patch_size, patches_per_scene=args.patches_per_scene,
                      layout=args.layout, lc_dtype=args.lc_dtype, dfc2020_s1_dtype=args.dfc2020_s1_dtype,
                      dfc2020_dtype=args.dfc2020_dtype, dfc2020_structure=args.dfc2020_structure, keep=args.keep,
                      quiet=args.quiet, report=args.report)
    except ValueError as exc:  # impossible option values (an odd patch size for the real layout)
        raise UsageError(str(exc)) from None
    return 0 if ok else 1
