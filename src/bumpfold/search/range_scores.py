"""Scores over the whole m_jj range: what the bump hunt reads (rule ``score_range``).

For one window and one selection (a classifier method, or ``inclusive``) every event the
bump hunt needs gets one score, so the bump hunt itself needs no classifier:

- ``data``: data events in the m_jj range. SR events keep their out-of-fold scores from the
  search; SB events are scored by one fold's classifier each (random folds), so their score
  distribution matches the SR's and a fixed cut keeps the same background efficiency on
  both sides (the mean of all folds would be narrower). The supervised classifier never
  trained on SR data (the search scores them with the mean of its folds): here its SR data
  are scored like everything else, by one random fold each, so that data, sidebands,
  templates and references share one score distribution.
- ``reference``: background simulation in the m_jj range that the selection's classifiers
  never saw (``ideal`` and labelled-test background; for IAD and supervised, which trained
  on the ideal events, the test background alone), scored like the SB data: what the
  sculpting correction measures. Empty for observed data without simulation, and not
  scored at all when the bump hunt applies no sculpting correction.
- ``reference_alternative`` (with ``bumphunt.sculpting_alternative``): every event of a
  second background simulation in the m_jj range (made with other generator settings; no
  classifier saw it), scored like the SB data: the correction measured on it gives the
  correction's systematic uncertainty.
- one sample per signal model: its events scored like the SB data; for the injected model
  only its labelled-test events, which no method trained on. ``n_generated`` is the
  generated-event count the sample stands for (limits in fb).

``inclusive`` scores everything 1. Columns: sample, mjj, is_signal, score, n_generated.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError, required, required_path
from bumpfold.io import safe_pickle
from bumpfold.ml.classifier import EventScorer, fold_model_scores
from bumpfold.regions import Window, assign_folds
from bumpfold.registry import INCLUSIVE, RANGE_ALTERNATIVE, RANGE_COLUMNS, RANGE_DATA, RANGE_REFERENCE, method

Encoder = Callable[[pd.DataFrame], NDArray[np.float64]]
Scorer = Callable[[pd.DataFrame, int], NDArray[np.float64]]


def signal_events(name: str, table_path: str | Path, cutflow_path: str | Path, *,
                  datasets: pd.DataFrame | None = None) -> tuple[pd.DataFrame, float]:
    """A signal model's skimmed events and the generated-event count they stand for. For the
    injected model (``datasets`` given) only its labelled-test events, which no method
    trained on, scaled to their share of the sample."""
    info = json.loads(Path(cutflow_path).read_text()).get("generator")
    if not info or not info.get("n_generated", 0) > 0:
        raise BumpfoldInputError(f"signal model {name}: {cutflow_path} has no generated-event count "
                                 "(signal models must be generated processes)")
    table = pd.read_parquet(table_path)
    if datasets is None:
        return table, float(info["n_generated"])
    test = datasets[(datasets.is_signal == 1) & (datasets.role == "test")]
    return test, float(info["n_generated"]) * len(test) / len(table)


def load_fold_models(path: str | Path, window: Window) -> list[EventScorer]:
    payload = safe_pickle.load(path, what="the fold classifiers of a method")
    if not isinstance(payload, dict) or payload.get("window") != window.name or \
            not isinstance(payload.get("models"), list):
        raise BumpfoldInputError(f"{path}: not the fold classifiers of window {window.name} "
                                 "(the bump hunt needs a classifier method, not ANODE)")
    return payload["models"]


def feature_encoder(features: list[str], flow_path: str | Path | None = None, *, selection: str = "") -> Encoder:
    """Events -> a method's model inputs: the features; (LaCATHODE, ``flow_path`` given) their
    latent image under the window's sideband flow at each event's own m_jj; (the autoencoder)
    its per-jet columns."""
    if selection == "autoencoder":
        from bumpfold.search.methods import jet_inputs

        return jet_inputs
    if flow_path is None:
        return lambda rows: rows[features].to_numpy(np.float64)
    from bumpfold.ml.flow import ConditionalFlow
    from bumpfold.search.methods import latent_encoder

    return latent_encoder(features, ConditionalFlow.load(flow_path))


def single_fold_scorer(models: list[EventScorer], encode: Encoder) -> Scorer:
    """Each event scored by one random fold's ensemble: for events that ensemble never
    trained on, distributed like out-of-fold scores (CWoLa's sideband strips excepted)."""
    return lambda rows, seed: fold_model_scores(models, encode(rows), assign_folds(len(rows), len(models), seed))


def data_scores(datasets: pd.DataFrame, sr_scores: pd.DataFrame | None, window: Window, scorer: Scorer | None,
                seed: int, *, sr_out_of_fold: bool = True) -> pd.DataFrame:
    """Data events in the m_jj range with a score each (see the module docstring);
    ``sr_out_of_fold`` False: the method never trained on SR data, so they are scored by
    one random fold like the sidebands."""
    data = datasets[(datasets.role == "data").to_numpy() & window.in_range(datasets.mjj.to_numpy())]
    if scorer is None:
        return data[["mjj", "is_signal"]].assign(score=1.0)
    if not sr_out_of_fold:
        return data[["mjj", "is_signal"]].assign(score=scorer(data, seed))
    in_sr = window.in_sr(data.mjj.to_numpy())
    scored = required(sr_scores, f"window {window.name}: the SR scores of the method")
    sr = scored[scored.set == "data"]
    if len(sr) != in_sr.sum():
        raise BumpfoldInputError(f"window {window.name}: {len(sr)} scored SR data events but the data set "
                                 f"has {in_sr.sum()} (scores from another data set?)")
    score = np.empty(len(data))
    score[in_sr] = sr.score.to_numpy()
    score[~in_sr] = scorer(data[~in_sr], seed)
    return data[["mjj", "is_signal"]].assign(score=score)


def reference_scores(datasets: pd.DataFrame, window: Window, scorer: Scorer, selection: str,
                     seed: int) -> pd.DataFrame:
    """Background simulation in the m_jj range that ``selection``'s classifiers never saw,
    scored like the sideband data."""
    roles = method(selection).unseen_background
    rows = datasets[datasets.role.isin(roles).to_numpy() & (datasets.is_signal == 0).to_numpy()
                    & window.in_range(datasets.mjj.to_numpy())]
    return rows[["mjj", "is_signal"]].assign(score=scorer(rows, seed))


def score_range(*, datasets: str | Path, scores: str | Path | None, models: str | Path | None,
                flow: str | Path | None, signal_models: dict[str, tuple[str, str]], injected_model: str | None,
                window: Window, selection: str, features: list[str], seed: int,
                score_reference: bool = True, alternative: str | Path | None = None) -> pd.DataFrame:
    """The table of the module docstring for one window and selection. Seeds: the SB data's
    fold assignment ``seed``, the reference's ``seed + 1000``, the alternative reference's
    ``seed + 2000``, signal model i's ``seed + 1 + i`` (independent of each other)."""
    table = pd.read_parquet(datasets)
    scorer = None
    if selection != INCLUSIVE:
        scorer = single_fold_scorer(load_fold_models(required_path(models, "the method's fold classifiers"), window),
                                    feature_encoder(features, flow, selection=selection))
    out_of_fold = selection == INCLUSIVE or method(selection).trains_on_sr_data
    parts = [data_scores(table, None if scores is None else pd.read_parquet(scores), window, scorer, seed,
                         sr_out_of_fold=out_of_fold).assign(sample=RANGE_DATA, n_generated=np.nan)]
    if scorer is not None and score_reference:
        parts.append(reference_scores(table, window, scorer, selection, seed + 1000)
                     .assign(sample=RANGE_REFERENCE, n_generated=np.nan))
    if scorer is not None and alternative is not None:
        rows = pd.read_parquet(alternative)
        rows = rows[window.in_range(rows.mjj.to_numpy())]
        parts.append(pd.DataFrame({"mjj": rows.mjj.to_numpy(), "is_signal": 0, "score": scorer(rows, seed + 2000),
                                   "sample": RANGE_ALTERNATIVE, "n_generated": np.nan}))
    for i, (name, (events, cutflow)) in enumerate(signal_models.items()):
        rows, n_generated = signal_events(name, events, cutflow, datasets=table if name == injected_model else None)
        score = np.ones(len(rows)) if scorer is None else scorer(rows, seed + 1 + i)
        parts.append(pd.DataFrame({"mjj": rows.mjj.to_numpy(), "is_signal": rows.is_signal.to_numpy(), "score": score,
                                   "sample": name, "n_generated": n_generated}))
    return pd.concat(parts, ignore_index=True)[list(RANGE_COLUMNS)]
