"""ML core: invertible preprocessing, the conditional flow, k-fold classifiers."""

from __future__ import annotations

import pickle
from dataclasses import replace

import numpy as np
import pytest

from bumpfold.errors import BumpfoldInputError
from bumpfold.ml.classifier import Ensemble, fold_model_scores, kfold_scores, make_classifier
from bumpfold.ml.flow import ConditionalFlow, FlowSettings
from bumpfold.ml.preprocessing import LogitScaler, QuantileGaussianizer
from bumpfold.ml.settings import ClassifierSettings, KFoldSettings
from bumpfold.regions import assign_folds
from bumpfold.search.metrics import performance


def test_logit_scaler_round_trip_and_jacobian():
    rng = np.random.default_rng(0)
    x = np.c_[rng.uniform(10, 500, 1000), rng.uniform(0, 1, 1000)]
    scaler = LogitScaler().fit(x)
    assert np.allclose(scaler.inverse(scaler.transform(x)), x, rtol=1e-9)
    eps = 1e-6  # numerical derivative of the (diagonal) map
    for j in range(2):
        dx = np.zeros_like(x)
        dx[:, j] = eps
        num = (scaler.transform(x + dx)[:, j] - scaler.transform(x - dx)[:, j]) / (2 * eps)
        assert np.all(num > 0)
    numeric = sum(np.log((scaler.transform(x + np.eye(2)[j] * eps)[:, j] - scaler.transform(x - np.eye(2)[j] * eps)[:, j])
                         / (2 * eps)) for j in range(2))
    assert np.allclose(scaler.log_abs_det_jacobian(x), numeric, atol=1e-4)


def test_quantile_inputs_are_normal_keep_ties_together_and_ignore_monotone_maps():
    """The MLP's rank-Gaussianised inputs: ~N(0, 1) per feature whatever its shape, a point
    mass (tau21 = 0 of one-particle jets) kept at one value in its quantile range's middle,
    values beyond the training range at the ends, and nearly the same output for a feature
    passed through a monotone map (as boosted trees see it; equal at the quantiles,
    interpolated linearly between them)."""
    from scipy.stats import norm

    rng = np.random.default_rng(2)
    n = 50_000
    x = np.c_[rng.lognormal(5.0, 1.0, n), np.where(rng.random(n) < 0.1, 0.0, rng.uniform(0.2, 1.0, n))]
    z = QuantileGaussianizer().fit(x).transform(x)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=0.02)
    assert abs(z[:, 0].std() - 1.0) < 0.02
    ties = np.unique(z[x[:, 1] == 0.0, 1])
    assert len(ties) == 1 and ties[0] == pytest.approx(norm.ppf(np.mean(x[:, 1] == 0.0) / 2), abs=0.01)
    edges = QuantileGaussianizer().fit(x).transform(np.array([[-1.0, -5.0], [1e9, 5.0]]))
    assert np.all(edges[0] < -5.1) and np.all(edges[1] > 5.1) and np.isfinite(edges).all()
    monotone = np.c_[np.log(x[:, 0]), x[:, 1] ** 3]
    shift = np.abs(QuantileGaussianizer().fit(monotone).transform(monotone) - z)
    assert np.median(shift) < 1e-3 and shift.max() < 0.2
    with pytest.raises(BumpfoldInputError, match="finite features"):
        QuantileGaussianizer().fit(np.array([[np.nan, 1.0]]))


