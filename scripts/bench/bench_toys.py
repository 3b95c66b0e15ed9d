"""Report a finished toys run (``toys.n_toys``): the local-Z calibration, the trials factor,
the linearity and the cost per toy, from results/toys/summary.json and the jobs' Snakemake
benchmark files.

    snakemake --cores all results/toys/summary.json --configfile config/toys.yaml
    .venv/bin/python scripts/bench/bench_toys.py --run-dir RUN [--output docs/benchmarks/toys.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import core_seconds_per_run, emit  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--config", default="config/toys.yaml", help="the run's config, relative to --run-dir")
    p.add_argument("--output", type=Path)
    args = p.parse_args()
    run = args.run_dir
    summary = json.loads((run / "results/toys/summary.json").read_text())
    config = yaml.safe_load((run / args.config).read_text())
    commit = subprocess.run(["git", "-C", str(run), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    costs = core_seconds_per_run(run, r"inj(\d+_toy\d+)")
    bare = [v for k, v in costs.items() if k.startswith("0_")]
    n_pool = json.loads((run / f"results/skim/{config['search'].get('background', 'qcd')}.cutflow.json").read_text())
    t = summary["trials"]
    lines = [f"### Whole-chain pseudo-experiments, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
             f"- command: `snakemake --cores 2 results/toys/summary.json --configfile {args.config}` at {commit}, "
             f"then `python scripts/bench/bench_toys.py --run-dir RUN` ({platform.machine()}, "
             f"Python {platform.python_version()}, 2 cores)",
             f"- {summary['n_toys']} background-only toys, each 1/{summary['n_toys']} of "
             f"{n_pool['cutflow'].get('delta_eta', n_pool['cutflow'].get('leading_pt'))} skimmed QCD events; every step "
             "rerun per toy; cost per background-only toy: median "
             f"{statistics.median(bare):.0f} core-s of job time (Snakemake's benchmark files, {len(bare)} toys)",
             "",
             "| window | selection | efficiency | toys with Z | mean Z | std Z | Z > 2 | failed | within 0.3 / 0.3 |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    all_failed = [r for r in summary["local_z"] if r["n"] == 0]
    for r in summary["local_z"]:
        if r["n"] == 0:
            continue
        mean = "n/a" if r["mean_error"] is None else f"{r['mean']:+.2f} +- {r['mean_error']:.2f}"
        std = "n/a" if r["std"] is None else f"{r['std']:.2f} +- {r['std_error']:.2f}"
        above = "n/a" if r.get("fraction_above_2") is None else f"{100 * r['fraction_above_2']:.0f} %"
        within = {None: "n/a", True: "yes", False: "no"}[r["within_target"]]
        lines.append(f"| {r['window']} | {r['selection']} | {r['efficiency']} | {r['n']} | {mean} | {std} | {above} "
                     f"| {r['n_failed']} | {within} |")
    if all_failed:
        lines += ["", "Failed in every toy: " + "; ".join(
            f"{r['selection']} {r['efficiency']} (`{r['failure_example'][:110]}...`)" for r in all_failed)]
    failures = sorted({r["failure_example"] for r in summary["local_z"] if r["failure_example"] and r["n"] > 0})
    if failures:
        lines += ["", "Other failed rows (one example each): " + "; ".join(f"`{f[:140]}`" for f in failures)]
    if t is not None:
        n_with_z = sum(1 for r in summary["local_z"] if r["n"] > 0)
        lines += ["", f"Trials factor over the {n_with_z} tests of a toy that gave a significance: N_eff = "
                  f"{t['n_eff']:.1f} +- "
                  f"{t['n_eff_uncertainty']:.1f}; a local 3 sigma is then "
                  f"{_global(3.0, t['n_eff']):.2f} sigma global, a local 4 sigma {_global(4.0, t['n_eff']):.2f}."]
    if summary["linearity"]:
        lines += ["", "| window | selection | efficiency | injections (toys each) | mu_hat vs injected: slope | "
                  "intercept | mu_hat vs injected selected in the window: slope | intercept |",
                  "|---|---|---|---|---:|---:|---:|---:|"]
        per_injection = config["toys"].get("injected_toys", 3)
        for r in summary["linearity"]:
            a, b = r["mu_vs_injected"], r["mu_vs_selected_in_window"]
            lines.append(f"| {r['window']} | {r['selection']} | {r['efficiency']} | "
                         f"{', '.join(map(str, r['injections']))} ({per_injection}) | {_line(a, 'slope', 3)} | "
                         f"{_line(a, 'intercept', 1)} | {_line(b, 'slope', 3)} | {_line(b, 'intercept', 1)} |")
    emit("\n".join(lines) + "\n", args.output)


def _line(fit: dict | None, key: str, digits: int) -> str:
    return "n/a" if fit is None else f"{fit[key]:.{digits}f} +- {fit[key + '_error']:.{digits}f}"


def _global(z: float, n_eff: float) -> float:
    from bumpfold.bumphunt.toys import Trials

    return Trials(n_eff=n_eff, n_eff_uncertainty=None, method="toys").global_z(z)


if __name__ == "__main__":
    main()
