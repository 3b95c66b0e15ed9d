"""Bump-hunt thresholds on a finished run: the fixed SR cut (with and without the sculpting
correction) against quantile-regression thresholds of degree 1 and 2, on the same scored
events (the run's `score_range` tables), through bumpfold's own bump hunt (run_window).

Per injection, window and selection, the headline signal model's row (the model whose mass
the window contains) at each efficiency: local Z, or the reason the row failed; and, per
threshold, the spread of the fraction of background kept per 300 GeV m_jj bin outside the
window (how flat the efficiency is).

Usage: python scripts/bench/bench_thresholds.py --run-dir . [--output docs/benchmarks/thresholds.md]
"""

from __future__ import annotations

import argparse
import copy
import platform
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from bumpfold import settings as typed
from bumpfold.bumphunt.pipeline import run_window
from bumpfold.bumphunt.thresholds import efficiency_by_bin, fit_quantile_threshold
from bumpfold.config import validate_config
from bumpfold.regions import windows_from_config
from bumpfold.registry import RANGE_DATA
from bumpfold.runs import Run
from report import emit  # scripts/bench/report.py

SETTINGS = {  # label -> (threshold, quantile_degree, sculpting_correction)
    "fixed + correction": ("fixed", 1, True),
    "fixed": ("fixed", 1, False),
    "QR degree 1": ("quantile_regression", 1, False),
    "QR degree 2": ("quantile_regression", 2, False),
}


def _headline(windows, masses: dict[str, float]) -> dict[str, str]:
    """Window name -> the signal model whose mass it contains."""
    return {w.name: m for w in windows for m, mass in masses.items() if w.low <= mass < w.high}


