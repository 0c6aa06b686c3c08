"""``python -m bench [AREA...]``: run the benchmarks, write results and the README table.

Each ``bench/bench_<area>.py`` exposes ``run() -> list[dict]``; every figure
carries a baseline measured in the same run, so ratios hold on a noisy
machine. Each area runs in its own process (memory figures stay clean, a
crash or a time-out loses only that area) under a time limit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from livewatch.evaluate import SPLIT_ORDER

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
README = ROOT / "README.md"
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"
EVAL_START, EVAL_END = "<!-- eval-table:start -->", "<!-- eval-table:end -->"

_CHILD = """
import json, sys
from bench import {module} as m
json.dump(m.run(), sys.stdout)
"""


def areas() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))


def time_limit(area: str, default: float) -> float:
    """A bench module may need longer than the default: ``TIME_LIMIT_S = 600`` at its top level."""
    found = re.search(r"^TIME_LIMIT_S\s*=\s*([0-9.]+)", (BENCH_DIR / f"bench_{area}.py").read_text(encoding="utf-8"), re.M)
    return max(default, float(found.group(1))) if found else default


def machine() -> dict[str, object]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.processor(),
    )
    mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")))
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem_kb / 2**20, 1), "python": platform.python_version()}


def run_area(area: str, timeout: float) -> dict[str, object]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD.format(module=f"bench_{area}")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    result: dict[str, object] = {"area": area, "seconds": round(time.monotonic() - started, 1)}
    if proc.returncode != 0:
        result["error"] = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        result["figures"] = []
    else:
        result["figures"] = json.loads(proc.stdout)
    return result


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return "" if value is None else str(value)


def table(results: list[dict[str, object]], meta: dict[str, object]) -> str:
    """The README's bench table: every area's figures beside their baseline, each area dated by its own
    run (a partial run, ``python -m bench rules``, renders the other areas' older results too)."""
    m = meta["machine"]
    soak = "; soak rows: `make soak`" if any(res["area"] == "soak" for res in results) else ""  # not in make bench
    dates = sorted({str(res.get("date") or meta["date"]) for res in results}) or [str(meta["date"])]
    span = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]} (each area's date beside it)"
    lines = [
        f"Measured {span} on {m['cpus']} cores ({m['cpu']}), {m['memory_gib']} GiB, "
        f"Python {m['python']}, with `make bench` or `python -m bench AREA`{soak}.",
        "",
        "| area | figure | value | unit | baseline (same run) | baseline value | ratio | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        if res.get("error"):
            lines.append(f"| {res['area']} | (failed) | | | | | | {res['error']} |")
        for f in res["figures"]:  # type: ignore[union-attr]
            area = res["area"] if len(dates) == 1 else f"{res['area']} ({res.get('date') or meta['date']})"
            cells = [area, f.get("figure"), f.get("value"), f.get("unit"), f.get("baseline"),
                     f.get("baseline_value"), f.get("ratio"), f.get("notes")]
            lines.append("| " + " | ".join(_fmt(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def update_readme(text: str, start: str = START, end: str = END) -> None:
    readme = README.read_text(encoding="utf-8")
    head, _, rest = readme.partition(start)
    _, _, tail = rest.partition(end)
    README.write_text(f"{head}{start}\n{text}\n{end}{tail}", encoding="utf-8")


def eval_table(result: dict) -> str:
    """The README's accuracy table from ``livewatch eval --evidence ... --out`` (bench/results/eval.json):
    per split, the rule set beside the baseline rule set, replayed over the same stored evidence."""
    def pct(v: object) -> str:
        return "-" if v is None else f"{100 * float(v):.0f}%"  # type: ignore[arg-type]

    def cell(split: dict, category: str) -> str:
        row = split["summary"].get(f"category:{category}")
        if not row:
            return "-"
        return f"{pct(row['precision'])} / {pct(row['recall'])}"

    minutes = result.get("media_minutes", {})
    lines = [
        f"Measured {result.get('date', '?')} with `{result.get('command', 'make eval')}`: {result['clips']} clips, "
        + ", ".join(f"{k} {v:g} min" for k, v in minutes.items()) + " of media; rules = this rule set, "
        "baseline = `bench/baseline_rules` (the rules before product segments), same evidence.",
        "",
        "| split | rule set | counterfeit P / R | false claim P / R | piracy P / R | brand right | false enforce alerts per benign hour | shadow |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for split in (*SPLIT_ORDER, "all"):
        for name in ("rules", "baseline"):
            data = result["results"].get(name, {}).get("splits", {}).get(split)
            if not data:
                continue
            fa = data["false_alerts_per_benign_hour"]
            lines.append(
                f"| {split} | {name} | {cell(data, 'counterfeit')} | {cell(data, 'false_claim')} | {cell(data, 'piracy')} | "
                f"{pct(data['brand_accuracy']['accuracy'])} | {fa['enforce']} | {fa['shadow']} |"
            )
    return "\n".join(lines)


def render_readme(meta: dict[str, object]) -> None:
    """Both README tables from whatever results are on disk."""
    everything = [r for p in sorted(RESULTS.glob("*.json")) if "figures" in (r := json.loads(p.read_text()))]
    update_readme(table(everything, meta))
    eval_json = RESULTS / "eval.json"
    if eval_json.exists():
        update_readme(eval_table(json.loads(eval_json.read_text())), EVAL_START, EVAL_END)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("areas", nargs="*", help=f"default: all of {', '.join(areas())}")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per area")
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--readme-only", action="store_true", help="only re-render the README tables from bench/results")
    args = parser.parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine(),
        "command": "make bench" if not args.areas else f"python -m bench {' '.join(args.areas)}",
    }
    if args.readme_only:
        render_readme(meta)
        return 0
    results = []
    for area in args.areas or areas():
        print(f"bench: {area} ...", file=sys.stderr, flush=True)
        limit = time_limit(area, args.timeout)
        try:
            res = run_area(area, limit)
        except subprocess.TimeoutExpired:
            res = {"area": area, "error": f"over the {limit:.0f} s limit", "figures": []}
        (RESULTS / f"{area}.json").write_text(json.dumps({**meta, **res}, indent=2, ensure_ascii=False) + "\n")
        results.append(res)
        print(f"bench: {area}: {len(res['figures'])} figure(s) {res.get('error', '')}", file=sys.stderr, flush=True)
    if not args.no_readme:
        render_readme(meta)
    return 0 if all(not r.get("error") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
