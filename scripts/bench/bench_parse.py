"""Time to plan the workflow (``snakemake -n`` on a config): what every cluster job and every
dry run pays before any work, on a copy of the workflow without results. With ``--against REV``, the same on a git worktree of that
revision (its own src/ first on PYTHONPATH), interleaved run by run; medians and the ratio.

Usage: python scripts/bench/bench_parse.py [--config config/test.yaml] [--repeats 7]
       [--against REV] [--output docs/benchmarks/parse.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from report import emit  # scripts/bench/report.py

REPO = Path(__file__).resolve().parents[2]
PARTS = ("Snakefile", "workflow", "scripts", "config", "envs", "profiles", "src")  # no results/: a fresh plan


def _plan_seconds(tree: Path, config: str) -> float:
    env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "all", "--configfile", config],
                            cwd=tree, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{tree}: snakemake -n failed:\n{result.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config/test.yaml")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--against", help="a git revision to compare with")
    parser.add_argument("--output")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this tree": Path(tmp) / "this"}
        trees["this tree"].mkdir()
        for part in PARTS:
            source = REPO / part
            (shutil.copytree if source.is_dir() else shutil.copy)(source, trees["this tree"] / part)
        if args.against:
            other = Path(tmp) / "against"
            subprocess.run(["git", "worktree", "add", "--detach", str(other), args.against], cwd=REPO, check=True,
                           capture_output=True)
            trees[args.against] = other
        try:
            times: dict[str, list[float]] = {name: [] for name in trees}
            for _ in range(args.repeats):
                for name, tree in trees.items():
                    times[name].append(_plan_seconds(tree, args.config))
        finally:
            if args.against:
                subprocess.run(["git", "worktree", "remove", "--force", str(trees[args.against])], cwd=REPO)
    medians = {name: statistics.median(t) for name, t in times.items()}
    lines = [f"### Planning the workflow ({datetime.now(timezone.utc):%Y-%m-%d})", "",
             f"`python scripts/bench/bench_parse.py --config {args.config} --repeats {args.repeats}"
             f"{' --against ' + args.against if args.against else ''}` on {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPUs; `snakemake -n` wall time, median of {args.repeats}, interleaved:", "",
             "| tree | median [s] | min-max [s] |", "|---|---:|---:|"]
    lines += [f"| {name} | {medians[name]:.2f} | {min(t):.2f}-{max(t):.2f} |" for name, t in times.items()]
    if args.against:
        lines += ["", f"Ratio {args.against} / this tree: {medians[args.against] / medians['this tree']:.2f}"]
    emit("\n".join(lines), args.output)


if __name__ == "__main__":
    main()
