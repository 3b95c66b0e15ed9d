"""The two LHC Olympics configs end to end on files written in the LHCO features format.

The LHCO files themselves are not reachable from the development machines, so this writes
files in exactly their format from a finished default run's generated events (Pythia 8 +
bumpfold's detector model, not Delphes): its QCD as background and its W' (3.5 TeV, 500,
100 GeV) as signal.

- R&D format (``events_anomalydetection_v2.features.h5``): every QCD event (label 0) and
  every signal event (label 1). ``config/lhco_rd.yaml`` runs unchanged on it: its 1000
  injected signal events are a much larger S/B than the paper's (1000 in 1.1M events of
  background) because this file holds ~37k background events, so the max SICs measure the
  plumbing, not the paper's working point.
- Black-box format (``events_LHCO2020_BlackBox1.features.h5``): the QCD events and
  ``--box-signal`` signal events, shuffled, no label column. ``config/lhco_blackbox.yaml``
  runs unchanged on it (its W' signal models are generated, as in any run).

Each config runs in its own copy of the workflow with ``snakemake --cores N``; reported: wall
time and job count, per method and injection the max SIC from the file's labels (R&D), and
per window and selection the local significance and the 95 % CL limits in signal events with
the statuses that say no truth was read (black box).

Usage: python scripts/bench/bench_lhco_configs.py --run-dir . --workdir /tmp/lhco_bench
       [--cores 2] [--box-signal 200] [--output docs/benchmarks/lhco_configs.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from bumpfold.io.lhco import lhco_frame_from_nanoaod
from report import emit  # scripts/bench/report.py

REPO = Path(__file__).resolve().parents[2]
SIGNAL_PROCESS = "wprime_3500_500_100"
WORKFLOW_PARTS = ("Snakefile", "workflow", "scripts", "config", "envs", "profiles")  # as tests/test_workflow.py


def _write_files(run_dir: Path, data: Path, box_signal: int, seed: int) -> tuple[int, int]:
    samples = run_dir / "results" / "samples"
    qcd = sorted((samples / "qcd").glob("chunk*.root"))
    signal = sorted((samples / SIGNAL_PROCESS).glob("chunk*.root"))
    if not qcd or not signal:
        sys.exit(f"{samples}: no qcd or {SIGNAL_PROCESS} chunks (run the default workflow first)")
    background = lhco_frame_from_nanoaod(qcd)
    resonant = lhco_frame_from_nanoaod(signal)
    data.mkdir(parents=True, exist_ok=True)
    pd.concat([background, resonant], ignore_index=True).to_hdf(
        data / "events_anomalydetection_v2.features.h5", key="df", format="fixed")
    box = pd.concat([background, resonant.sample(n=box_signal, random_state=seed)], ignore_index=True)
    box.drop(columns="label").sample(frac=1.0, random_state=seed).to_hdf(
        data / "events_LHCO2020_BlackBox1.features.h5", key="df", format="fixed")
    return len(background), len(resonant)


def _run(workdir: Path, config: str, cores: int) -> tuple[float, int]:
    for part in WORKFLOW_PARTS:
        src = REPO / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, workdir / part)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(cores), "--configfile",
                             f"config/{config}.yaml"], cwd=workdir, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    (workdir / "snakemake.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        sys.exit(f"{config}: snakemake failed (rc {result.returncode}); see {workdir / 'snakemake.log'}")
    jobs = len(list((workdir / "benchmarks").rglob("*.tsv")))
    return seconds, jobs


def _rd_lines(workdir: Path) -> list[str]:
    rows = json.loads((workdir / "results" / "search" / "summary.json").read_text())["rows"]
    methods = sorted({r["method"] for r in rows})
    lines = ["| injected | S/B in SR | " + " | ".join(methods) + " |", "|---:|---:|" + "---:|" * len(methods)]
    for injection in sorted({r["injection"] for r in rows}):
        mine = {r["method"]: r for r in rows if r["injection"] == injection}
        sb = next(iter(mine.values()))["s_over_b"]
        lines.append(f"| {injection} | {100 * sb:.2f}% | "
                     + " | ".join(f"{mine[m]['max_sic']:.2f}" if m in mine else "-" for m in methods) + " |")
    return lines


def _box_lines(workdir: Path) -> list[str]:
    search = json.loads((workdir / "results" / "search" / "summary.json").read_text())
    statuses = sorted({r.get("status", "evaluated") for r in search["rows"]})
    labels = pd.read_parquet(workdir / "results" / "search" / "inj0" / "datasets.parquet").is_signal.unique()
    rows = json.loads((workdir / "results" / "bumphunt" / "summary.json").read_text())["rows"]
    lines = [f"Search rows: {len(search['rows'])}, statuses {statuses}; skipped: {search.get('skipped')}; "
             f"truth values in the search's data table: {sorted(int(v) for v in labels)}.", "",
             "| window | selection | efficiency | local Z | obs. limit (events) | exp. limit (events) | status |",
             "|---|---|---:|---:|---:|---:|---|"]
    for r in sorted(rows, key=lambda r: (r["window"], r["selection"], str(r.get("efficiency")))):
        if not r.get("headline"):
            continue
        ok = r["status"] == "ok"
        lines.append(f"| {r['window']} | {r['selection']} | {r.get('efficiency') or '-'} | "
                     f"{r['local_significance']:.2f} | {r['limit_obs_events']:.1f} | {r['limit_exp_events'][2]:.1f} | ok |" if ok else
                     f"| {r['window']} | {r['selection']} | {r.get('efficiency') or '-'} | - | - | - | {r['status'][:90]} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, required=True, help="a finished default run (its results/samples)")
    parser.add_argument("--workdir", type=Path, required=True, help="an empty or absent folder")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--box-signal", type=int, default=200, help="signal events mixed into the black box")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output")
    args = parser.parse_args()
    if args.workdir.exists() and any(args.workdir.iterdir()):
        sys.exit(f"{args.workdir}: not empty")

    rd, box = args.workdir / "rd", args.workdir / "box"
    n_background, n_signal = _write_files(args.run_dir, rd / "data", args.box_signal, args.seed)
    shutil.copytree(rd / "data", box / "data")
    rd_seconds, rd_jobs = _run(rd, "lhco_rd", args.cores)
    box_seconds, box_jobs = _run(box, "lhco_blackbox", args.cores)

    text = [f"### LHC Olympics configs on LHCO-format files ({datetime.now(timezone.utc):%Y-%m-%d})", "",
            f"`python scripts/bench/bench_lhco_configs.py --run-dir . --workdir DIR --cores {args.cores} "
            f"--box-signal {args.box_signal}` on {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPUs. Files written from the default run's generated events: "
            f"{n_background} QCD (label 0) and {n_signal} W' 3.5 TeV events (label 1) in the R&D format; "
            f"the same QCD with {args.box_signal} of the W' events, unlabelled, as the black box.", "",
            f"**config/lhco_rd.yaml**: {rd_jobs} jobs, {rd_seconds / 60:.1f} min. Max SIC in the 3.3-3.7 TeV SR "
            "from the file's labels (test set held out from the file):", "", *_rd_lines(rd), "",
            f"**config/lhco_blackbox.yaml**: {box_jobs} jobs, {box_seconds / 60:.1f} min.", "", *_box_lines(box)]
    emit("\n".join(text), args.output)


if __name__ == "__main__":
    main()
