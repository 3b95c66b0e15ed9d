"""The anomaly search at LHC Olympics scale: quality beside the CATHODE paper, cost per window,
and the sideband flow's training throughput.

Reads a finished workflow run of config/benchmark.yaml (``--run-dir``, the folder that holds
its results/ and benchmarks/) and measures the flow throughput anew on that run's data.

A. Quality: per injection, the S/B and S/sqrt(B) really in the SR data, the closure AUC,
   and max SIC / SIC at eps_S = 0.2 / AUC of every method, beside the published values on
   the LHCO R&D data (CATHODE, Hallin et al. PRD 106 055006, S/B = 0.6%). The max SIC
   counts only working points with >= 25 test background events, so it cannot exceed
   sqrt(n_test_background / 25): that cap is printed too.
B. Cost: Snakemake's per-job benchmark files. One window = flow training (with its closure
   test) + SR sampling + the CATHODE fold jobs + their combination, summed (one core), and
   on 2 cores (folds in parallel: flow + sampling + ceil(k/2) x the mean fold + combine).
C. Flow throughput: the window's flow trained for a few epochs on the SB data of one
   injection, torch on 1 and on 2 threads, interleaved; median training events/s.

Usage: python scripts/bench/bench_search_scale.py --run-dir DIR [--output docs/benchmarks/search_scale.md]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import yaml

from bumpfold import settings as typed
from bumpfold.config import validate_config
from bumpfold.regions import windows_from_config
from bumpfold.search import pipeline
from report import emit  # scripts/bench/report.py

PUBLISHED = {"supervised": 17.7, "iad": 15.1, "cathode": 14.0, "cwola": 10.8, "anode": 6.5}
METHODS = ["supervised", "iad", "cathode", "cwola", "anode"]


def _seconds(path: Path) -> float:
    with open(path) as f:
        return float(next(csv.DictReader(f, delimiter="\t"))["s"])


def _quality(rows: list[dict], window: str) -> list[str]:
    lines = ["#### A. Quality (test set in the SR; published: LHCO R&D, S/B = 0.6%, S/sqrt(B) ~ 2.2)", "",
             "| injected | S/B in SR | S/sqrt(B) | closure AUC SB / SR | max-SIC cap | "
             + " | ".join(f"{m} max SIC / SIC(0.2) / AUC" for m in METHODS) + " | CATHODE / IAD |",
             "|---:|---:|---:|---:|---:|" + "---|" * len(METHODS) + "---:|"]
    by_injection: dict[int, dict[str, dict]] = {}
    for r in rows:
        if r["window"] == window:
            by_injection.setdefault(r["injection"], {})[r["method"]] = r
    for injection, methods in sorted(by_injection.items()):
        any_row = next(iter(methods.values()))
        cap = math.sqrt(any_row["n_background"] / 25)
        cells = [f"{methods[m]['max_sic']:.2f} / {methods[m]['sic_at_0p2']:.2f} / {methods[m]['auc']:.3f}"
                 if m in methods else "-" for m in METHODS]
        ratio = (f"{methods['cathode']['max_sic'] / methods['iad']['max_sic']:.2f}"
                 if {"cathode", "iad"} <= set(methods) else "-")
        lines.append(f"| {injection} | {100 * any_row['s_over_b']:.2f}% | {any_row['s_over_sqrt_b']:.2f} | "
                     f"{any_row['closure_auc']:.3f} / {any_row.get('interpolation_auc') or float('nan'):.3f} | "
                     f"{cap:.1f} | " + " | ".join(cells) + f" | {ratio} |")
    lines.append("| published (S/B 0.6%) | 0.6% | 2.2 | | | "
                 + " | ".join(f"{PUBLISHED[m]}" for m in METHODS) + f" | {PUBLISHED['cathode'] / PUBLISHED['iad']:.2f} |")
    return lines


def _cost(run: Path, window: str, injections: list[int], n_folds: int) -> list[str]:
    b = run / "benchmarks"
    lines = ["", "#### B. Cost of one window (Snakemake benchmark files; seconds of wall time per job, 1 core each)",
             "", "| injected | train_flow (+closure) | sample_sr | CATHODE folds (sum; mean) | combine | "
             "window, serial | window on 2 cores | all methods, all jobs of the window |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for inj in injections:
        tag = f"inj{inj}_{window}"
        flow, samples = _seconds(b / "train_flow" / f"{tag}.tsv"), _seconds(b / "sample_sr" / f"{tag}.tsv")
        folds = [_seconds(b / "score_fold" / f"{tag}_cathode_{k}.tsv") for k in range(n_folds)]
        combine = _seconds(b / "combine_folds" / f"{tag}_cathode.tsv")
        serial = flow + samples + sum(folds) + combine
        two_cores = flow + samples + math.ceil(n_folds / 2) * statistics.mean(folds) + combine
        everything = sum(_seconds(p) for p in b.rglob(f"*{tag}*.tsv"))
        lines.append(f"| {inj} | {flow:.0f} | {samples:.0f} | {sum(folds):.0f}; {statistics.mean(folds):.0f} | "
                     f"{combine:.0f} | {serial / 60:.1f} min | {two_cores / 60:.1f} min | {everything / 60:.1f} min |")
    return lines


def _throughput(run: Path, config: dict, window_name: str, injection: int, epochs: int, repeats: int) -> list[str]:
    search = config["search"]
    window = {w.name: w for w in windows_from_config(config["regions"])}[window_name]
    wd = pipeline.window_data(run / f"results/search/inj{injection}/datasets.parquet", window, typed.search(search))
    sb = wd.sb("data")
    x, m = wd.x(sb), sb.mjj.to_numpy()
    settings = typed.search(search).flow_with_seed(1)
    settings = type(settings)(**{**settings.__dict__, "epochs": epochs, "patience": epochs + 1, "device": "cpu"})
    rates: dict[int, list[float]] = {1: [], 2: []}
    from bumpfold.ml.flow import ConditionalFlow

    for rep in range(repeats):
        for threads in ((1, 2) if rep % 2 == 0 else (2, 1)):
            torch.set_num_threads(threads)
            flow = ConditionalFlow(settings).fit(x, m)
            n_train = len(x) - max(1, int(settings.val_fraction * len(x)))
            rates[threads] += [n_train / s for s in flow.history.epoch_seconds]
    f = search["flow"]
    return ["", f"#### C. Sideband flow training throughput ({f['kind'].upper()}, {f['transforms']} transforms, "
            f"hidden {f['hidden']}, batch {f['batch_size']}; {len(x)} SB events of injection {injection}, "
            f"{epochs} epochs x {repeats} repeats per setting, interleaved)", "",
            "| torch threads | median training events/s (epoch incl. validation) | min | max |", "|---:|---:|---:|---:|",
            *[f"| {t} | {statistics.median(r):.0f} | {min(r):.0f} | {max(r):.0f} |" for t, r in rates.items()],
            "", f"- ratio 2 threads / 1 thread: {statistics.median(rates[2]) / statistics.median(rates[1]):.2f}",
            f"- GPU: {'CUDA available' if torch.cuda.is_available() else 'none on this machine'}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, required=True, help="workflow run of config/benchmark.yaml")
    parser.add_argument("--config", type=Path, default=Path("config/benchmark.yaml"))
    parser.add_argument("--window", default="sr3300_3700")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    config = validate_config(yaml.safe_load(args.config.read_text()))
    rows = json.loads((args.run_dir / "results/search/summary.json").read_text())["rows"]
    injections = sorted({r["injection"] for r in rows if r["window"] == args.window})
    lines = [f"### Search at LHC Olympics scale ({args.config}), {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
             f"- command: `{Path(sys.executable).name} {' '.join(sys.argv)}`",
             f"- machine: {platform.machine()}, {torch.get_num_threads()} torch threads available, "
             f"Python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}", ""]
    lines += _quality(rows, args.window)
    lines += _cost(args.run_dir, args.window, injections, config["search"]["n_folds"])
    lines += _throughput(args.run_dir, config, args.window, max(injections), args.epochs, args.repeats)
    emit("\n".join(lines) + "\n", args.output)


if __name__ == "__main__":
    main()
