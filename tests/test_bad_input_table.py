"""docs/bad-input.md names the tests behind its rows: each named test exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "docs" / "bad-input.md"


def _functions(path: Path) -> set[str]:
    return {node.name for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.FunctionDef)}


def test_every_test_the_table_names_exists():
    named: list[tuple[str, str]] = []
    for line in TABLE.read_text().splitlines():
        if not line.startswith("| ") or line.startswith("| bad input"):
            continue
        cell = line.rstrip(" |").rsplit("|", 1)[-1]
        current = "tests/test_bad_input.py"
        for ref in re.findall(r"`([^`]+)`", cell):
            file, _, name = ref.partition("::")
            if file.startswith("tests/"):
                current = file
            if name or ref.startswith("test_"):
                named.append((current, (name or ref).split("[", 1)[0]))  # test_x[param]: the function test_x
    assert len(named) > 30
    missing = [f"{file}::{name}" for file, name in named if name not in _functions(REPO / file)]
    assert missing == []
