"""The import rule of docs/ARCHITECTURE.md, checked on the source.

Stages import only the ground floor (``events``); the ground floor imports no
livewatch package; only the top floor wires stages. A violation names the
file, line and import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GROUND = "events"
STAGES = ("ingest", "frames", "asr", "ocr", "logos", "rules", "alerts")
TOP = ("livewatch", "dashboard", "bench")
OURS = {GROUND, *STAGES, *TOP}


def imported_packages(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def violations(package: str, allowed: set[str]) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, name in imported_packages(path):
            if name in OURS and name not in allowed:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return bad


def test_ground_floor_imports_nothing_of_livewatch() -> None:
    assert violations(GROUND, {GROUND}) == []


@pytest.mark.parametrize("stage", STAGES)
def test_stage_imports_only_the_ground_floor(stage: str) -> None:
    assert violations(stage, {GROUND, stage}) == []
