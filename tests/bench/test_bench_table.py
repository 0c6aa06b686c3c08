"""The README's bench table says when each area was measured (a partial run renders older results too)."""

from __future__ import annotations

from bench.__main__ import table

MACHINE = {"cpus": 2, "cpu": "AMD EPYC", "memory_gib": 23.5, "python": "3.11.7"}
FIGURE = {"figure": "f", "value": 1.0, "unit": "x", "baseline": "b", "baseline_value": 2.0, "ratio": 0.5, "notes": ""}


def test_areas_measured_on_different_days_are_each_dated() -> None:
    results = [{"area": "asr", "date": "2026-11-22", "figures": [FIGURE]},
               {"area": "rules", "date": "2026-12-01", "figures": [FIGURE]}]
    text = table(results, {"date": "2026-12-02", "machine": MACHINE})
    assert text.startswith("Measured 2026-11-22 to 2026-12-01 (each area's date beside it)")
    assert "| asr (2026-11-22) | f |" in text and "| rules (2026-12-01) | f |" in text
    assert "2026-12-02" not in text, "rendering the README is not measuring"


def test_one_run_is_dated_once() -> None:
    text = table([{"area": "asr", "date": "2026-12-01", "figures": [FIGURE]}], {"date": "2026-12-02", "machine": MACHINE})
    assert text.startswith("Measured 2026-12-01 on 2 cores") and "| asr | f |" in text
