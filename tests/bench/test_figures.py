from __future__ import annotations

from bench.figures import figure


def test_a_figure_keeps_four_significant_digits_at_any_scale() -> None:
    row = figure("lookup", 0.000123456, "ms", "linear scan", 123456.7, "n")
    assert (row["value"], row["baseline_value"], row["ratio"]) == (0.0001235, 123500.0, 1e-09)
    assert row["figure"] == "lookup" and row["baseline"] == "linear scan" and row["notes"] == "n"


def test_no_ratio_without_both_numbers() -> None:
    assert figure("a", 1.0, "s", "b", 0.0)["ratio"] is None
    assert figure("a", None, "s", "b", 2.0)["ratio"] is None
    assert figure("a", 1.0, "s", "b", None)["baseline_value"] is None
