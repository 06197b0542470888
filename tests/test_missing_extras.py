"""A missing optional dependency is one line naming the extra to install: every CLI verb, every adapter.

Each case runs in a fresh interpreter in which one module cannot be imported
(``sys.modules[name] = None`` is how Python itself blocks an import: ``import name``
then raises ModuleNotFoundError, as it does when the package is not installed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_blocked(module: str, code: str, *, cwd: Path) -> subprocess.CompletedProcess:
    program = f"import sys\nsys.modules[{module!r}] = None\n{code}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


def cli(*args: object) -> str:
    return f"from sen12ms_plugins.cli import main\nsys.exit(main({[str(a) for a in args]!r}))"


CLI_CASES = [
    ("demo", "tensorflow_datasets", "tfds"),
    ("demo", "torchgeo", "torchgeo"),
    ("demo", "datasets", "hf"),
    ("demo", "matplotlib", "plot"),
    ("map", "matplotlib", "plot"),
    ("stats", "matplotlib", "plot"),
    ("export-hf", "datasets", "hf"),
    ("export-hf", "pyarrow", "hf"),
    ("prepare-hf", "datasets", "hf"),
]


@pytest.mark.parametrize(("verb", "module", "extra"), CLI_CASES, ids=[f"{v}-{m}" for v, m, _ in CLI_CASES])
def test_cli_verb_names_the_extra(verb, module, extra, sample_root, tmp_path):
    args = {
        "demo": ["demo", "--workdir", tmp_path / "work"],
        "map": ["map", "--root", sample_root, "--out", tmp_path / "map.png"],
        "stats": ["stats", "--root", sample_root, "--out", tmp_path / "stats"],
        "export-hf": ["export-hf", "--root", sample_root, "--out", tmp_path / "hf"],
        "prepare-hf": ["prepare-hf", "--root", sample_root],
    }[verb]
    done = run_blocked(module, cli(*args), cwd=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"sen12ms {verb}: error: ")
    assert f"needs {module}, which is not installed: pip install 'sen12ms-plugins[{extra}]'" in lines[0]
    assert not (tmp_path / "work").exists() and not (tmp_path / "stats").exists()  # nothing started


def test_stats_without_matplotlib_writes_the_tables_with_no_charts(sample_root, tmp_path):
    done = run_blocked("matplotlib", cli("stats", "--root", sample_root, "--out", tmp_path / "s", "--no-charts",
                                         "--split", "holdout", "--quiet"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        "band_stats.csv", "class_counts.csv", "patches.csv", "scene_labels.csv", "stats.json"]


ADAPTER_CASES = [
    ("import sen12ms_plugins.torchgeo", "torchgeo", "torchgeo", "sen12ms_plugins.torchgeo"),
    ("import sen12ms_plugins.torchgeo", "lightning", "torchgeo", "sen12ms_plugins.torchgeo"),
    ("import sen12ms_plugins.tfds", "tensorflow_datasets", "tfds", "sen12ms_plugins.tfds"),
    ("from sen12ms_plugins.hf import Sen12ms", "datasets", "hf", "sen12ms_plugins.hf.Sen12ms"),
    ("from sen12ms_plugins.hf import export_hf", "pyarrow", "hf", "sen12ms_plugins.hf.export_hf"),
]


@pytest.mark.parametrize(("statement", "module", "extra", "what"), ADAPTER_CASES,
                         ids=[f"{w}-{m}" for _, m, _, w in ADAPTER_CASES])
def test_adapter_import_names_the_extra(statement, module, extra, what, tmp_path):
    code = (f"try:\n    {statement}\nexcept ImportError as exc:\n"
            "    from sen12ms_plugins.errors import MissingExtraError\n"
            "    print(type(exc).__name__, isinstance(exc, MissingExtraError), exc)\n")
    done = run_blocked(module, code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"MissingExtraError True {what} needs {module}, which is not installed: "
                                   f"pip install 'sen12ms-plugins[{extra}]'")
