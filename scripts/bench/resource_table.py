"""Per-rule runtime and peak memory of finished workflow runs, from Snakemake's benchmark
files (benchmarks/<rule>/*.tsv), beside the resources each rule declares.

The declared mem_mb and runtime (workflow/rules/*.smk) are what a cluster scheduler is asked
for; this table is where they come from. For each rule it takes the first run directory that
has the rule's benchmark files (list the benchmark-scale run first).

Usage: python scripts/bench/resource_table.py RUN_DIR [RUN_DIR ...] [--output docs/benchmarks/resource_table.md]
"""

from __future__ import annotations

import argparse
import csv
import platform
import re
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

from report import emit  # scripts/bench/report.py

RULES_DIR = Path(__file__).resolve().parents[2] / "workflow" / "rules"


def _rows(path: Path) -> dict[str, float]:
    with open(path) as f:
        row = next(csv.DictReader(f, delimiter="\t"))
    return {"s": float(row["s"]), "max_rss": float(row["max_rss"]) if row["max_rss"] != "-" else 0.0}


def declared_resources() -> dict[str, dict[str, str]]:
    """rule -> {mem_mb, runtime} as written in the rule files (expressions kept as text)."""
    out: dict[str, dict[str, str]] = {}
    for smk in sorted(RULES_DIR.glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            name = block.split(":", 1)[0].strip()
            found = {key: m.group(1).strip().rstrip(",")
                     for key in ("mem_mb", "runtime") if (m := re.search(rf"^\s+{key}=(.+)$", block, re.M))}
            if found:
                out[name] = found
    return out


def measured(run_dirs: list[Path]) -> dict[str, tuple[Path, list[dict[str, float]]]]:
    out: dict[str, tuple[Path, list[dict[str, float]]]] = {}
    for run in run_dirs:
        for rule_dir in sorted((run / "benchmarks").glob("*")):
            files = sorted(rule_dir.glob("*.tsv"))
            if files and rule_dir.name not in out:
                out[rule_dir.name] = (run, [_rows(f) for f in files])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dirs", nargs="+", type=Path)
    p.add_argument("--output", type=Path)
    args = p.parse_args()
    declared = declared_resources()
    lines = [f"### Resources per rule, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", "",
             f"`{' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}` on {platform.node() or 'this machine'} "
             f"({platform.machine()}); runtimes are wall seconds of one job on one core.", "",
             "| rule | run | jobs | runtime median / max [s] | peak RSS max [MB] | declared mem_mb | declared runtime [min] |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for rule, (run, rows) in sorted(measured(args.run_dirs).items()):
        seconds = [r["s"] for r in rows]
        d = declared.get(rule, {})
        lines.append(f"| {rule} | {run} | {len(rows)} | {statistics.median(seconds):.1f} / {max(seconds):.1f} | "
                     f"{max(r['max_rss'] for r in rows):.0f} | {d.get('mem_mb', '-')} | {d.get('runtime', '-')} |")
    emit("\n".join(lines), args.output)


if __name__ == "__main__":
    main()
