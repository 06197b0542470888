"""The core imports no machine-learning framework (nor rasterio/numpy until used)."""

import subprocess
import sys

HEAVY = ("torch", "tensorflow", "datasets", "apache_beam", "matplotlib", "tensorflow_datasets", "torchgeo")


def modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sys.modules))"],
                         check=True, capture_output=True, text=True).stdout
    return {name.split(".")[0] for name in out.split()}


def test_import_package_is_light():
    loaded = modules_after("import sen12ms_plugins")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    assert "rasterio" not in loaded and "numpy" not in loaded


def test_core_modules_and_cli_parser_import_no_framework():
    loaded = modules_after(
        "import sen12ms_plugins.dataset.index, sen12ms_plugins.dataset.splits, sen12ms_plugins.reading.reader, sen12ms_plugins.demo.sample\n"
        "from sen12ms_plugins.cli import build_parser; build_parser()"
    )
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