def _cell(row: dict) -> str:
    status = row["status"]
    if status == "ok":  # (u): the template is the signal's unselected m_jj shape (too few selected)
        return f"{row['local_significance']:+.2f}" + (" (u)" if row.get("template") == "unselected shape" else "")
    for marker, reason in (("signal MC events", "template"), ("quantile", "quantile fit"),
                           ("background-simulation", "too little simulation"),
                           ("background simulation", "too little simulation")):
        if marker in status:
            return f"failed ({reason})"
    return "failed (fit)"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", type=Path, default=Path("."))
    p.add_argument("--output", type=Path)
    args = p.parse_args()
    run = args.run_dir.resolve()
    config = validate_config(yaml.safe_load((run / "config" / "config.yaml").read_text()))
    windows = windows_from_config(config["regions"])
    processes = config["generation"]["processes"]
    models = config["bumphunt"]["signal_models"] or [config["search"]["signal"]]
    masses = {m: processes[config["datasets"][m]["process"]]["m_resonance"] for m in models}
    headline = _headline(windows, masses)
    background = config["search"]["background"]
    commit = subprocess.run(["git", "-C", str(run), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    tmp = Path(tempfile.mkdtemp())
    table = {}
    for label, (kind, degree, correction) in SETTINGS.items():
        bumphunt = typed.bumphunt({**copy.deepcopy(config["bumphunt"]), "threshold": kind, "quantile_degree": degree,
                                   "sculpting_correction": correction, "signal_models": models}, config["search"])
        for injection in config["search"]["injections"]:
            for w in windows:
                for selection in config["bumphunt"]["methods"]:
                    base = run / f"results/search/inj{injection}/{w.name}"
                    rows, _, _ = run_window(
                        range_scores=base / f"range/{selection}.parquet",
                        thresholds=base / f"selection/{selection}.json",
                        background_cutflow=run / f"results/skim/{background}.cutflow.json",
                        window=w, selection=selection, run=Run(injection),
                        bumphunt=bumphunt, sqrt_s=config["generation"]["sqrt_s"], output=tmp / "rows.json",
                        workspaces=tmp / "ws")
                    if correction and any(str(r.get("sculpting", "")).startswith("not applied") for r in rows):
                        raise SystemExit(f"{base}/range/{selection}.parquet holds no reference-background scores: "
                                         "rerun the workflow with bumphunt.sculpting_correction: true to compare "
                                         "the corrected fixed cut")
                    for r in rows:
                        if r["signal_model"] == headline.get(w.name):
                            table.setdefault((injection, w.name, selection, r["efficiency"]), {})[label] = _cell(r)
    flatness = {}
    for label, (kind, degree, _) in SETTINGS.items():
        spreads = []
        for w in windows:
            for selection in config["bumphunt"]["methods"]:
                ranged = pd.read_parquet(run / f"results/search/inj0/{w.name}/range/{selection}.parquet")
                data = ranged[ranged["sample"] == RANGE_DATA]
                m, s = data.mjj.to_numpy(), data.score.to_numpy()
                outside = (m < w.low) | (m > w.high)
                edges = np.arange(w.range_low, w.range_high + 1, 300.0)
                for eff in (0.1, 0.01):
                    if kind == "fixed":
                        cut = np.full(len(m), np.quantile(s[~outside], 1 - eff))
                    else:
                        cut = fit_quantile_threshold(m[outside], s[outside], efficiency=eff,
                                                     centre=0.5 * (w.low + w.high), degree=degree, name="bench")(m)
                    per_bin = efficiency_by_bin(m[outside], (s >= cut)[outside], edges) / eff
                    spreads.append(float(np.nanstd(per_bin)))
        flatness[label] = float(np.median(spreads))
    labels = list(SETTINGS)
    lines = [f"### Bump-hunt thresholds on the default run, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
             f"- command: `python scripts/bench/bench_thresholds.py --run-dir RUN` at {commit} "
             f"({platform.machine()}, Python {platform.python_version()}), on the score tables "
             "(`results/search/inj*/*/range/*.parquet`) of a `make run` of the default config",
             "- local Z of each window's headline signal model (the one whose mass the window contains); "
             "(u): fewer than `bumphunt.min_signal_mc` signal MC events pass the selection in the window (a "
             "classifier trained without that signal does not select it), so the template is the signal's "
             "unselected m_jj shape; 'failed (template)': too few signal MC events in the window even unselected",
             "", "| injection | window | selection | efficiency | " + " | ".join(labels) + " |",
             "|---|---|---|---|" + "---|" * len(labels)]
    tight = []  # efficiencies below 1 %: one line, not rows
    no_template = []  # rows where every setting failed for want of a signal template: counted, not shown
    for (injection, window, selection, eff), cells in sorted(table.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                                         kv[0][2], -float(kv[0][3]))):
        if float(eff) < 0.01:
            tight += [cell for cell in cells.values()]
            continue
        if set(cells.values()) == {"failed (template)"}:
            no_template.append(f"{injection}/{window}/{selection}/{eff}")
            continue
        lines.append(f"| {injection} | {window} | {selection} | {eff} | "
                     + " | ".join(cells.get(label, "-") for label in labels) + " |")
    if no_template:
        efficiencies = sorted({row.rsplit("/", 1)[1] for row in no_template})
        lines += ["", f"Not shown: {len(no_template)} rows (efficiency {', '.join(efficiencies)}) where every "
                  "setting is 'failed (template)'."]
    if tight:
        counts = pd.Series(tight).value_counts()
        lines += ["", "Efficiencies below 1 % (all settings, rows above): "
                  + ", ".join(f"{n} x {cell}" for cell, n in counts.items())]
    lines += ["", "Spread of the kept fraction over 300 GeV bins outside the window, relative to the efficiency "
              "(injection 0, all windows and selections, 10 % and 1 %; median of the per-case standard deviations; "
              "binomial noise included): " + ", ".join(f"{k} {v:.2f}" for k, v in flatness.items() if "+" not in k)]
    emit("\n".join(lines) + "\n", args.output)


if __name__ == "__main__":
    main()
