"""Report a finished run with CASE's limits by injection (``bumphunt.injection_limits``): the
expected excluded sigma x B per scenario and selection, the most sensitive selection per
scenario, and the cost of each (scenario, injection) run from the jobs' Snakemake benchmarks.

    snakemake --cores 2 results/limits/summary.json --configfile config/case_limits.yaml
    .venv/bin/python scripts/bench/bench_injection_limits.py --run-dir RUN
        [--output docs/benchmarks/injection_limits.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import core_seconds_per_run, emit  # noqa: E402

from bumpfold.bumphunt.injection_limits import BELOW_SMALLEST  # noqa: E402


def _cell(lim: dict) -> tuple[float | None, str]:
    e = lim["expected"]
    if e[2]["sigma_fb"] is None:
        return None, f"> {lim['scan'][-1]['sigma_fb']:.3g}"
    low, high = (c["sigma_fb"] for c in (e[1], e[3]))
    star = "*" if e[2]["note"] == BELOW_SMALLEST else ""
    upper = f"> {lim['scan'][-1]['sigma_fb']:.3g}" if high is None else f"{high:.3g}"
    return e[2]["sigma_fb"], f"{e[2]['sigma_fb']:.3g}{star} [{low:.3g}, {upper}]"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--config", default="config/case_limits.yaml", help="the run's config, relative to --run-dir")
    p.add_argument("--output", type=Path)
    args = p.parse_args()
    run = args.run_dir
    summary = json.loads((run / "results/limits/summary.json").read_text())
    config = yaml.safe_load((run / args.config).read_text())
    commit = summary.get("provenance", {}).get("git_commit", "unknown")[:7]  # the run's, not this checkout's
    limits = summary["limits"]
    columns = sorted({(lim["selection"], lim["efficiency"]) for lim in limits},
                     key=lambda c: (c[0] == "inclusive", c[0], -float(c[1])))
    by_model: dict[str, dict] = defaultdict(dict)
    for lim in limits:
        by_model[lim["signal_model"]][(lim["selection"], lim["efficiency"])] = lim
    lumi = limits[0]["luminosity_fb"]
    injections = config["bumphunt"]["injection_limits"]["injections"]
    lines = [f"### Limits by injection (CASE's procedure), {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
             f"- command: `snakemake --cores 2 results/limits/summary.json --configfile {args.config}` at {commit}, "
             f"then `python scripts/bench/bench_injection_limits.py --run-dir RUN` ({platform.machine()}, "
             f"Python {platform.python_version()}, 2 cores); data {lumi:.3g} fb^-1 of generated QCD; each model "
             f"injected at {', '.join(map(str, injections))} skimmed events, one training per point",
             "- expected excluded sigma x B [fb], median [-1 sigma, +1 sigma]; **bold**: the row's lowest; "
             "\"> X\": not excluded up to the largest injection X; *: crossing below the smallest injection", "",
             "| scenario | topology | " + " | ".join(f"{s} {e}" for s, e in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for model, row in sorted(by_model.items(), key=lambda kv: (next(iter(kv[1].values())).get("m_resonance", 0),
                                                               kv[0])):
        cells = {c: _cell(row[c]) if c in row else (None, "failed") for c in columns}
        best = min((v for v, _ in cells.values() if v is not None), default=None)
        text = [f"**{t}**" if v is not None and v == best else t for v, t in cells.values()]
        lines.append(f"| {model} | {next(iter(row.values())).get('topology', '')} | " + " | ".join(text) + " |")
    if summary["failed"]:
        by_efficiency: dict[str, list[dict]] = defaultdict(list)
        for f in summary["failed"]:
            by_efficiency[f["efficiency"]].append(f)
        lines += ["", "Not scanned: " + "; ".join(
            f"efficiency {eff}, {len(fs)} (model, selection) pairs, e.g. \"{fs[0]['status'].rsplit(': ', 1)[-1]}\""
            for eff, fs in sorted(by_efficiency.items())) + "."]
    # the scan runs' job benchmarks: inj<n>-<model>_<window>_... and inj<n>-<model>.tsv
    costs = core_seconds_per_run(run, r"inj(\d+-[A-Za-z][A-Za-z0-9_]*?)(?:_sr\d+_\d+.*)?\.tsv$")
    if costs:
        values = sorted(costs.values())
        lines += ["", f"Cost per (scenario, injection) run, all jobs of its window "
                  f"({len(config['bumphunt']['methods'])} selections x {config['search'].get('n_folds', 5)} folds): "
                  "median "
                  f"**{statistics.median(values):.0f} core-s** (range {values[0]:.0f}-{values[-1]:.0f}) over "
                  f"{len(values)} runs, {sum(values) / 3600:.2f} core-hours in all."]
    emit("\n".join(lines) + "\n", args.output)


if __name__ == "__main__":
    main()
