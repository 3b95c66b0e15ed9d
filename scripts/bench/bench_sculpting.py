"""Sculpting correction of the bump hunt: calibration on pseudo-experiments, and the result
of a workflow run.

1. Pseudo-experiments: background pseudo-data and an independent background simulation of
   the same size, both drawn from a falling dijet spectrum, selected with an efficiency
   that is 10 % outside the window and 10 % x STEP inside it (STEP = 1: no sculpting).
   The window's local significance without and with the correction (bumpfold's hunt(),
   dijet fit with F-test, pyhf), and with a signal added to the data.
2. A run directory (e.g. the benchmark run): per injection and selection, the local
   significance in each window with the measured ratio of selected simulated background
   to its sideband fit.

Usage: python scripts/bench/bench_sculpting.py [--toys 100] [--run-dir /work/bench] [--output docs/benchmarks/sculpting.md]
"""

from __future__ import annotations

import argparse
import json
import platform
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from bumpfold.bumphunt.pipeline import SignalSample, hunt
from bumpfold.bumphunt.settings import FitSettings
from bumpfold.bumphunt.spectrum import Binning, bin_integrals
from bumpfold.regions import Window

SQRT_S = 13000.0
BINNING = Binning(2800.0, 5500.0, 100.0)
WINDOW = Window(3300.0, 3700.0, 2800.0, 5500.0)
FIT = FitSettings(min_params=2, max_params=5, ftest_threshold=0.05)


def selected_background(rng: np.random.Generator, n_events: float, step: float) -> pd.DataFrame:
    """Background events with score 1 (selected) at 10 % outside the window, 10 % x step inside."""
    shape = bin_integrals(np.array([0.0, 10.0, 6.0]), BINNING.edges, SQRT_S)
    counts = rng.poisson(n_events * shape / shape.sum())
    edges = BINNING.edges
    mjj = np.concatenate([rng.uniform(lo, hi, n) for lo, hi, n in zip(edges[:-1], edges[1:], counts)])
    efficiency = np.where(WINDOW.in_sr(mjj), 0.10 * step, 0.10)
    return pd.DataFrame({"mjj": mjj, "is_signal": 0, "score": (rng.random(len(mjj)) < efficiency).astype(float)})


def pseudo_experiments(n_toys: int, n_events: float, step: float, n_signal: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    template = SignalSample("resonance", pd.DataFrame({"mjj": rng.normal(3500, 100, 5000)}), 5000.0)
    signals = {"resonance": (template, np.ones(5000))}
    kwargs = dict(window=WINDOW, binning=BINNING, lumi_fb=1.0, fit=FIT, sqrt_s=SQRT_S, cl=0.95,
                  min_signal_mc=20, label="toy")
    z_plain, z_corrected, fitted = [], [], []
    for _ in range(n_toys):
        data = selected_background(rng, n_events, step)
        reference = selected_background(rng, n_events, step)
        if n_signal:
            data = pd.concat([data, pd.DataFrame({"mjj": rng.normal(3500, 100, n_signal), "is_signal": 1,
                                                  "score": 1.0})], ignore_index=True)
        plain = hunt(data, {"0.1": 0.5}, signals, **kwargs)[0][0]
        corrected = hunt(data, {"0.1": 0.5}, signals, reference=reference, **kwargs)[0][0]
        if plain["status"] != "ok" or corrected["status"] != "ok":
            continue
        z_plain.append(plain["local_significance"])
        z_corrected.append(corrected["local_significance"])
        fitted.append(corrected["mu_hat_events"] / max(corrected["n_signal_true_window"], 1))
    zp, zc = np.array(z_plain), np.array(z_corrected)
    return {"n": len(zc), "plain_mean": zp.mean(), "plain_std": zp.std(), "plain_above_3": (zp > 3).mean(),
            "corrected_mean": zc.mean(), "corrected_std": zc.std(), "corrected_above_3": (zc > 3).mean(),
            "fitted_over_true": float(np.median(fitted)) if n_signal else float("nan")}


def run_table(run_dir: Path) -> list[str]:
    lines = ["| injected | window | selection | efficiency | local significance | selected sim. / its fit in the window | "
             "true signal selected in the window | status |", "|---:|---|---|---:|---:|---|---:|---|"]
    paths = sorted((run_dir / "results" / "bumphunt").glob("inj*/*/*.json"),
                   key=lambda p: (int(p.parts[-3][3:]), p.parts[-2], p.stem))
    for path in paths:
        for row in json.loads(path.read_text())["rows"]:
            ratio = row.get("sculpting")
            ratio_text = f"{ratio['ratio_window']:.3f} +- {ratio['ratio_window_uncertainty']:.3f}" if ratio else "-"
            z = f"{row['local_significance']:.2f}" if row.get("status") == "ok" else "-"
            status = row["status"].replace(f"{row['selection']}, {row['window']}, efficiency {row['efficiency']}, ", "")
            lines.append(f"| {row['injection']} | {row['window']} | {row['selection']} | {row['efficiency']} | {z} | "
                         f"{ratio_text} | {row['n_signal_true_window']} | {status} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--toys", type=int, default=100, help="pseudo-experiments per setting (0: none)")
    parser.add_argument("--events", type=float, default=75000.0, help="background events per toy (data and simulation)")
    parser.add_argument("--run-dir", type=Path, help="a workflow run directory to tabulate")
    parser.add_argument("--output", type=Path, help="write the results to this markdown file (docs/benchmarks/NAME.md)")
    args = parser.parse_args()

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"### Bump hunt sculpting correction, {stamp}",
             f"- command: `python scripts/bench/bench_sculpting.py --toys {args.toys} --events {args.events:g}"
             + (f" --run-dir {args.run_dir}" if args.run_dir else "") + "`",
             f"- machine: {platform.machine()}, Python {platform.python_version()}", "",
             f"Pseudo-experiments: {args.events:g} background events in 2.8-5.5 TeV per toy for the data and as many "
             "for the simulation; selection 10 % outside the 3.3-3.7 TeV window, 10 % x step inside.", "",
             "| step | signal added | toys | Z without correction: mean / std / share > 3 | "
             "Z with correction: mean / std / share > 3 | fitted / true signal (median) |",
             "|---:|---:|---:|---|---|---:|"]
    for i, (step, n_signal) in enumerate([(1.0, 0), (1.05, 0), (1.10, 0), (1.10, 300)] if args.toys else []):
        r = pseudo_experiments(args.toys, args.events, step, n_signal, seed=100 + i)
        lines.append(f"| {step:.2f} | {n_signal} | {r['n']} | {r['plain_mean']:.2f} / {r['plain_std']:.2f} / "
                     f"{r['plain_above_3']:.2f} | {r['corrected_mean']:.2f} / {r['corrected_std']:.2f} / "
                     f"{r['corrected_above_3']:.2f} | " + (f"{r['fitted_over_true']:.2f} |" if n_signal else "- |"))
        print(lines[-1], flush=True)
    if args.run_dir:
        lines += ["", f"Run `{args.run_dir}`:", ""] + run_table(args.run_dir)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        with args.output.open("a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
