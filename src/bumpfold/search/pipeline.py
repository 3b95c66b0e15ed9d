"""One function per workflow step of the search, from the ``search`` config section.

Each reads and writes files (atomically) and returns what it computed, so the Snakemake
scripts stay glue and a notebook can run the same steps.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bumpfold.errors import BumpfoldInputError
from bumpfold.io.atomic import atomic_path
from bumpfold.ml.classifier import ClassifierSettings, kfold_scores
from bumpfold.ml.flow import ConditionalFlow, FlowSettings
from bumpfold.search import methods
from bumpfold.search.datasets import SplitSettings, build_datasets
from bumpfold.search.metrics import performance
from bumpfold.search.regions import Window, assign_folds
from bumpfold.search.sampling import sample_sr
from bumpfold.skim import check_finite

log = logging.getLogger(__name__)


def flow_settings(search: dict[str, Any], seed: int) -> FlowSettings:
    f = search["flow"]
    return FlowSettings(kind=f["kind"], transforms=f["transforms"], hidden=tuple(f["hidden"]), epochs=f["epochs"],
                        batch_size=f["batch_size"], learning_rate=f["learning_rate"], patience=f["patience"],
                        n_best=f["n_best"], seed=seed, device=search["device"])


def classifier_settings(search: dict[str, Any], seed: int) -> ClassifierSettings:
    c = search["classifier"]
    return ClassifierSettings(kind=c["kind"], n_folds=search["n_folds"], n_ensemble=c["n_ensemble"],
                              max_iter=c["max_iter"], learning_rate=c["learning_rate"],
                              max_leaf_nodes=c["max_leaf_nodes"], mlp_hidden=tuple(c["mlp_hidden"]),
                              mlp_epochs=c["mlp_epochs"], mlp_batch_size=c["mlp_batch_size"],
                              mlp_learning_rate=c["mlp_learning_rate"], mlp_best_epochs=c["mlp_best_epochs"],
                              device=search["device"], seed=seed)


def _write_parquet(table: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False)


def _write_json(payload: Any, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def make_datasets(background: str | Path, signal: str | Path, *, n_injected: int, search: dict[str, Any],
                  seed: int, output: str | Path) -> pd.DataFrame:
    s = search["split"]
    tables = {}
    for path in (background, signal):
        table = pd.read_parquet(path)
        missing = [f for f in [*search["features"], "mjj"] if f not in table.columns]
        if missing:
            raise BumpfoldInputError(f"{path}: no column(s) {', '.join(missing)} (search.features)")
        check_finite(table, str(path), [*search["features"], "mjj"])
        tables[path] = table
    table = build_datasets(tables[background], tables[signal], n_injected=n_injected,
                           split=SplitSettings(s["data_fraction"], s["test_fraction"], s["signal_test_fraction"]),
                           seed=seed)
    _write_parquet(table, output)
    return table


def window_data(datasets: str | Path, window: Window, search: dict[str, Any]) -> methods.WindowData:
    """The window's data, after checking it has enough SB and SR data events to train."""
    wd = methods.WindowData(pd.read_parquet(datasets), window, search["features"])
    n_sb, n_sr = len(wd.sb("data")), len(wd.sr("data"))
    if min(n_sb, n_sr) < search["min_events"]:
        raise BumpfoldInputError(
            f"window {window.name}: {n_sb} SB and {n_sr} SR data events; at least {search['min_events']} of each "
            "are needed to train (search.min_events)")
    n_closure = int(search["closure_fraction"] * n_sb)
    if n_closure < 10 * search["n_folds"]:
        raise BumpfoldInputError(
            f"window {window.name}: the closure test would get about {n_closure} SB events for "
            f"{search['n_folds']} folds; raise search.closure_fraction or use more events")
    return wd