def test_mlp_on_quantile_inputs_learns_through_a_heavy_tail_and_round_trips(tmp_path):
    """A feature with a few huge values: the MLP on quantile inputs separates the classes as
    well as on a well-behaved copy of the feature, and reloads to the same scores."""
    from bumpfold.io import safe_pickle

    rng = np.random.default_rng(5)
    n = 4000
    y = (rng.random(n) < 0.5).astype(float)
    x = rng.normal(size=(n, 2)) + 0.8 * y[:, None]
    heavy = x.copy()
    heavy[:20, 0] = 1e6  # outliers that blow up a feature's spread
    settings = ClassifierSettings(kind="mlp", mlp_hidden=(16, 16), mlp_epochs=6, mlp_best_epochs=2,
                                  mlp_inputs="quantile", device="cpu")
    clean = make_classifier(settings, seed=1).fit(x, y)
    model = make_classifier(settings, seed=1).fit(heavy, y)
    standard = make_classifier(replace(settings, mlp_inputs="standard"), seed=1).fit(heavy, y)
    test_y = (rng.random(4000) < 0.5).astype(float)
    test = rng.normal(size=(4000, 2)) + 0.8 * test_y[:, None]
    aucs = [performance(m.predict_proba(test)[:, 1], test_y).auc for m in (clean, model, standard)]
    # the best possible AUC here is Phi(0.8) = 0.79; standardised, the outliers hide feature 0
    # (the AUC of feature 1 alone is Phi(0.8 / sqrt(2)) = 0.71)
    assert aucs[0] > 0.77 and aucs[1] == pytest.approx(aucs[0], abs=0.01) and aucs[2] < aucs[1] - 0.03, aucs
    with open(tmp_path / "mlp.pkl", "wb") as f:
        pickle.dump(model, f)
    assert np.array_equal(safe_pickle.load(tmp_path / "mlp.pkl", what="an MLP").predict_proba(test),
                          model.predict_proba(test))
    # a model pickled before mlp_inputs existed (no quantiles) loads as standardised
    old = standard.__getstate__()
    del old["quantiles"]
    restored = type(standard).__new__(type(standard))
    restored.__setstate__(old)
    assert np.array_equal(restored.predict_proba(test), standard.predict_proba(test))
    with pytest.raises(BumpfoldInputError, match="mlp_inputs 'ranks'"):
        ClassifierSettings(kind="mlp", mlp_inputs="ranks")


def _toy(n, seed):
    """x1 ~ N(m/1000, 0.3), x2 ~ Exp(1): a density that depends on the condition m."""
    rng = np.random.default_rng(seed)
    m = rng.uniform(2800, 5500, n)
    return np.c_[rng.normal(m / 1000, 0.3), rng.exponential(1.0, n)], m


SMALL = FlowSettings(transforms=3, hidden=(32, 32), epochs=25, batch_size=128, learning_rate=3e-3, patience=5,
                     n_best=3, seed=4, device="cpu")


@pytest.fixture(scope="module")
def toy_flow():
    x, m = _toy(4000, 1)
    return ConditionalFlow(SMALL).fit(x, m)


def test_flow_learns_the_conditional_density(toy_flow):
    m = np.full(3000, 4000.0)
    samples = toy_flow.sample(m, seed=1)
    assert samples[:, 0].mean() == pytest.approx(4.0, abs=0.06)
    assert samples[:, 0].std() == pytest.approx(0.3, abs=0.05)
    assert samples[:, 1].mean() == pytest.approx(1.0, abs=0.12)
    shifted = toy_flow.sample(np.full(3000, 3000.0), seed=1)
    assert shifted[:, 0].mean() == pytest.approx(3.0, abs=0.06)
    # learned log-density in x space is close to the truth on held-out events
    x, mm = _toy(2000, 9)
    truth = (-0.5 * ((x[:, 0] - mm / 1000) / 0.3) ** 2 - np.log(0.3 * np.sqrt(2 * np.pi))) - x[:, 1]
    # the mean log-likelihood trails the truth by the KL divergence: small, and never negative
    gap = np.mean(truth) - np.mean(toy_flow.log_prob(x, mm))
    assert -0.05 < gap < 0.25
    assert len(toy_flow.members) == 3 and toy_flow.history.val_loss


def test_flow_is_deterministic_and_round_trips(toy_flow, tmp_path):
    x, m = _toy(4000, 1)
    again = ConditionalFlow(SMALL).fit(x, m)
    assert again.history.val_loss == toy_flow.history.val_loss
    cond = np.linspace(3000, 5000, 50)
    assert np.array_equal(again.sample(cond, seed=5), toy_flow.sample(cond, seed=5))
    toy_flow.save(tmp_path / "flow.pt")
    loaded = ConditionalFlow.load(tmp_path / "flow.pt")
    assert np.allclose(loaded.log_prob(x[:100], m[:100]), toy_flow.log_prob(x[:100], m[:100]))


