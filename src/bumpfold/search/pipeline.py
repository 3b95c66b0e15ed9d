"""One function per workflow step of the search, from its typed settings
(:class:`~bumpfold.search.settings.SearchSettings`, built by bumpfold.settings).

Each reads and writes files (atomically) and returns what it computed, so the Snakemake
scripts stay glue and a notebook can run the same steps.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bumpfold.errors import BumpfoldInputError, required_path
from bumpfold.features import check_finite
from bumpfold.io import safe_pickle
from bumpfold.io.atomic import atomic_path, write_json, write_parquet
from bumpfold.ml.classifier import kfold_scores
from bumpfold.regions import Window, assign_folds
from bumpfold.registry import CLASSIFIER_METHODS, METHODS
from bumpfold.runs import Run
from bumpfold.search import methods
from bumpfold.search.datasets import build_datasets, build_toy_datasets
from bumpfold.search.metrics import performance
from bumpfold.search.sampling import sample_sr
from bumpfold.search.settings import SearchSettings, given

if TYPE_CHECKING:  # torch is imported only by the steps that train or sample flows
    from bumpfold.ml.flow import ConditionalFlow

log = logging.getLogger(__name__)


def _read_features(path: str | Path | None, columns: list[str]) -> pd.DataFrame | None:
    """A skimmed table with the search's columns, all finite (None: no such role)."""
    if path is None:
        return None
    table = pd.read_parquet(path)
    missing = [f for f in columns if f not in table.columns]
    if missing:
        raise BumpfoldInputError(f"{path}: no column(s) {', '.join(missing)} (search.features)")
    check_finite(table, str(path), columns)
    return table


def make_datasets(background: str | Path | None, signal: str | Path | None, *, n_injected: int,
                  search: SearchSettings, seed: int, output: str | Path,
                  observed: str | Path | None = None) -> pd.DataFrame:
    """The roles of every event (see :mod:`bumpfold.search.datasets`) from the skimmed
    tables: pseudo-data from ``background`` and ``signal``, or ``observed`` data beside
    optional background and signal simulation."""
    columns = [*search.features, "mjj"]
    table = build_datasets(_read_features(background, columns), _read_features(signal, columns),
                           n_injected=n_injected, split=given(search.split, "split"),
                           seed=seed, observed=_read_features(observed, columns))
    write_parquet(table, output)
    return table


def make_toy_datasets(background: str | Path, signal: str | Path | None, *, run: Run, n_toys: int,
                      search: SearchSettings, partition_seed: int, seed: int, output: str | Path) -> pd.DataFrame:
    """A pseudo-experiment's data sets (:func:`bumpfold.search.datasets.build_toy_datasets`)."""
    if run.toy is None:
        raise BumpfoldInputError(f"run {run.label} is not a toy")
    columns = [*search.features, "mjj"]
    bkg = _read_features(background, columns)
    assert bkg is not None
    table = build_toy_datasets(bkg, _read_features(signal, columns), toy=run.toy, n_toys=n_toys,
                               n_injected=run.n_injected,
                               signal_test_fraction=given(search.split, "split").signal_test_fraction,
                               partition_seed=partition_seed, seed=seed)
    log.info("toy %d of %d: %d background events, %d signal injected", run.toy, n_toys,
             int(((table.role == "data") & (table.is_signal == 0)).sum()), run.n_injected)
    write_parquet(table, output)
    return table


def window_data(datasets: str | Path, window: Window, search: SearchSettings) -> methods.WindowData:
    """The window's data, after checking it has enough SB and SR data events to train."""
    wd = methods.WindowData(pd.read_parquet(datasets), window, list(search.features))
    n_sb, n_sr = len(wd.sb("data")), len(wd.sr("data"))
    min_events = given(search.min_events, "min_events")
    if min(n_sb, n_sr) < min_events:
        raise BumpfoldInputError(
            f"window {window.name}: {n_sb} SB and {n_sr} SR data events; at least {min_events} of each "
            "are needed to train (search.min_events)")
    n_closure = int(given(search.closure_fraction, "closure_fraction") * n_sb)
    if n_closure < 10 * search.n_folds:
        raise BumpfoldInputError(
            f"window {window.name}: the closure test would get about {n_closure} SB events for "
            f"{search.n_folds} folds; raise search.closure_fraction or use more events")
    return wd