def train_flow(wd: methods.WindowData, search: dict[str, Any], seed: int, *, model: str | Path,
               closure: str | Path) -> ConditionalFlow:
    """Train the sideband flow on SB data, less a held-out part for the closure test:
    a classifier of flow samples vs. held-out SB data should find nothing (AUC ~ 0.5)."""
    sb = wd.sb("data")
    held_out = np.random.default_rng(seed).random(len(sb)) < search["closure_fraction"]
    train = sb[~held_out]
    flow = ConditionalFlow(flow_settings(search, seed)).fit(wd.x(train), train.mjj.to_numpy())
    check = sb[held_out]
    samples = flow.sample(check.mjj.to_numpy(), seed=seed + 1)
    settings = classifier_settings(search, seed)
    scores = kfold_scores(wd.x(check), samples, data_folds=assign_folds(len(check), settings.n_folds, seed),
                          reference_folds=assign_folds(len(samples), settings.n_folds, seed + 1), settings=settings)
    perf = performance(np.r_[scores.data, scores.reference], np.r_[np.ones(len(check)), np.zeros(len(samples))])
    flow.save(model)
    _write_json({"window": wd.window.name, "closure_auc": perf.auc, "n_sb_train": int(len(train)),
                 "n_sb_closure": int(len(check)), "best_epochs": flow.history.best_epochs,
                 "train_loss": flow.history.train_loss, "val_loss": flow.history.val_loss}, closure)
    log.info("window %s: closure AUC %.3f (flow samples vs held-out SB data)", wd.window.name, perf.auc)
    return flow


def sample_window(wd: methods.WindowData, flow_path: str | Path, search: dict[str, Any], seed: int,
                  output: str | Path) -> pd.DataFrame:
    x, m = sample_sr(ConditionalFlow.load(flow_path), wd.sr("data").mjj.to_numpy(), wd.window,
                     oversampling=search["oversampling"], seed=seed)
    table = pd.DataFrame(x, columns=list(wd.features)).assign(mjj=m)
    _write_parquet(table, output)
    return table


def score_method(method: str, wd: methods.WindowData, search: dict[str, Any], seed: int, *, output: str | Path,
                 flow_path: str | Path | None = None, samples_path: str | Path | None = None) -> pd.DataFrame:
    """Scores of SR data and SR test events for one method; written with their truth labels."""
    settings = classifier_settings(search, seed)
    if method == "cathode":
        result = methods.cathode(wd, wd.x(pd.read_parquet(samples_path)), settings, seed)
    elif method == "cwola":
        result = methods.cwola(wd, settings, seed, sideband_width=search["cwola_sideband_width"])
    elif method == "iad":
        result = methods.iad(wd, settings, seed)
    elif method == "supervised":
        result = methods.supervised(wd, settings, seed)
    elif method == "anode":
        result = methods.anode(wd, ConditionalFlow.load(flow_path), flow_settings(search, seed))
    else:
        raise BumpfoldInputError(f"method {method!r}: use one of {', '.join(methods.METHODS)}")
    parts = []
    for role, scores in (("data", result.data), ("test", result.test)):
        rows = wd.sr(role)
        parts.append(rows[list(wd.features) + ["mjj", "is_signal"]].assign(set=role, score=scores))
    table = pd.concat(parts, ignore_index=True)
    if not np.isfinite(table.score).all():
        raise BumpfoldInputError(f"method {method}, window {wd.window.name}: non-finite anomaly scores")
    _write_parquet(table, output)
    return table


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
    _write_parquet(selected, output)
    _write_json({"thresholds": cuts, "n_selected": {f"{e:g}": int((selected.efficiency <= e).sum())
                                                     for e in efficiencies}, "n_sr_data": int(len(data))}, thresholds)


def evaluate(score_tables: dict[str, pd.DataFrame], *, window: str, injection: int, closure: str | Path,
             output: str | Path) -> dict[str, Any]:
    """Per method: AUC, max SIC (>= 25 test background events), SIC at eps_S = 0.2 on the SR
    test set; the SR data size and the true number of signal events in it."""
    result: dict[str, Any] = {"window": window, "injection": injection,
                              "closure_auc": json.loads(Path(closure).read_text())["closure_auc"], "methods": {}}
    for method, table in score_tables.items():
        test, data = table[table.set == "test"], table[table.set == "data"]
        perf = performance(test.score.to_numpy(), test.is_signal.to_numpy())
        result["methods"][method] = {**perf.as_dict(), "n_sr_data": int(len(data)),
                                     "n_signal_sr_true": int(data.is_signal.sum())}
    _write_json(result, output)
    return result


def summarize(metrics_files: list[str | Path], output: str | Path) -> list[dict[str, Any]]:
    """One row per (window, injection, method) with the S/B that was really in the SR data."""
    rows = []
    for path in metrics_files:
        metrics = json.loads(Path(path).read_text())
        for method, r in metrics["methods"].items():
            n_bkg = r["n_sr_data"] - r["n_signal_sr_true"]
            rows.append({"window": metrics["window"], "injection": metrics["injection"], "method": method,
                         "closure_auc": metrics["closure_auc"], "s_over_b": r["n_signal_sr_true"] / max(n_bkg, 1),
                         **r})
    _write_json({"rows": rows}, output)
    return rows
