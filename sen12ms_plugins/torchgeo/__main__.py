"""``python -m sen12ms_plugins.torchgeo fit|validate|test|predict …``: torchgeo's command line
(``torchgeo.main.main``) with the plugin registered first.

For configs that name torchgeo's classes only (``data.class_path: SEN12MSDataModule``, such as
torchgeo's own ``tests/conf/sen12ms_*.yaml``).  The config Lightning saves beside the logs then
names torchgeo's class too: run it again through this module, not through ``torchgeo``.  The
configs of this repository (``configs/torchgeo/``) name ``sen12ms_plugins.torchgeo.SEN12MSDataModule``
and register the plugin under plain ``torchgeo`` as well.
"""

from __future__ import annotations

from torchgeo.main import main

from . import register

if __name__ == "__main__":
    register()  # done already by importing the package (python -m imports it first); said here, where it matters
    main()