def test_identical_runs_write_identical_flow_files(toy_flow, tmp_path):
    """Wall times stay out of model files: the same training writes the same bytes."""
    x, m = _toy(4000, 1)
    toy_flow.save(tmp_path / "a.pt")
    ConditionalFlow(SMALL).fit(x, m).save(tmp_path / "b.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    assert toy_flow.history.epoch_seconds  # still measured, for the log and the benchmarks


class _Payload:
    """Unpickling this runs a command: what a crafted model file could do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_flow_file_runs_no_code(tmp_path):
    import torch

    marker = tmp_path / "pwned"
    torch.save({"settings": _Payload(marker)}, tmp_path / "flow.pt")
    with pytest.raises(BumpfoldInputError, match=r"flow\.pt: not a bumpfold flow file"):
        ConditionalFlow.load(tmp_path / "flow.pt")
    assert not marker.exists()
    with pytest.raises(BumpfoldInputError, match=r"missing\.pt: no such file"):
        ConditionalFlow.load(tmp_path / "missing.pt")


def test_flow_rejects_bad_input():
    x, m = _toy(100, 2)
    with pytest.raises(BumpfoldInputError, match="at least 50 events"):
        ConditionalFlow(SMALL).fit(x[:10], m[:10])
    x[3, 1] = np.nan
    with pytest.raises(BumpfoldInputError, match="NaN"):
        ConditionalFlow(SMALL).fit(x, m)
    with pytest.raises(BumpfoldInputError, match="flow kind"):
        ConditionalFlow(FlowSettings(kind="glow")).fit(*_toy(100, 3))


@pytest.mark.parametrize("kind", ["hgb", "mlp"])
def test_kfold_classifier_finds_an_anomaly_and_not_a_fake_one(kind):
    rng = np.random.default_rng(1)
    n = 3000
    data, reference = rng.normal(0, 1, (n, 3)), rng.normal(0, 1, (n, 3))
    settings = KFoldSettings(n_folds=3, n_ensemble=1,
                             classifier=ClassifierSettings(kind=kind, max_iter=50, mlp_epochs=8, device="cpu"))
    folds = dict(data_folds=assign_folds(n, 3, 1), reference_folds=assign_folds(n, 3, 2))
    labels = np.zeros(n)
    null = kfold_scores(data, reference, settings=settings, **folds)
    labels[:150] = 1
    assert performance(null.data, labels).auc == pytest.approx(0.5, abs=0.06)  # nothing to find
    data[:150] += 2.5
    test = rng.normal(0, 1, (500, 3))
    found = kfold_scores(data, reference, settings=settings, score_also=(test,), **folds)
    assert performance(found.data, labels).auc > 0.85
    assert found.others[0].shape == (500,) and np.all((found.others[0] >= 0) & (found.others[0] <= 1))
    if kind == "mlp":  # same seed, same scores
        again = kfold_scores(data, reference, settings=settings, score_also=(test,), **folds)
        assert np.array_equal(again.data, found.data)
    with pytest.raises(BumpfoldInputError, match="too few events"):
        kfold_scores(data[:6], reference, settings=settings, data_folds=assign_folds(6, 3, 1),
                     reference_folds=folds["reference_folds"])
    # the saved fold models rescore the data: fold by fold, they give the out-of-fold scores
    # back; pickled and reloaded they are the same models
    rescored = fold_model_scores(pickle.loads(pickle.dumps(found.models)), data, folds["data_folds"])
    np.testing.assert_allclose(rescored, found.data, rtol=1e-6)
    assert len(found.models) == 3 and all(len(m.members) == 1 for m in found.models)
    with pytest.raises(BumpfoldInputError, match="fold labels"):
        fold_model_scores(found.models, data, folds["data_folds"][:10])


def test_mlp_sample_weights_need_both_classes():
    from bumpfold.ml.classifier import EpochEnsembleMLP

    x = np.random.default_rng(1).normal(size=(200, 2))
    y = np.r_[np.ones(100), np.zeros(100)]
    mlp = EpochEnsembleMLP(ClassifierSettings(kind="mlp", mlp_epochs=1, device="cpu"), seed=1)
    with pytest.raises(BumpfoldInputError, match="each class needs a positive total weight"):
        mlp.fit(x, y, sample_weight=np.r_[np.ones(100), np.zeros(100)])


def test_pickled_models_load_through_the_trusted_loader_and_crafted_ones_do_not(toy_flow, tmp_path):
    """Fold classifiers (boosted trees, the MLP) and ANODE's flows round-trip through
    bumpfold.io.safe_pickle; a pickle that names os.system is refused and runs nothing."""
    from bumpfold.io import safe_pickle
    from bumpfold.ml.classifier import EpochEnsembleMLP

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(400, 3)), (rng.random(400) < 0.5).astype(float)
    x[y == 1] += 0.5
    models = {"hgb": make_classifier(ClassifierSettings(max_iter=20), seed=1).fit(x, y),
              "mlp": EpochEnsembleMLP(ClassifierSettings(kind="mlp", mlp_hidden=(8,), mlp_epochs=2,
                                                         mlp_best_epochs=2, device="cpu"), seed=1).fit(x, y)}
    with open(tmp_path / "models.pkl", "wb") as f:
        pickle.dump({"models": list(models.values()), "flow": toy_flow}, f)
    loaded = safe_pickle.load(tmp_path / "models.pkl", what="test models")
    for before, after in zip(models.values(), loaded["models"]):
        assert np.array_equal(before.predict_proba(x), after.predict_proba(x))
    xs, ms = _toy(50, 3)
    assert np.allclose(loaded["flow"].log_prob(xs, ms), toy_flow.log_prob(xs, ms))

    marker = tmp_path / "pwned"
    with open(tmp_path / "crafted.pkl", "wb") as f:
        pickle.dump({"models": [_Payload(marker)]}, f)
    with pytest.raises(BumpfoldInputError, match=r"crafted\.pkl: not loadable as test models .*refusing to load "
                                                 r"(posix|os)\.system"):
        safe_pickle.load(tmp_path / "crafted.pkl", what="test models")
    assert not marker.exists()


def test_a_flow_scores_no_events_as_no_scores(toy_flow):
    """Observed data without a labelled test set: ANODE and LaCATHODE score zero events."""
    empty = np.empty((0, 2))
    assert toy_flow.log_prob(empty, np.empty(0)).shape == (0,)
    assert toy_flow.latent(empty, np.empty(0)).shape == (0, 2)


def test_one_training_loop_keeps_the_best_epochs_of_flow_and_mlp(toy_flow):
    """Flow and MLP train through the same loop (bumpfold.ml.training): each keeps the
    epochs with the lowest validation loss, lowest first, and stops early on patience."""
    import torch

    from bumpfold.ml.training import LoopSettings, train_best_epochs

    h = toy_flow.history
    assert h.best_epochs == sorted(range(len(h.val_loss)), key=lambda e: h.val_loss[e])[:3]
    # the loop itself, on a model whose validation loss is known in advance: it rises after
    # epoch 2, so patience 2 stops at epoch 4 and the kept epochs are 2, 1, 3
    model = torch.nn.Linear(1, 1)
    val = iter([5.0, 3.0, 1.0, 2.0, 4.0, 6.0, 7.0])
    states, history = train_best_epochs(
        model, batch_loss=lambda idx: model(torch.ones(len(idx), 1)).pow(2).mean(),
        validation_loss=lambda: torch.tensor(next(val)), train=np.arange(10),
        settings=LoopSettings(epochs=7, batch_size=4, learning_rate=1e-2, n_best=3, patience=2),
        rng=np.random.default_rng(0), device="cpu", name="toy")
    assert history.val_loss == [5.0, 3.0, 1.0, 2.0, 4.0]
    assert history.best_epochs == [2, 3, 1] and len(states) == 3
    assert all(t.device.type == "cpu" for state in states for t in state.values())
    with pytest.raises(RuntimeError, match="toy training diverged at epoch 0"):
        train_best_epochs(model, batch_loss=lambda idx: model(torch.ones(len(idx), 1)).mean(),
                          validation_loss=lambda: torch.tensor(float("nan")), train=np.arange(4),
                          settings=LoopSettings(epochs=3, batch_size=4, learning_rate=1e-2, n_best=1),
                          rng=np.random.default_rng(0), device="cpu", name="toy")


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(not _has_cuda(), reason="needs a CUDA GPU (run on the lent GPU host)")
def test_captured_cuda_graph_steps_train_as_the_eager_loop():
    """On a GPU, replaying captured training steps (with an eager last, smaller batch in every
    epoch) gives the eager loop's losses up to float rounding, for the flow and the MLP."""
    rng = np.random.default_rng(3)
    m = rng.uniform(3000, 4000, 3011)  # 0.8 x 3011 training events: not a multiple of 128
    x = np.column_stack([rng.normal(m / 40, 5), rng.uniform(0, 1, len(m))])
    losses = {}
    for graphs in (True, False):
        flow = ConditionalFlow(FlowSettings(epochs=3, patience=5, n_best=1, batch_size=128, device="cuda",
                                            cuda_graphs=graphs)).fit(x, m)
        losses[graphs] = flow.history.val_loss
    assert np.allclose(losses[True], losses[False], atol=1e-3)
    y = (x[:, 1] > 0.5).astype(float)
    scores = [make_classifier(ClassifierSettings(kind="mlp", mlp_epochs=3, device="cuda", cuda_graphs=graphs),
                              seed=1).fit(x, y).predict_proba(x)[:, 1] for graphs in (True, False)]
    assert np.max(np.abs(scores[0] - scores[1])) < 0.05


@pytest.mark.parametrize("kind", ["hgb", "mlp"])
def test_an_ensemble_averages_its_seeds_and_round_trips(kind, tmp_path):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(600, 2)), (rng.random(600) < 0.5).astype(float)
    x[y == 1] += 1.0
    settings = ClassifierSettings(kind=kind, max_iter=20, mlp_hidden=(8,), mlp_epochs=3, mlp_best_epochs=2,
                                  device="cpu")
    ensemble = Ensemble(settings, seeds=[1, 2]).fit(x, y)
    singles = [make_classifier(settings, seed).fit(x, y).predict_proba(x)[:, 1] for seed in (1, 2)]
    np.testing.assert_allclose(ensemble.score(x), np.mean(singles, axis=0), rtol=1e-6)
    ensemble.save(tmp_path / "ensemble.pkl")
    assert np.array_equal(Ensemble.load(tmp_path / "ensemble.pkl").predict_proba(x), ensemble.predict_proba(x))
    with open(tmp_path / "other.pkl", "wb") as f:
        pickle.dump({"not": "an ensemble"}, f)
    with pytest.raises(BumpfoldInputError, match="other.pkl: holds a dict, not a classifier ensemble"):
        Ensemble.load(tmp_path / "other.pkl")
    with pytest.raises(BumpfoldInputError, match="not trained"):
        Ensemble(settings, seeds=[1]).predict_proba(x)


