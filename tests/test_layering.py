"""The import rule of docs/ARCHITECTURE.md, checked on the source.

Floors, bottom up; a package imports only from its own floor's allowance:

- ground floor ``events``: nothing of livewatch;
- stages (``ingest``, ``frames``, ``asr``, ``ocr``, ``logos``, ``rules``, ``alerts``): ``events`` only,
  never another stage;
- top floor, in order: ``dashboard`` (stages and ``events``), then ``livewatch`` (stages, ``events``
  and ``dashboard``: the CLI configures and starts it). ``dashboard`` never imports ``livewatch``;
- outside the product: ``bench``, ``tests``, ``tools``, ``scripts`` may import anything, and
  nothing in the product imports them.

Every import counts, at the top of a module or inside a function alike: an import put inside
a function to dodge a cycle is still a dependency. No module imports itself back through a
chain of others (``dashboard.app`` -> ``dashboard.pages`` -> ``dashboard.app``). There is no
exception list. A violation names the file, line and import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GROUND = "events"
STAGES = ("ingest", "frames", "asr", "ocr", "logos", "rules", "alerts")
TOP = ("dashboard", "livewatch")  # each may import the ones before it
PRODUCT = (GROUND, *STAGES, *TOP)
OUTSIDE = ("bench", "tests", "tools", "scripts")
PACKAGES = (*PRODUCT, *OUTSIDE)

ALLOWED: dict[str, set[str]] = {
    GROUND: {GROUND},
    **{stage: {GROUND, stage} for stage in STAGES},
    **{top: {GROUND, *STAGES, *TOP[: i + 1]} for i, top in enumerate(TOP)},
    **{outside: set(PACKAGES) for outside in OUTSIDE},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in source_files(package)}


MODULES = all_modules()


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in ``path``, relative ones resolved; ``from a import b`` is
    ``a.b`` when that is a module of the tree, else ``a``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield node.lineno, sub if sub in MODULES else base


def test_every_package_has_a_floor() -> None:
    """A new top-level package must be placed on a floor here (and in docs/ARCHITECTURE.md)."""
    found = {d.name for d in ROOT.iterdir()  # var/ is the data directory (gitignored), not code
             if d.is_dir() and not d.name.startswith(".") and d.name != "var" and next(d.rglob("*.py"), None) is not None}
    assert found - set(PACKAGES) == set()
    assert {*PRODUCT, "bench", "tests"} <= found


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_its_floors(package: str) -> None:
    bad = []
    for path in source_files(package):
        for line, name in imports(path):
            top = name.split(".")[0]
            if top in PACKAGES and top not in ALLOWED[package]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert bad == []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def import_graph() -> dict[str, set[str]]:
    return {name: {target for _, target in imports(path) if target in MODULES and target != name}
            for name, path in MODULES.items()}


def test_no_module_imports_itself_back() -> None:
    graph = import_graph()
    assert [" <-> ".join(c) for c in cycles(graph)] == []


def test_the_checker_sees_cycles_and_function_level_imports() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    dashboard_stages = dict(imports(ROOT / "dashboard" / "stages.py"))
    assert "rules" in dashboard_stages.values()  # imported inside a function: still counted
