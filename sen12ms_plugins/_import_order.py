"""Work around a crash between TensorFlow and Triton in one process.

PyPI's torch wheels for Linux ship Triton.  When ``tensorflow`` is imported before
Triton is loaded (``torchvision`` and ``torchgeo.datasets`` load it), the process
dies with a segmentation fault in Triton's LLVM static initialisers
(TensorFlow 2.21, torch 2.14.1, triton 3.8).  Loading Triton first is safe, so every
adapter that imports TensorFlow calls :func:`load_triton_first` before it.
"""

from __future__ import annotations

import importlib.util
import sys


def load_triton_first() -> None:
    """Import Triton if it is installed and TensorFlow is not loaded yet (cheap: ~0.1 s)."""
    if "tensorflow" in sys.modules or "triton" in sys.modules:
        return
    if importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401