def check_oversampling(wd: methods.WindowData, search: SearchSettings) -> None:
    """The SR background samples (CATHODE) or latent draws (LaCATHODE) must fill the folds."""
    n_sr = len(wd.sr("data"))
    oversampling = given(search.oversampling, "oversampling")
    n_samples = int(round(oversampling * n_sr))
    if n_samples < 10 * search.n_folds:
        raise BumpfoldInputError(
            f"config key 'search.oversampling': {oversampling:g} x {n_sr} SR data events gives "
            f"{n_samples} background samples in window {wd.window.name}, fewer than 10 per fold "
            f"({search.n_folds} folds)")


def train_flow(wd: methods.WindowData, search: SearchSettings, seed: int, *, model: str | Path,
               closure: str | Path) -> ConditionalFlow:
    """Train the sideband flow on SB data, less a held-out part for the closure test:
    a classifier of flow samples vs. held-out SB data should find nothing (AUC ~ 0.5)."""
    from bumpfold.ml.flow import ConditionalFlow

    sb = wd.sb("data")
    held_out = np.random.default_rng(seed).random(len(sb)) < given(search.closure_fraction, "closure_fraction")
    train = sb[~held_out]
    flow = ConditionalFlow(search.flow_with_seed(seed)).fit(wd.x(train), train.mjj.to_numpy())
    check = sb[held_out]
    samples = flow.sample(check.mjj.to_numpy(), seed=seed + 1)
    auc = separability_auc(wd.x(check), samples, search, seed)
    flow.save(model)
    write_json({"window": wd.window.name, "closure_auc": auc, "n_sb_train": int(len(train)),
                 "n_sb_closure": int(len(check)), "best_epochs": flow.history.best_epochs,
                 "train_loss": flow.history.train_loss, "val_loss": flow.history.val_loss}, closure)
    log.info("window %s: closure AUC %.3f (flow samples vs held-out SB data)", wd.window.name, auc)
    return flow


def separability_auc(a: np.ndarray, b: np.ndarray, search: SearchSettings, seed: int) -> float:
    """Out-of-fold AUC of the search's classifier telling ``a`` from ``b`` (0.5: alike)."""
    settings = search.folds_with_seed(seed)
    scores = kfold_scores(a, b, data_folds=assign_folds(len(a), settings.n_folds, seed),
                          reference_folds=assign_folds(len(b), settings.n_folds, seed + 1), settings=settings)
    return performance(np.r_[scores.data, scores.reference], np.r_[np.ones(len(a)), np.zeros(len(b))]).auc


def sample_window(wd: methods.WindowData, flow_path: str | Path, search: SearchSettings, seed: int,
                  output: str | Path, interpolation: str | Path) -> pd.DataFrame:
    """SR background samples; and the interpolation closure where the true SR background is
    known (the labelled test and idealised background): the AUC of a classifier telling the
    samples from it, 0.5 where the flow models the SR background."""
    from bumpfold.ml.flow import ConditionalFlow

    check_oversampling(wd, search)
    x, m = sample_sr(ConditionalFlow.load(flow_path), wd.sr("data").mjj.to_numpy(), wd.window,
                     oversampling=given(search.oversampling, "oversampling"), seed=seed)
    table = pd.DataFrame(x, columns=list(wd.features)).assign(mjj=m)
    truth = pd.concat([wd.sr("ideal"), wd.sr("test")])
    truth = truth[truth.is_signal == 0]
    result: dict[str, Any] = {"window": wd.window.name, "n_samples": int(len(table)),
                              "n_true_background": int(len(truth))}
    if len(truth) >= 10 * search.n_folds:
        result["interpolation_auc"] = separability_auc(x, wd.x(truth), search, seed + 2)
        log.info("window %s: interpolation AUC %.3f (SR samples vs true SR background, %d events)",
                 wd.window.name, result["interpolation_auc"], len(truth))
    else:
        result["interpolation_auc"] = None
        result["note"] = "no true SR background: not evaluated"
    write_parquet(table, output)
    write_json(result, interpolation)
    return table


def classifier_task(method: str, wd: methods.WindowData, search: SearchSettings, seed: int, *,
                    samples_path: str | Path | None = None,
                    flow_path: str | Path | None = None) -> methods.ClassifierTask | methods.AutoencoderTask:
    """The k-fold problem of a classifier method (data vs. reference), or the autoencoder's
    k folds of SR data (not ANODE)."""
    if method == "autoencoder":
        return methods.autoencoder(wd, search.autoencoder_settings(), search.n_folds, seed)
    settings = search.folds_with_seed(seed)
    if method == "cathode":
        samples = pd.read_parquet(required_path(samples_path, "CATHODE's SR samples"))
        return methods.cathode(wd, wd.x(samples), settings, seed)
    if method == "lacathode":
        from bumpfold.ml.flow import ConditionalFlow

        check_oversampling(wd, search)
        flow = ConditionalFlow.load(required_path(flow_path, "LaCATHODE's sideband flow"))
        return methods.lacathode(wd, flow, settings, seed, oversampling=given(search.oversampling, "oversampling"))
    if method == "cwola":
        width = given(search.cwola_sideband_width, "cwola_sideband_width")
        return methods.cwola(wd, settings, seed, sideband_width=width)
    if method == "iad":
        return methods.iad(wd, settings, seed)
    if method == "supervised":
        return methods.supervised(wd, settings, seed)
    raise BumpfoldInputError(f"method {method!r}: not a classifier method (use one of "
                             f"{', '.join(CLASSIFIER_METHODS)})")


