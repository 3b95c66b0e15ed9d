"""The light steps after scoring: top-efficiency selections, test-set metrics, summary.

Kept apart from the training steps so that these jobs do not import torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bumpfold.io.atomic import write_json, write_parquet
from bumpfold.search.datasets import has_truth
from bumpfold.search.metrics import performance

NO_TRUTH = "no truth: not evaluated"


def select_top(scores: pd.DataFrame, efficiencies: list[float], *, output: str | Path, thresholds: str | Path) -> None:
    """Keep the most anomalous SR data events: for each efficiency eps the top eps fraction.
    Writes the SR data events above the loosest threshold, with the tightest efficiency
    each passes, and the thresholds."""
    data = scores[scores.set == "data"]
    cuts = {f"{eps:g}": float(np.quantile(data.score, 1.0 - eps)) for eps in sorted(efficiencies, reverse=True)}
    passed = np.full(len(data), np.nan)
    for eps in sorted(efficiencies, reverse=True):
        passed[data.score.to_numpy() >= cuts[f"{eps:g}"]] = eps
    selected = data.assign(efficiency=passed)[~np.isnan(passed)]
    write_parquet(selected, output)
    write_json({"thresholds": cuts, "n_selected": {f"{e:g}": int((selected.efficiency <= e).sum())
                                                     for e in efficiencies}, "n_sr_data": int(len(data))}, thresholds)


def evaluate(score_tables: dict[str, pd.DataFrame], *, window: str, injection: int, closure: str | Path,
             interpolation: str | Path, output: str | Path) -> dict[str, Any]:
    """Per method: AUC, max SIC (>= 25 test background events), SIC at eps_S = 0.2 on the SR
    test set; the SR data size and the true number of signal events in it. Beside them the
    flow's closure AUCs: in the sidebands (held-out data) and in the SR (true background)."""
    result: dict[str, Any] = {"window": window, "injection": injection,
                              "closure_auc": json.loads(Path(closure).read_text())["closure_auc"],
                              "interpolation_auc": json.loads(Path(interpolation).read_text())["interpolation_auc"],
                              "methods": {}}
    for method, table in score_tables.items():
        test, data = table[table.set == "test"], table[table.set == "data"]
        observed = (data.is_signal < 0).any()  # observed data: how much signal it holds is unknown
        sizes = {"n_sr_data": int(len(data)),
                 "n_signal_sr_true": None if observed else int((data.is_signal == 1).sum())}
        if has_truth(test):
            result["methods"][method] = {**performance(test.score.to_numpy(), test.is_signal.to_numpy()).as_dict(),
                                         **sizes}
        else:  # observed data without labelled simulation: nothing to judge the scores against
            result["methods"][method] = {"status": NO_TRUTH, **sizes}
    write_json(result, output)
    return result


def summarize(metrics_files: list[str | Path], output: str | Path, *,
              skipped: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One row per (window, injection, method) with the S/B and S/sqrt(B) that were really in the
    SR data (None for observed data, whose signal content is unknown); ``skipped`` names the
    configured methods that could not run, and why."""
    rows = []
    for path in metrics_files:
        metrics = json.loads(Path(path).read_text())
        for method, r in metrics["methods"].items():
            n_sig = r["n_signal_sr_true"]  # None for observed data
            n_bkg = None if n_sig is None else max(r["n_sr_data"] - n_sig, 1)  # pseudo-data less the injected signal
            rows.append({"window": metrics["window"], "injection": metrics["injection"], "method": method,
                         "closure_auc": metrics["closure_auc"], "interpolation_auc": metrics["interpolation_auc"],
                         "s_over_b": None if n_bkg is None else n_sig / n_bkg,
                         "s_over_sqrt_b": None if n_bkg is None else n_sig / np.sqrt(n_bkg), **r})
    write_json({"rows": rows, "skipped": skipped or {}}, output)
    return rows
