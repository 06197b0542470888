"""The README's snippets, pasted as they stand: only the paths change (``/data/sen12ms`` becomes
a sample root, ``/data/tfds`` a temporary folder).  Each runs in a fresh interpreter or shell
with the test session's isolated caches (tests/conftest.py); network access is not needed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
BIN = Path(sys.executable).parent


def blocks(section: str, lang: str) -> list[str]:
    """The ``lang`` code blocks under the README heading ``## <section>``, in order."""
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no section {section!r}"
    return re.findall(rf"^```{lang}\n(.*?)^```", match.group(1), re.S | re.M)


def with_paths(code: str, root: Path, tmp: Path) -> str:
    return code.replace("/data/sen12ms", str(root)).replace("/data/tfds", str(tmp / "tfds"))


def env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")


def python(code: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env(), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def shell(code: str, cwd: Path) -> str:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=cwd, env=env(), capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_try_it_in_a_minute(tmp_path):
    (commands,) = blocks("Try it in a minute", "sh")
    (code,) = blocks("Try it in a minute", "python")
    out = shell(commands, tmp_path)
    assert "holdout" in out and (tmp_path / "sen12ms-sample" / "ROIs1158_spring").is_dir()
    printed = python(code, tmp_path).strip()
    expected = re.search(r"# (\d+ torch\.Size\(\[.*?\]\))", code).group(1)  # what the snippet says it prints
    assert printed == expected


def torchgeo_before_tasks() -> bool:
    """Whether the installed torchgeo predates ``torchgeo.tasks`` (0.8 and 0.9: Python 3.11)."""
    import torchgeo

    return tuple(int(part) for part in torchgeo.__version__.split(".")[:2]) < (0, 10)


def as_for_torchgeo_08(code: str) -> str:
    """The training snippet as the README's paragraph below it says to write it on torchgeo 0.8/0.9."""
    old_import = "from torchgeo.tasks import SemanticSegmentation"
    assert old_import in code and "test_AverageJaccardIndex" in code
    return (code.replace(old_import, "from torchgeo.trainers import SemanticSegmentationTask as SemanticSegmentation")
                .replace("test_AverageJaccardIndex", "test_MulticlassJaccardIndex"))


@pytest.fixture(scope="module")
def users_sample(tmp_path_factory) -> Path:
    """The sample a user makes with the README's ``sen12ms sample --out sen12ms-sample``: the
    torchgeo snippets promise what they do on it (26 training triplets), so they run on it."""
    from sen12ms_plugins.demo.sample import make_sample

    root = tmp_path_factory.mktemp("users-sample") / "sen12ms-sample"
    make_sample(root)
    return root


def test_torchgeo_snippets(users_sample, tmp_path):
    dataset, training = blocks("torchgeo", "python")
    python(with_paths(dataset, users_sample, tmp_path), tmp_path)
    if torchgeo_before_tasks():
        assert "from torchgeo.trainers import SemanticSegmentationTask" in README
        assert "`scores['test_MulticlassJaccardIndex']`" in README
        training = as_for_torchgeo_08(training)
    printed = python(with_paths(training, users_sample, tmp_path), tmp_path).strip().splitlines()
    steps = re.fullmatch(r"(\d+) steps; holdout loss [\d.]+, mIoU [\d.]+", printed[-1])
    # it trained as the README says: 26 training triplets of the sample, 3 batches of 8 (drop_last)
    assert "26 training" in README and steps and int(steps.group(1)) == 3, printed


def test_torchgeo_command_line(users_sample, tmp_path):
    """The torchgeo command of the README, on a config of the repository (its path made absolute)."""
    (command,) = blocks("torchgeo", "sh")
    assert command.startswith("torchgeo fit --config configs/torchgeo/")
    shell(with_paths(command, users_sample, tmp_path).replace("configs/", f"{REPO}/configs/"), tmp_path)
    header, *rows = (tmp_path / "lightning_logs" / "version_0" / "metrics.csv").read_text().splitlines()
    accuracy = "train_MulticlassAccuracy" if torchgeo_before_tasks() else "train_OverallAccuracy"
    columns = header.split(",")
    assert {accuracy, "val_loss"} <= set(columns)
    logged = [dict(zip(columns, row.split(","))) for row in rows]
    # a loss for every step of 3 batches of 8 (26 training triplets), accuracy logged, validated once
    assert [row["step"] for row in logged if row["train_loss"]] == ["0", "1", "2"]
    assert any(row[accuracy] for row in logged) and sum(1 for row in logged if row["val_loss"]) == 1


def test_tfds_snippet(sample_root, tmp_path):
    (code,) = blocks("TensorFlow Datasets", "python")
    python(with_paths(code, sample_root, tmp_path) + "\nprint(len(list(ds)))", tmp_path)
    assert (tmp_path / "tfds" / "sen12ms").is_dir()


def test_hugging_face_snippets(sample_root, tmp_path):
    (prepare,) = blocks("Hugging Face `datasets`", "sh")
    (load,) = blocks("Hugging Face `datasets`", "python")
    shell(with_paths(prepare, sample_root, tmp_path), tmp_path)
    printed = python(load + "\nprint(len(ds), sorted(ds.features)[:3])", tmp_path)
    assert printed.split()[0].isdigit() and int(printed.split()[0]) > 0


def test_analysis_snippet(sample_root, tmp_path):
    (commands,) = blocks("Analysis: class distributions, band statistics, map of the scenes", "sh")
    shell(with_paths(commands, sample_root, tmp_path), tmp_path)
    assert (tmp_path / "sen12ms-stats" / "stats.json").is_file() and (tmp_path / "sen12ms-map.png").is_file()


def test_get_the_data_snippet_verifies_a_root(sample_root, tmp_path):
    """The download lines need the official servers; the verify line runs on a root as it stands."""
    (commands,) = blocks("Get the data", "sh")
    verify = [line for line in commands.splitlines() if line.startswith("sen12ms verify")]
    assert verify and all(line.startswith("sen12ms download") for line in commands.splitlines()
                          if line.strip() and line not in verify)
    shell(with_paths("\n".join(verify), sample_root, tmp_path), tmp_path)


@pytest.mark.parametrize("extra", ["torchgeo", "tfds", "tfds-data-source", "hf", "plot", "beam", "all"])
def test_the_extras_table_names_the_real_extras(extra):
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(rf"^{re.escape(extra)} = \[", pyproject, re.M), f"pyproject.toml has no extra {extra}"
    assert f"| `{extra}` |" in README