def score_folds(method: str, folds: Sequence[int], wd: methods.WindowData, search: SearchSettings, seed: int, *,
                outputs: Sequence[str | Path], samples_path: str | Path | None = None,
                flow_path: str | Path | None = None) -> None:
    """Train the given folds of a classifier method, one after the other, and write each
    one's models and scores (a pickle per fold, ``outputs`` in the order of ``folds``). A
    fold's result does not depend on which others share its process: the task is built
    from the same seed, and each fold seeds its own trainings."""
    if len(folds) != len(outputs):
        raise BumpfoldInputError(f"{method}: {len(folds)} folds for {len(outputs)} outputs")
    task = classifier_task(method, wd, search, seed, samples_path=samples_path, flow_path=flow_path)
    for fold, output in zip(folds, outputs):
        result = task.train_fold(fold)
        with atomic_path(output) as tmp, open(tmp, "wb") as f:
            pickle.dump({"method": method, "window": wd.window.name, "result": result}, f)


def combine_method(method: str, wd: methods.WindowData, search: SearchSettings, seed: int, *,
                   fold_paths: list[str | Path], output: str | Path, models_path: str | Path,
                   samples_path: str | Path | None = None, flow_path: str | Path | None = None) -> pd.DataFrame:
    """Out-of-fold scores of a classifier method from its fold jobs' results."""
    results = []
    for path in fold_paths:
        payload = safe_pickle.load(path, what="a fold result of the search")
        if not isinstance(payload, dict):
            raise BumpfoldInputError(f"{path}: not a fold result of the search")
        if (payload.get("method"), payload.get("window")) != (method, wd.window.name):
            raise BumpfoldInputError(f"{path}: a fold of {payload.get('method')} in {payload.get('window')}, "
                                     f"not of {method} in {wd.window.name}")
        results.append(payload["result"])
    task = classifier_task(method, wd, search, seed, samples_path=samples_path, flow_path=flow_path)
    return write_scores(method, wd, task.combine(results), search, output=output, models_path=models_path)


def score_method(method: str, wd: methods.WindowData, search: SearchSettings, seed: int, *, output: str | Path,
                 models_path: str | Path | None = None, flow_path: str | Path | None = None,
                 samples_path: str | Path | None = None) -> pd.DataFrame:
    """Scores of SR data and SR test events for one method, all folds in this process
    (the workflow splits classifier methods into fold jobs)."""
    if method == "anode":
        from bumpfold.ml.flow import ConditionalFlow

        result = methods.anode(wd, ConditionalFlow.load(required_path(flow_path, "ANODE's sideband flow")),
                              search.flow_with_seed(seed))
    elif method in METHODS:
        result = classifier_task(method, wd, search, seed, samples_path=samples_path, flow_path=flow_path).run()
    else:
        raise BumpfoldInputError(f"method {method!r}: use one of {', '.join(METHODS)}")
    return write_scores(method, wd, result, search, output=output, models_path=models_path)


def write_scores(method: str, wd: methods.WindowData, result: methods.MethodScores, search: SearchSettings, *,
                 output: str | Path, models_path: str | Path | None = None) -> pd.DataFrame:
    """The SR data and test scores with their truth labels; with ``models_path``, the trained
    models too (pickled), to score other events later."""
    parts = []
    for role, scores in (("data", result.data), ("test", result.test)):
        rows = wd.sr(role)
        parts.append(rows[list(wd.features) + ["mjj", "is_signal"]].assign(set=role, score=scores))
    table = pd.concat(parts, ignore_index=True)
    if not np.isfinite(table.score).all():
        raise BumpfoldInputError(f"method {method}, window {wd.window.name}: non-finite anomaly scores")
    write_parquet(table, output)
    if models_path is not None:
        with atomic_path(models_path) as tmp, open(tmp, "wb") as f:
            pickle.dump({"method": method, "window": wd.window.name, "n_folds": search.n_folds,
                         "models": result.models}, f)
    return table