def test_search_and_unfolding_build_the_same_classifier_type_from_the_config():
    """One settings type for the search's and OmniFold's classifiers, built from the config
    by bumpfold.settings; OmniFold's leaves the class balancing to its own weights."""
    from bumpfold import settings as typed
    from bumpfold.config import validate_config

    config = validate_config({})
    folds = typed.search(config["search"]).folds_with_seed(5)
    unfold = typed.unfold(config["unfold"]).omnifold
    assert type(folds.classifier) is type(unfold.classifier) is ClassifierSettings
    assert folds.seed == 5 and folds.n_folds == config["search"]["n_folds"]
    assert folds.classifier.mlp_epochs == config["search"]["classifier"]["mlp_epochs"]
    assert folds.classifier.balance_classes and not unfold.classifier.balance_classes
    assert typed.search(config["search"]).flow_with_seed(2).hidden == tuple(config["search"]["flow"]["hidden"])
    from bumpfold.unfold.omnifold import OmniFoldSettings

    with pytest.raises(BumpfoldInputError, match="must not re-balance"):
        OmniFoldSettings(classifier=ClassifierSettings())
    with pytest.raises(BumpfoldInputError, match="classifier kind 'svm'"):
        ClassifierSettings(kind="svm")


def test_building_settings_imports_no_training_or_event_code():
    """The typed settings (and the ML core's settings types) import no torch, awkward or
    numba, nor do the search's and the bump hunt's when built, so that a job or the DAG
    planning that only needs settings stays light."""
    import subprocess
    import sys

    code = ("import sys, bumpfold.settings as typed, bumpfold.ml.settings; "
            "from bumpfold.config import validate_config; c = validate_config({}); "
            "typed.search(c['search']); typed.bumphunt(c['bumphunt'], c['search']); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'awkward', 'numba', 'sklearn'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
