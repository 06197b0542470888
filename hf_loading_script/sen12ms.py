"""SEN12MS — Hugging Face ``datasets`` loading script (``datasets<4``; 3.6 is the last version that runs scripts).

Co-registered 256x256 px triplets at 10 m of Sentinel-1 SAR (VV, VH; float32 dB),
Sentinel-2 (13 bands; uint16 TOA reflectance x10000) and MODIS land cover (IGBP, LCCS),
four seasons (Schmitt et al. 2019; CC-BY-4.0); the figures are in ``sen12ms_plugins.dataset.facts``.

Usage, with ``sen12ms-plugins[hf]`` installed::

    from datasets import load_dataset
    holdout = load_dataset("hf_loading_script/sen12ms.py", data_dir="/data/sen12ms",
                           split="holdout", trust_remote_code=True)

Configurations: ``all`` (default), ``s2``, ``s1s2``.  Splits: ``train``, ``holdout``,
``validation``, ``train_minus_validation``.  The root is ``root=`` if given, else
``$SEN12MS_ROOT``, else ``data_dir``; ``download=True`` fetches what is missing.

This file only names the builder: locating, downloading, verifying, splitting and
reading are done by the ``sen12ms_plugins`` package, whose ``sen12ms_plugins.hf.Sen12ms``
is the same builder for ``datasets>=4`` (which refuses scripts)::

    from sen12ms_plugins.hf import Sen12ms
    builder = Sen12ms(config_name="all", root="/data/sen12ms")
    builder.download_and_prepare()
    holdout = builder.as_dataset(split="holdout")

or, after ``sen12ms prepare-hf --root /data/sen12ms``, ``load_dataset("sen12ms", "all", split="holdout")``.
"""

from sen12ms_plugins.hf.builder import Sen12ms as _Sen12msBuilder


class Sen12ms(_Sen12msBuilder):
    """SEN12MS patch triplets with the named splits; see ``sen12ms_plugins.hf.builder``."""
