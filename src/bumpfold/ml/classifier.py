"""The ML core's classifiers: one factory, the epoch-ensembled MLP, a seed ensemble, and
k-fold "data vs. reference" scoring with out-of-fold scores (CATHODE/CWoLa style).

Every event of the first class ("data") is scored by classifiers that never saw it: the
data are split into k folds; for fold i a classifier is trained on the other folds' data
against the reference events of the other folds, and scores fold i. Each classifier is
an ensemble of ``n_ensemble`` seeds (scores averaged); classes are weighted to balance.
Other events (a test set) get the average over all k classifiers.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError
from bumpfold.io import safe_pickle
from bumpfold.io.atomic import atomic_path
from bumpfold.ml.preprocessing import QuantileGaussianizer
from bumpfold.ml.settings import ClassifierSettings, KFoldSettings

log = logging.getLogger(__name__)


class EventScorer(Protocol):
    """A fold's model as the search and the bump hunt use it: one anomaly score per event
    (a classifier ensemble's class-1 probability; the autoencoder's loss mapped into (0, 1))."""

    def score(self, x: NDArray[np.float64]) -> NDArray[np.float64]: ...


class BinaryClassifier(Protocol):
    """What the core's models share (scikit-learn's interface)."""

    def fit(self, x: NDArray[np.float64], y: NDArray[np.float64],
            sample_weight: NDArray[np.float64] | None = None) -> Any: ...

    def predict_proba(self, x: NDArray[np.float64]) -> NDArray[np.float64]: ...


class EpochEnsembleMLP:
    """A PyTorch MLP with balanced class weights; like CATHODE's classifier, its prediction
    averages the models of the ``mlp_best_epochs`` epochs with the lowest validation loss
    (the core's training loop, bumpfold.ml.training). Inputs are standardised with the
    training set's mean and spread (``mlp_inputs: standard``) or mapped through its quantiles
    onto a normal (``quantile``)."""

    def __init__(self, settings: ClassifierSettings, seed: int) -> None:
        self.settings = settings
        self.seed = seed
        self.members: list[Any] = []
        self.mean: NDArray[np.float64] | None = None
        self.std: NDArray[np.float64] | None = None
        self.quantiles: QuantileGaussianizer | None = None

    def _net(self, n_in: int) -> Any:
        import torch

        layers: list[torch.nn.Module] = []
        width = n_in
        for h in self.settings.mlp_hidden:
            layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
            width = h
        return torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))

    def fit(self, x: NDArray[np.float64], y: NDArray[np.float64],
            sample_weight: NDArray[np.float64] | None = None) -> EpochEnsembleMLP:
        """Classes balanced to equal total weight; ``sample_weight`` (OmniFold's per-event
        weights) multiplies each event's weight before the balancing. A fifth of the events
        is the validation split that picks the best epochs."""
        import torch

        from bumpfold.ml.device import resolve_device
        from bumpfold.ml.training import LoopSettings, train_best_epochs

        s = self.settings
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        device = resolve_device(s.device)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        signal = y == 1
        if not (w[signal].sum() > 0 and w[~signal].sum() > 0):
            raise BumpfoldInputError("classifier: each class needs a positive total weight "
                                     f"(class 1: {w[signal].sum():g}, class 0: {w[~signal].sum():g})")
        w = np.where(signal, w * len(y) / (2 * w[signal].sum()), w * len(y) / (2 * w[~signal].sum()))
        self.mean, self.std = x.mean(axis=0), np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        self.quantiles = QuantileGaussianizer().fit(x) if s.mlp_inputs == "quantile" else None
        # all tensors on the training device once: no copy per batch
        xt = torch.as_tensor(self._inputs(x), dtype=torch.float32, device=device)
        yt = torch.as_tensor(y, dtype=torch.float32, device=device)
        weight = torch.as_tensor(w, dtype=torch.float32, device=device)
        order = rng.permutation(len(x))
        val = torch.as_tensor(order[: len(x) // 5], device=device)
        net = self._net(x.shape[1]).to(device)
        loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")

        def weighted_loss(idx: torch.Tensor) -> torch.Tensor:
            return (loss_fn(net(xt[idx]).squeeze(1), yt[idx]) * weight[idx]).mean()

        states, _ = train_best_epochs(
            net, batch_loss=weighted_loss, validation_loss=lambda: weighted_loss(val), train=order[len(x) // 5:],
            settings=LoopSettings(epochs=s.mlp_epochs, batch_size=s.mlp_batch_size,
                                  learning_rate=s.mlp_learning_rate, n_best=s.mlp_best_epochs,
                                  cuda_graphs=s.cuda_graphs),
            rng=rng, device=device, name="mlp")
        self.members = []
        for state in states:
            member = self._net(x.shape[1])
            member.load_state_dict(state)
            self.members.append(member.eval())
        return self

    def _inputs(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.quantiles is not None:
            return self.quantiles.transform(x)
        assert self.mean is not None and self.std is not None
        return (x - self.mean) / self.std

    # pickled with NumPy weights, so that bumpfold.io.safe_pickle loads it without torch code
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["members"] = [{k: v.detach().cpu().numpy() for k, v in m.state_dict().items()} for m in self.members]
        state["n_in"] = len(self.mean) if self.mean is not None else 0
        return state

    def __setstate__(self, state: dict) -> None:
        import torch

        state = dict(state)
        weights, n_in = state.pop("members"), state.pop("n_in")
        state.setdefault("quantiles", None)  # a model saved before mlp_inputs existed: standardised
        self.__dict__.update(state)
        self.members = []
        for member in weights:
            net = self._net(n_in)
            net.load_state_dict({k: torch.as_tensor(v) for k, v in member.items()})
            self.members.append(net.eval())

    def predict_proba(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        import torch

        if self.mean is None or self.std is None:
            raise BumpfoldInputError("the MLP is not trained (fit it first)")
        xt = torch.as_tensor(self._inputs(x), dtype=torch.float32)
        with torch.no_grad():
            p = np.mean([torch.sigmoid(m(xt).squeeze(1)).double().numpy() for m in self.members], axis=0)
        return np.c_[1.0 - p, p]


def make_classifier(settings: ClassifierSettings, seed: int) -> BinaryClassifier:
    """A fresh, unfitted binary classifier (``fit(x, y, sample_weight)``, ``predict_proba``)."""
    if settings.kind == "mlp":
        return EpochEnsembleMLP(settings, seed)
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=settings.max_iter, learning_rate=settings.learning_rate, max_leaf_nodes=settings.max_leaf_nodes,
        min_samples_leaf=settings.min_samples_leaf, l2_regularization=settings.l2_regularization,
        early_stopping=settings.early_stopping,
        validation_fraction=settings.validation_fraction if settings.early_stopping else None,
        n_iter_no_change=settings.n_iter_no_change,
        class_weight="balanced" if settings.balance_classes else None, random_state=seed)


class Ensemble:
    """Classifiers of one settings trained with different seeds; ``predict_proba`` averages
    them. ``save``/``load`` write and read a pickle that bumpfold.io.safe_pickle vets."""

    def __init__(self, settings: ClassifierSettings, seeds: Sequence[int]) -> None:
        if not seeds:
            raise BumpfoldInputError("an ensemble needs at least one seed")
        self.settings = settings
        self.seeds = [int(seed) for seed in seeds]
        self.members: list[BinaryClassifier] = []

    def fit(self, x: NDArray[np.float64], y: NDArray[np.float64],
            sample_weight: NDArray[np.float64] | None = None) -> Ensemble:
        self.members = []
        for seed in self.seeds:
            model = make_classifier(self.settings, seed)
            if sample_weight is None:
                model.fit(x, y)
            else:
                model.fit(x, y, sample_weight=sample_weight)
            self.members.append(model)
        return self

    def predict_proba(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        if not self.members:
            raise BumpfoldInputError("the ensemble is not trained (fit it first)")
        p = np.mean([m.predict_proba(x)[:, 1] for m in self.members], axis=0) if len(x) else np.empty(0)
        return np.c_[1.0 - p, p]

    def score(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """The class-1 probability of each event."""
        return self.predict_proba(x)[:, 1]

    def save(self, path: str | Path) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            pickle.dump(self, f)

    @classmethod
    def load(cls, path: str | Path) -> Ensemble:
        ensemble = safe_pickle.load(path, what="a classifier ensemble")
        if not isinstance(ensemble, cls):
            raise BumpfoldInputError(f"{path}: holds a {type(ensemble).__name__}, not a classifier ensemble")
        return ensemble


@dataclass
class FoldScores:
    data: NDArray[np.float64]  # out-of-fold score of every data event
    reference: NDArray[np.float64]  # out-of-fold score of every reference event
    others: list[NDArray[np.float64]]  # mean score of all fold classifiers, per extra set
    models: list[EventScorer] | None = None  # the fitted model of each fold


@dataclass
class FoldResult:
    """What the classifier of one fold gives: one workflow job each."""

    fold: int
    model: EventScorer  # the fitted ensemble (or autoencoder)
    data: NDArray[np.float64]  # scores of this fold's data events (in their order)
    reference: NDArray[np.float64]  # scores of this fold's reference events
    others: list[NDArray[np.float64]]  # scores of every event of each extra set


def fold_model_scores(models: Sequence[EventScorer], x: NDArray[np.float64],
                      folds: NDArray[np.int64]) -> NDArray[np.float64]:
    """Score each event with the model of one fold (its entry in ``folds``), so that events
    the models never saw get scores distributed like out-of-fold scores; the mean of all
    folds would be narrower and would shift a fixed score threshold."""
    if len(x) != len(folds):
        raise BumpfoldInputError(f"{len(x)} events but {len(folds)} fold labels")
    scores = np.zeros(len(x))
    for fold, model in enumerate(models):
        rows = folds == fold
        if rows.any():
            scores[rows] = model.score(x[rows])
    return scores


def check_folds(data: NDArray[np.float64], reference: NDArray[np.float64], data_folds: NDArray[np.int64],
                reference_folds: NDArray[np.int64], k: int) -> None:
    """Both classes finite, one fold label per event, at least 5 events in every fold."""
    for name, arr, folds in (("data", data, data_folds), ("reference", reference, reference_folds)):
        if len(arr) != len(folds):
            raise BumpfoldInputError(f"{name}: {len(arr)} events but {len(folds)} fold labels")
        if not np.isfinite(arr).all():
            raise BumpfoldInputError(f"{name} features contain NaN/inf")
        counts = np.bincount(folds, minlength=k)
        if counts.min() < 5:
            raise BumpfoldInputError(f"{name}: too few events to train ({len(arr)} in {k} folds)")


def train_fold(data: NDArray[np.float64], reference: NDArray[np.float64], *, data_folds: NDArray[np.int64],
               reference_folds: NDArray[np.int64], fold: int, settings: KFoldSettings,
               score_also: tuple[NDArray[np.float64], ...] = ()) -> FoldResult:
    """Train the ensemble of fold ``fold`` on the other folds (data label 1, reference 0);
    score the fold's own events and every event of ``score_also``."""
    k = settings.n_folds
    if not 0 <= fold < k:
        raise BumpfoldInputError(f"fold {fold}: must be in 0..{k - 1} (search.n_folds = {k})")
    check_folds(data, reference, data_folds, reference_folds, k)
    x = np.concatenate([data[data_folds != fold], reference[reference_folds != fold]])
    y = np.r_[np.ones(int((data_folds != fold).sum())), np.zeros(int((reference_folds != fold).sum()))]
    seeds = [int(np.random.SeedSequence([settings.seed, fold, member]).generate_state(1)[0])
             for member in range(settings.n_ensemble)]
    model = Ensemble(settings.classifier, seeds).fit(x, y)
    log.info("classifier fold %d/%d trained (%d data, %d reference)", fold + 1, k, int(y.sum()), int(len(y) - y.sum()))
    return FoldResult(fold=fold, model=model, data=model.score(data[data_folds == fold]),
                      reference=model.score(reference[reference_folds == fold]),
                      others=[model.score(extra) for extra in score_also])


def combine_folds(results: list[FoldResult], *, data_folds: NDArray[np.int64],
                  reference_folds: NDArray[np.int64]) -> FoldScores:
    """Out-of-fold scores of every data and reference event from the k fold results; extra
    sets get the mean over the folds."""
    k = int(np.concatenate([data_folds, reference_folds]).max()) + 1  # a method may have no reference
    if sorted(r.fold for r in results) != list(range(k)):
        raise BumpfoldInputError(f"fold results {sorted(r.fold for r in results)} do not cover the {k} folds "
                                 "of the data once each")
    results = sorted(results, key=lambda r: r.fold)
    for r in results:
        if (len(r.data), len(r.reference)) != ((data_folds == r.fold).sum(), (reference_folds == r.fold).sum()):
            raise BumpfoldInputError(f"fold {r.fold}: scores of {len(r.data)} data and {len(r.reference)} reference "
                                     "events do not match its fold (a result from another data set?)")
    data, reference = np.zeros(len(data_folds)), np.zeros(len(reference_folds))
    for r in results:
        data[data_folds == r.fold] = r.data
        reference[reference_folds == r.fold] = r.reference
    others = [np.mean([r.others[i] for r in results], axis=0) for i in range(len(results[0].others))]
    return FoldScores(data=data, reference=reference, others=others, models=[r.model for r in results])


def kfold_scores(data: NDArray[np.float64], reference: NDArray[np.float64], *, data_folds: NDArray[np.int64],
                 reference_folds: NDArray[np.int64], settings: KFoldSettings,
                 score_also: tuple[NDArray[np.float64], ...] = ()) -> FoldScores:
    """All k folds in this process (the workflow runs them as separate jobs with
    ``train_fold`` and ``combine_folds``); see the module docstring."""
    check_folds(data, reference, data_folds, reference_folds, settings.n_folds)
    results = [train_fold(data, reference, data_folds=data_folds, reference_folds=reference_folds, fold=fold,
                          settings=settings, score_also=score_also) for fold in range(settings.n_folds)]
    return combine_folds(results, data_folds=data_folds, reference_folds=reference_folds)
