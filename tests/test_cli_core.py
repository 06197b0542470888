"""The core sub-commands, run as a user runs them: sample -> index -> splits."""

import json
import os
import subprocess
import sys

import pytest

from sen12ms_plugins.cli import main
from sen12ms_plugins.dataset.ids import read_patch_list
from sen12ms_plugins.dataset.index import build_index
from sen12ms_plugins.dataset.splits import compute_splits


def run_cli(*args, env=None):
    """Run ``sen12ms`` in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "sen12ms_plugins.cli", *map(str, args)],
                          capture_output=True, text=True, env={**os.environ, **(env or {})})


def test_sample_index_splits(tmp_path):
    root = tmp_path / "root"
    res = run_cli("sample", "--out", root, "--patch-size", 16, "--patches-per-scene", 2)
    assert res.returncode == 0, res.stderr
    assert "wrote 40 triplets (16x16 px)" in res.stdout

    res = run_cli("index", "--root", root)
    assert res.returncode == 0, res.stderr
    assert "total" in res.stdout and "40" in res.stdout

    res = run_cli("splits", "--root", root, "--json", "--write-lists", tmp_path / "lists")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    splits = compute_splits(build_index(root))
    assert {k: v["total"] for k, v in report["counts"].items()} == {k: len(v) for k, v in splits.members.items()}
    for name in ("train", "holdout", "validation", "train_minus_validation", "test"):
        listed = read_patch_list(tmp_path / "lists" / f"{name}_list.txt")
        assert listed == sorted(splits[name], key=lambda p: p.filename("s2"))
    assert (tmp_path / "lists" / "test_list.txt").read_bytes() == (tmp_path / "lists" / "holdout_list.txt").read_bytes()


def test_root_from_environment_variable(sample_root):
    res = run_cli("splits", env={"SEN12MS_ROOT": str(sample_root)})
    assert res.returncode == 0, res.stderr
    assert "holdout" in res.stdout


def test_exit_codes(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SEN12MS_ROOT", raising=False)
    with pytest.raises(SystemExit) as exc:
        main(["index"])  # no root at all: usage error
    assert exc.value.code == 2
    assert "SEN12MS_ROOT" in capsys.readouterr().err
    assert main(["index", "--root", str(tmp_path / "missing")]) == 1
    assert "missing: SEN12MS root does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["splits", "--bogus"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["sample", "--out", str(tmp_path / "s"), "--patches-per-scene", "0"])
    assert exc.value.code == 2


def test_problems_give_exit_code_1(tmp_path, capsys):
    (tmp_path / "ROIs1970_fall" / "s1_1").mkdir(parents=True)
    (tmp_path / "ROIs1970_fall" / "s1_1" / "ROIs1970_fall_s1_1_p514.tif").touch()
    assert main(["index", "--root", str(tmp_path)]) == 1
    assert "ROIs1970_fall_1_p514 (missing s2, lc)" in capsys.readouterr().out
    assert main(["splits", "--root", str(tmp_path)]) == 1
    assert "split 'holdout' is empty" in capsys.readouterr().err


#: What each sub-command's --help must teach: ``sample`` shows runnable examples, ``index``
#: and ``splits`` explain their exit codes (each 0 / 1 / 2), and every one names its options.
HELP_CONTENT = {
    "sample": ["usage: sen12ms sample", "examples:", "sen12ms sample --out /tmp/sen12ms-sample",
               "--archives-only", "--patch-size"],
    "index": ["usage: sen12ms index", "exit codes: 0 every patch is a complete triplet",
              "1 incomplete", "2 usage error", "--root DIR", "$SEN12MS_ROOT"],
    "splits": ["usage: sen12ms splits", "exit codes: 0 every split has patches", "1 a split is empty",
               "2 usage error", "holdout", "train_minus_validation", "--write-lists DIR", "test_list.txt"],
}


def test_help_teaches():
    res = run_cli("--help")
    assert res.returncode == 0, res.stderr
    # argparse wraps help text at the terminal width: compare with whitespace collapsed.
    flat = " ".join(res.stdout.split())
    for text in ("usage: sen12ms", "exit codes: 0 success, 1 problems found", "2 usage error", "SEN12MS_ROOT",
                 "sen12ms COMMAND --help"):
        assert text in flat, text
    for command, texts in HELP_CONTENT.items():
        res = run_cli(command, "--help")
        assert res.returncode == 0, (command, res.stderr)
        flat = " ".join(res.stdout.split())
        for text in texts:
            assert text in flat, (command, text)
