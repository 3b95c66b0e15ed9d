"""Shared by the benchmark scripts: print a markdown block and, with ``--output``, write it
as the benchmark's results file (``docs/benchmarks/NAME.md``; replacing its former figures:
BENCHMARKS.md shows current figures, the history is in git). Then run
``scripts/bench/build_benchmarks.py`` to regenerate BENCHMARKS.md."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path


def emit(text: str, output: str | Path | None, *, append: bool = False) -> None:
    """``append``: add to the file (a section measured in several runs of one script)."""
    print(text)
    if output:
        with open(output, "a" if append else "w") as f:
            f.write(("\n" if append else "") + text.strip("\n") + "\n")
        print(f"{'appended to' if append else 'wrote'} {output}; now run scripts/bench/build_benchmarks.py")


def core_seconds_per_run(run: str | Path, pattern: str) -> dict[str, float]:
    """Summed job run time [s] per search run of a finished workflow directory: every
    Snakemake benchmark file whose name matches ``pattern`` (its group 1: the run's label)."""
    totals: dict[str, float] = defaultdict(float)
    for tsv in (Path(run) / "benchmarks").rglob("*.tsv"):
        match = re.search(pattern, tsv.name)
        if match:
            totals[match.group(1)] += float(tsv.read_text().splitlines()[1].split("\t")[0])
    return dict(totals)
