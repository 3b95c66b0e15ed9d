"""The jet autoencoder (the unsupervised method): inputs, learning, jet combination,
persistence, and its k folds in the search."""

from __future__ import annotations

import pickle
from dataclasses import replace

import numpy as np
import pytest

from bumpfold.errors import BumpfoldInputError
from bumpfold.io import safe_pickle
from bumpfold.ml.autoencoder import JET_COLUMNS, JetAutoencoder, jets
from bumpfold.ml.settings import AutoencoderSettings
from bumpfold.search.methods import AutoencoderTask

FAST = AutoencoderSettings(epochs=15, n_best=3, device="cpu")


def _qcd_jets(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ln m, tau21, tau32) on a correlated band: heavier jets a little more two-pronged."""
    ln_m = rng.normal(4.3, 0.5, n)
    return ln_m, np.clip(0.7 - 0.1 * (ln_m - 4.3) + rng.normal(0, 0.05, n), 0, 1), rng.normal(0.75, 0.05, n)


def _events(light, heavy) -> np.ndarray:
    """Event rows (JET_COLUMNS) from the lighter and heavier jet's (ln m, tau21, tau32)."""
    m_low, m_high = np.exp(light[0]), np.exp(heavy[0])
    return np.column_stack([m_low, m_high - m_low, light[1], heavy[1], light[2], heavy[2]])


def _qcd_events(rng: np.random.Generator, n: int) -> np.ndarray:
    a, b = _qcd_jets(rng, n), _qcd_jets(rng, n)
    heavier = a[0] > b[0]
    light = [np.where(heavier, y, x) for x, y in zip(a, b)]
    heavy = [np.where(heavier, x, y) for x, y in zip(a, b)]
    return _events(light, heavy)


def _odd_jets(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heavy two-pronged jets off the QCD band (a 500 GeV resonance's daughter, say)."""
    return np.full(n, np.log(500.0)), np.full(n, 0.15), np.full(n, 0.45)


def test_jets_are_read_from_the_event_columns():
    x = np.array([[50.0, 450.0, 0.6, 0.2, 0.7, 0.5]])
    assert np.allclose(jets(x), [[np.log(50.0), 0.6, 0.7], [np.log(500.0), 0.2, 0.5]])
    assert np.isfinite(jets(np.array([[0.0, 10.0, 0.5, 0.5, 0.5, 0.5]]))).all()  # a massless jet: 1 GeV
    with pytest.raises(BumpfoldInputError, match="need \\(n, 6\\) with columns mj_low, delta_mj"):
        jets(np.zeros((3, 4)))
    with pytest.raises(BumpfoldInputError, match="NaN/inf"):
        jets(np.array([[50.0, np.nan, 0.6, 0.2, 0.7, 0.5]]))
    with pytest.raises(BumpfoldInputError, match="combine 'mean'"):
        AutoencoderSettings(combine="mean")


def test_the_autoencoder_flags_jets_off_the_training_band_and_combines_jets_as_asked():
    rng = np.random.default_rng(0)
    model = JetAutoencoder(FAST, seed=1).fit(_qcd_events(rng, 3000))
    qcd = _qcd_events(rng, 500)
    both_odd = _events(_odd_jets(500), _odd_jets(500))
    one_odd = _events(_qcd_jets(rng, 500), _odd_jets(500))
    s_qcd, s_both, s_one = (model.score(x) for x in (qcd, both_odd, one_odd))
    assert np.all((0 < s_qcd) & (s_qcd < 1))
    assert np.median(s_both) > np.quantile(s_qcd, 0.99)  # both jets off the band: beyond 99 % of QCD
    # min: one odd jet is not enough; max: it is
    assert np.median(s_one) < np.quantile(s_qcd, 0.9)
    model_max = JetAutoencoder(replace(FAST, combine="max"), seed=1).fit(_qcd_events(np.random.default_rng(0), 3000))
    assert np.median(model_max.score(one_odd)) > np.quantile(model_max.score(qcd), 0.99)
    # score = L / (1 + L) of the combined jet losses
    loss = model.jet_loss(qcd).min(axis=1)
    assert np.allclose(s_qcd, loss / (1 + loss))


def test_the_autoencoder_is_seeded_and_loads_through_the_trusted_loader(tmp_path):
    x = _qcd_events(np.random.default_rng(2), 1000)
    a, b = (JetAutoencoder(FAST, seed=4).fit(x) for _ in range(2))
    assert np.array_equal(a.score(x), b.score(x))
    path = tmp_path / "ae.pkl"
    path.write_bytes(pickle.dumps([a]))
    (loaded,) = safe_pickle.load(path, what="fold models")
    assert np.array_equal(loaded.score(x), a.score(x))
    with pytest.raises(BumpfoldInputError, match="not trained"):
        JetAutoencoder(FAST, seed=1).score(x)
    with pytest.raises(BumpfoldInputError, match="at least 50 events"):
        JetAutoencoder(FAST, seed=1).fit(x[:20])


def test_autoencoder_folds_score_every_sr_event_out_of_fold():
    rng = np.random.default_rng(3)
    data, test = _qcd_events(rng, 600), _qcd_events(rng, 100)
    folds = np.arange(600) % 3
    task = AutoencoderTask(data=data, data_folds=folds, test=test, settings=FAST, n_folds=3, seed=7)
    results = [task.train_fold(k) for k in range(3)]
    combined = task.combine(results)
    for r in results:  # each fold's events scored by the model trained without them
        assert np.array_equal(combined.data[folds == r.fold], r.model.score(data[folds == r.fold]))
    assert np.allclose(combined.test, np.mean([r.model.score(test) for r in results], axis=0))
    with pytest.raises(BumpfoldInputError, match="do not cover the 3 folds"):
        task.combine(results[:2])
    with pytest.raises(BumpfoldInputError, match="too few for 3 folds"):
        AutoencoderTask(data=data[:9], data_folds=folds[:9], test=test, settings=FAST, n_folds=3, seed=7)
    assert list(JET_COLUMNS) == ["mj_low", "delta_mj", "tau21_low", "tau21_high", "tau32_low", "tau32_high"]
