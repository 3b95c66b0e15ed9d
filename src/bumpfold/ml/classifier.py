"""k-fold "data vs. reference" classifiers with out-of-fold scores (CATHODE/CWoLa style).

Every event of the first class ("data") is scored by classifiers that never saw it: the
data are split into k folds; for fold i a classifier is trained on the other folds' data
against the reference events of the other folds, and scores fold i. Each classifier is
an ensemble of ``n_ensemble`` seeds (scores averaged); classes are weighted to balance.
Other events (a test set) get the average over all k classifiers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassifierSettings:
    kind: str = "hgb"  # scikit-learn HistGradientBoosting
    n_folds: int = 5
    n_ensemble: int = 5
    max_iter: int = 200
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    early_stopping: bool = True
    seed: int = 0


def _model(settings: ClassifierSettings, seed: int):
    if settings.kind != "hgb":
        raise BumpfoldInputError(f"classifier kind {settings.kind!r}: only 'hgb' is available")
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=settings.max_iter, learning_rate=settings.learning_rate, max_leaf_nodes=settings.max_leaf_nodes,
        early_stopping=settings.early_stopping, validation_fraction=0.2, n_iter_no_change=10,
        class_weight="balanced", random_state=seed)


@dataclass
class FoldScores:
    data: NDArray[np.float64]  # out-of-fold score of every data event
    reference: NDArray[np.float64]  # out-of-fold score of every reference event
    others: list[NDArray[np.float64]]  # mean score of all fold classifiers, per extra set


def kfold_scores(data: NDArray[np.float64], reference: NDArray[np.float64], *, data_folds: NDArray[np.int64],
                 reference_folds: NDArray[np.int64], settings: ClassifierSettings,
                 score_also: tuple[NDArray[np.float64], ...] = ()) -> FoldScores:
    """Train data (label 1) vs. reference (label 0) k-fold; see the module docstring."""
    k = settings.n_folds
    for name, arr, folds in (("data", data, data_folds), ("reference", reference, reference_folds)):
        if len(arr) != len(folds):
            raise BumpfoldInputError(f"{name}: {len(arr)} events but {len(folds)} fold labels")
        if not np.isfinite(arr).all():
            raise BumpfoldInputError(f"{name} features contain NaN/inf")
        counts = np.bincount(folds, minlength=k)
        if counts.min() < 5:
            raise BumpfoldInputError(f"{name}: too few events to train ({len(arr)} in {k} folds)")
    oof = np.zeros(len(data))
    oof_ref = np.zeros(len(reference))
    others = [np.zeros(len(x)) for x in score_also]
    for fold in range(k):
        train_d, train_r = data[data_folds != fold], reference[reference_folds != fold]
        x = np.concatenate([train_d, train_r])
        y = np.r_[np.ones(len(train_d)), np.zeros(len(train_r))]
        for member in range(settings.n_ensemble):
            seed = int(np.random.SeedSequence([settings.seed, fold, member]).generate_state(1)[0])
            model = _model(settings, seed=seed).fit(x, y)
            oof[data_folds == fold] += model.predict_proba(data[data_folds == fold])[:, 1] / settings.n_ensemble
            oof_ref[reference_folds == fold] += (model.predict_proba(reference[reference_folds == fold])[:, 1]
                                                 / settings.n_ensemble)
            for out, extra in zip(others, score_also):
                out += model.predict_proba(extra)[:, 1] / (settings.n_ensemble * k)
        log.info("classifier fold %d/%d trained (%d data, %d reference)", fold + 1, k, len(train_d), len(train_r))
    return FoldScores(data=oof, reference=oof_ref, others=others)
