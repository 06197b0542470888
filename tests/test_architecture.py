"""The layers of docs/architecture.md, checked against the imports the code really makes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sen12ms_plugins"
REPO = PACKAGE.parent

#: Sub-package (or top-level module) -> what it may import from the package.  The same
#: table is in docs/architecture.md; the utilities at the bottom import only ``errors``.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "fsutil": {"errors"},
    "console": set(),
    "_import_order": set(),
    "dataset": {"errors", "fsutil"},
    "reading": {"dataset", "errors", "fsutil"},
    "acquisition": {"dataset", "reading", "errors", "fsutil", "console"},
    "analysis": {"dataset", "reading", "errors", "fsutil", "console"},
    "demo": {"dataset", "reading", "acquisition", "analysis", "errors", "fsutil", "console", "_import_order",
             "torchgeo", "tfds", "hf", "__init__"},
    "torchgeo": {"dataset", "reading", "acquisition", "errors", "fsutil", "console", "_import_order"},
    "tfds": {"dataset", "reading", "acquisition", "errors", "fsutil", "console", "_import_order"},
    "hf": {"dataset", "reading", "acquisition", "errors", "fsutil", "console", "__init__"},
    "cli": set(),  # may import anything: checked by the rule that nothing imports it
}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _layer(path: Path) -> str:
    rel = path.resolve().relative_to(PACKAGE.resolve())
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_layers(path: Path) -> set[tuple[str, int]]:
    """(layer, line) of every package module ``path`` imports, at any depth, TYPE_CHECKING included."""
    rel = path.resolve().relative_to(PACKAGE.resolve())
    package = ["sen12ms_plugins", *rel.parts[:-1]]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = [*base, *(node.module.split(".") if node.module else [])]
                names = [a.name for a in node.names] if not node.module else []
            else:
                target = node.module.split(".")
                names = []
            if target[0] != "sen12ms_plugins":
                continue
            if len(target) == 1:  # "from sen12ms_plugins import x" / "from .. import x"
                found.update((n if n != "__version__" else "__init__", node.lineno) for n in names or ["__init__"])
            else:
                found.add((target[1], node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "sen12ms_plugins":
                    found.add((parts[1] if len(parts) > 1 else "__init__", node.lineno))
    return found


def test_every_module_belongs_to_a_known_layer():
    layers = {_layer(p) for p in _modules()}
    assert layers - {"__init__"} <= set(ALLOWED), layers - set(ALLOWED)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path):
    layer = _layer(path)
    if layer in ("cli", "__init__"):
        return
    allowed = ALLOWED[layer] | {layer}
    wrong = sorted((imported, line) for imported, line in _imported_layers(path) if imported not in allowed)
    assert not wrong, f"{path.relative_to(REPO)} imports {wrong} (allowed: {sorted(allowed)})"


def test_only_the_cli_imports_the_cli():
    offenders = [str(p.relative_to(REPO)) for p in _modules()
                 if _layer(p) != "cli" and any(layer == "cli" for layer, _ in _imported_layers(p))]
    assert offenders == []


def test_at_most_eight_modules_at_the_top():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, top


def _module_name(path: Path) -> str:
    rel = path.resolve().relative_to(REPO.resolve()).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def test_no_import_cycles():
    """No two modules need each other (directly or through others), at import or inside functions."""
    modules = {_module_name(p): p for p in _modules()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                candidates = [target, *(f"{target}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            else:
                continue
            targets.update(c for c in candidates if c in modules and c != name and not name.startswith(c + "."))
        graph[name] = targets
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_exceptions_are_defined_in_errors_only():
    """One hierarchy.  The exceptions are the torchgeo adapter's two, which subclass what torchgeo
    raises and so need torchgeo: UnknownSplitError (an AssertionError, as torchgeo's own) and
    SEN12MSNotFoundError (torchgeo's DatasetNotFoundError, and the core's RootError)."""
    found = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                getattr(b, "id", getattr(b, "attr", "")).endswith(("Error", "Exception", "Cancelled", "Aborted"))
                for b in node.bases
            ):
                found.append(f"{path.relative_to(PACKAGE)}:{node.name}")
    assert [f for f in found if not f.startswith("errors.py:")] == [
        "torchgeo/dataset.py:UnknownSplitError", "torchgeo/dataset.py:SEN12MSNotFoundError"]
