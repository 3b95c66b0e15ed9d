"""k-fold "data vs. reference" classifiers with out-of-fold scores (CATHODE/CWoLa style).

Every event of the first class ("data") is scored by classifiers that never saw it: the
data are split into k folds; for fold i a classifier is trained on the other folds' data
against the reference events of the other folds, and scores fold i. Each classifier is
an ensemble of ``n_ensemble`` seeds (scores averaged); classes are weighted to balance.
Two model families: HistGradientBoosting (strong and fast on CPU, Finke et al.
2309.13111) and a PyTorch MLP with epoch ensembling (CATHODE's choice).
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
    kind: str = "hgb"  # "hgb": scikit-learn HistGradientBoosting; "mlp": PyTorch MLP (CATHODE's)
    n_folds: int = 5
    n_ensemble: int = 5
    max_iter: int = 200  # hgb: boosting iterations
    learning_rate: float = 0.1  # hgb
    max_leaf_nodes: int = 31  # hgb
    early_stopping: bool = True  # hgb
    mlp_hidden: tuple[int, ...] = (64, 64, 64)
    mlp_epochs: int = 30
    mlp_batch_size: int = 128
    mlp_learning_rate: float = 1e-3
    mlp_best_epochs: int = 5  # predictions averaged over the epochs with the lowest validation loss
    device: str = "auto"
    seed: int = 0


MLP_KEYS = ("mlp_hidden", "mlp_epochs", "mlp_batch_size", "mlp_learning_rate", "mlp_best_epochs")


def mlp_options(section: dict) -> dict:
    """The MLP keys of a config's classifier section (search's or unfold's), as the settings
    dataclasses take them."""
    return {key: tuple(section[key]) if key == "mlp_hidden" else section[key] for key in MLP_KEYS}


class EpochEnsembleMLP:
    """A PyTorch MLP with balanced class weights; like CATHODE's classifier, its prediction
    averages the models of the ``best_epochs`` epochs with the lowest validation loss.
    Inputs are standardised with the training set's mean and spread."""

    def __init__(self, settings: ClassifierSettings, seed: int) -> None:
        self.settings = settings
        self.seed = seed
        self.members: list = []
        self.mean = self.std = None

    def _net(self, n_in: int):
        import torch

        layers, width = [], n_in
        for h in self.settings.mlp_hidden:
            layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
            width = h
        return torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))

    def fit(self, x: NDArray[np.float64], y: NDArray[np.float64],
            sample_weight: NDArray[np.float64] | None = None) -> EpochEnsembleMLP:
        """Classes balanced to equal total weight; ``sample_weight`` (OmniFold's per-event
        weights) multiplies each event's weight before the balancing."""
        import copy

        import torch

        from bumpfold.ml.device import resolve_device

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
        # all tensors on the training device once: no copy per batch
        xt = torch.as_tensor((x - self.mean) / self.std, dtype=torch.float32, device=device)
        yt = torch.as_tensor(y, dtype=torch.float32, device=device)
        weight = torch.as_tensor(w, dtype=torch.float32, device=device)
        order = rng.permutation(len(x))
        val = torch.as_tensor(order[: len(x) // 5], device=device)
        train = order[len(x) // 5:]
        net = self._net(x.shape[1]).to(device)
        optimiser = torch.optim.Adam(net.parameters(), lr=s.mlp_learning_rate)
        loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")
        snapshots = []
        for epoch in range(s.mlp_epochs):
            net.train()
            perm = torch.as_tensor(train[rng.permutation(len(train))], device=device)
            for start in range(0, len(perm), s.mlp_batch_size):
                idx = perm[start:start + s.mlp_batch_size]
                loss = (loss_fn(net(xt[idx]).squeeze(1), yt[idx]) * weight[idx]).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            net.eval()
            with torch.no_grad():
                val_loss = float((loss_fn(net(xt[val]).squeeze(1), yt[val]) * weight[val]).mean())
            log.info("mlp epoch %d/%d: validation loss %.4f", epoch + 1, s.mlp_epochs, val_loss)
            snapshots = sorted(snapshots + [(val_loss, copy.deepcopy(net).cpu())], key=lambda t: t[0])
            snapshots = snapshots[: s.mlp_best_epochs]
        self.members = [m for _, m in snapshots]
        return self

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
        self.__dict__.update(state)
        self.members = []
        for member in weights:
            net = self._net(n_in)
            net.load_state_dict({k: torch.as_tensor(v) for k, v in member.items()})
            self.members.append(net.eval())

    def predict_proba(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        import torch

        xt = torch.as_tensor((x - self.mean) / self.std, dtype=torch.float32)
        with torch.no_grad():
            p = np.mean([torch.sigmoid(m(xt).squeeze(1)).double().numpy() for m in self.members], axis=0)
        return np.c_[1.0 - p, p]


def _model(settings: ClassifierSettings, seed: int):
    if settings.kind == "mlp":
        return EpochEnsembleMLP(settings, seed)
    if settings.kind != "hgb":
        raise BumpfoldInputError(f"classifier kind {settings.kind!r}: use 'hgb' or 'mlp'")
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
    models: list[list] | None = None  # the fitted ensemble members of each fold


@dataclass
class FoldResult:
    """What the classifier of one fold gives: one workflow job each."""

    fold: int
    members: list  # the fitted ensemble members
    data: NDArray[np.float64]  # scores of this fold's data events (in their order)
    reference: NDArray[np.float64]  # scores of this fold's reference events
    others: list[NDArray[np.float64]]  # scores of every event of each extra set


def fold_model_scores(models: list[list], x: NDArray[np.float64], folds: NDArray[np.int64]) -> NDArray[np.float64]:
    """Score each event with the ensemble of one fold (its entry in ``folds``), so that events
    the classifiers never saw get scores distributed like out-of-fold scores; the mean of all
    folds would be narrower and would shift a fixed score threshold."""
    if len(x) != len(folds):
        raise BumpfoldInputError(f"{len(x)} events but {len(folds)} fold labels")
    scores = np.zeros(len(x))
    for fold, members in enumerate(models):
        rows = folds == fold
        if rows.any():
            scores[rows] = _ensemble_proba(members, x[rows])
    return scores


def _ensemble_proba(members: list, x: NDArray[np.float64]) -> NDArray[np.float64]:
    if len(x) == 0:  # e.g. no labelled test set beside observed data
        return np.empty(0)
    return np.mean([m.predict_proba(x)[:, 1] for m in members], axis=0)


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
               reference_folds: NDArray[np.int64], fold: int, settings: ClassifierSettings,
               score_also: tuple[NDArray[np.float64], ...] = ()) -> FoldResult:
    """Train the ensemble of fold ``fold`` on the other folds (data label 1, reference 0);
    score the fold's own events and every event of ``score_also``."""
    k = settings.n_folds
    if not 0 <= fold < k:
        raise BumpfoldInputError(f"fold {fold}: must be in 0..{k - 1} (search.n_folds = {k})")
    check_folds(data, reference, data_folds, reference_folds, k)
    x = np.concatenate([data[data_folds != fold], reference[reference_folds != fold]])
    y = np.r_[np.ones(int((data_folds != fold).sum())), np.zeros(int((reference_folds != fold).sum()))]
    members = []
    for member in range(settings.n_ensemble):
        seed = int(np.random.SeedSequence([settings.seed, fold, member]).generate_state(1)[0])
        members.append(_model(settings, seed=seed).fit(x, y))
    log.info("classifier fold %d/%d trained (%d data, %d reference)", fold + 1, k, int(y.sum()), int(len(y) - y.sum()))
    return FoldResult(fold=fold, members=members, data=_ensemble_proba(members, data[data_folds == fold]),
                      reference=_ensemble_proba(members, reference[reference_folds == fold]),
                      others=[_ensemble_proba(members, extra) for extra in score_also])


def combine_folds(results: list[FoldResult], *, data_folds: NDArray[np.int64],
                  reference_folds: NDArray[np.int64]) -> FoldScores:
    """Out-of-fold scores of every data and reference event from the k fold results; extra
    sets get the mean over the folds."""
    k = int(max(data_folds.max(), reference_folds.max())) + 1
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
    return FoldScores(data=data, reference=reference, others=others, models=[r.members for r in results])


def kfold_scores(data: NDArray[np.float64], reference: NDArray[np.float64], *, data_folds: NDArray[np.int64],
                 reference_folds: NDArray[np.int64], settings: ClassifierSettings,
                 score_also: tuple[NDArray[np.float64], ...] = ()) -> FoldScores:
    """All k folds in this process (the workflow runs them as separate jobs with
    ``train_fold`` and ``combine_folds``); see the module docstring."""
    check_folds(data, reference, data_folds, reference_folds, settings.n_folds)
    results = [train_fold(data, reference, data_folds=data_folds, reference_folds=reference_folds, fold=fold,
                          settings=settings, score_also=score_also) for fold in range(settings.n_folds)]
    return combine_folds(results, data_folds=data_folds, reference_folds=reference_folds)
