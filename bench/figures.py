"""One bench figure: a value beside its baseline measured in the same run, and their ratio.

Ratios hold on a noisy machine where absolute figures do not (docs/DEVELOPING.md). Numbers keep
four significant digits, whatever their scale (milliseconds per frame or events per second).
"""

from __future__ import annotations


def _significant(x: float | None) -> float | None:
    return None if x is None else float(f"{x:.4g}")


def figure(name: str, value: float | None, unit: str, baseline: str, baseline_value: float | None,
           notes: str = "") -> dict:
    """The row ``bench`` writes to bench/results and the README's table; no ratio without both numbers."""
    ratio = value / baseline_value if value is not None and baseline_value else None
    return {"figure": name, "value": _significant(value), "unit": unit, "baseline": baseline,
            "baseline_value": _significant(baseline_value), "ratio": _significant(ratio), "notes": notes}
