"""ML core: invertible preprocessing, the conditional flow, k-fold classifiers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from bumpfold.errors import BumpfoldInputError
from bumpfold.ml.classifier import ClassifierSettings, fold_model_scores, kfold_scores
from bumpfold.ml.flow import ConditionalFlow, FlowSettings
from bumpfold.ml.preprocessing import LogitScaler
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
    settings = ClassifierSettings(kind=kind, n_folds=3, n_ensemble=1, max_iter=50, mlp_epochs=8, device="cpu")
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
    assert len(found.models) == 3 and all(len(m) == 1 for m in found.models)
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
    from bumpfold.ml.classifier import EpochEnsembleMLP, _model

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(400, 3)), (rng.random(400) < 0.5).astype(float)
    x[y == 1] += 0.5
    models = {"hgb": _model(ClassifierSettings(max_iter=20), seed=1).fit(x, y),
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
