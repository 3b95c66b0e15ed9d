"""Regions, folds and the SIC/AUC metrics."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from bumpfold.config import validate_config
from bumpfold.errors import BumpfoldInputError
from bumpfold.regions import Window, assign_folds, windows_from_config
from bumpfold.search.metrics import performance


def test_windows_partition_the_range():
    w = Window(3300.0, 3700.0, 2800.0, 5500.0)
    mjj = np.array([2700.0, 2800.0, 3299.9, 3300.0, 3699.9, 3700.0, 5499.0, 5500.0])
    assert w.in_sr(mjj).tolist() == [False, False, False, True, True, False, False, False]
    assert w.in_sb(mjj).tolist() == [False, True, True, False, False, True, True, False]
    assert w.name == "sr3300_3700"
    assert windows_from_config(validate_config({})["regions"]) == [w]


@pytest.mark.parametrize("edges", [(2700.0, 3000.0), (5000.0, 5600.0), (3700.0, 3300.0)])
def test_impossible_windows(edges):
    with pytest.raises(BumpfoldInputError, match="must lie strictly inside"):
        Window(*edges, 2800.0, 5500.0)


def test_folds_are_balanced_seeded_and_checked():
    a, b, c = assign_folds(1003, 5, 1), assign_folds(1003, 5, 1), assign_folds(1003, 5, 2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.bincount(a).max() - np.bincount(a).min() <= 1
    with pytest.raises(BumpfoldInputError):
        assign_folds(10, 1, 0)


def test_metrics_agree_with_sklearn_and_random_is_one():
    rng = np.random.default_rng(3)
    labels = np.r_[np.ones(2000), np.zeros(20000)]
    random = performance(rng.random(len(labels)), labels)
    assert random.auc == pytest.approx(0.5, abs=0.02)
    assert random.max_sic == pytest.approx(1.0, abs=0.15)  # only >= 25 background events count
    assert random.sic_at_0p2 == pytest.approx(np.sqrt(0.2), abs=0.05)
    scores = np.round(rng.normal(labels * 1.5, 1.0), 2)  # ties included
    good = performance(scores, labels)
    assert good.auc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    # analytic for a 1.5 sigma shift: cut at 1.5 + 0.84 keeps eps_S = 0.2, eps_B = 0.0096
    assert good.sic_at_0p2 == pytest.approx(0.2 / np.sqrt(0.0096), rel=0.1)
    assert good.max_sic >= good.sic_at_0p2 * 0.95


def test_max_sic_ignores_working_points_with_few_background_events():
    labels = np.r_[np.ones(100), np.zeros(1000)]
    scores = np.r_[np.full(100, 10.0), np.arange(1000.0) / 1000]  # signal perfectly separated
    perf = performance(scores, labels, min_background=25)
    assert perf.max_sic == pytest.approx(1.0 / np.sqrt(25 / 1000))  # best allowed: keep 25 background
    with pytest.raises(BumpfoldInputError, match="both signal and background"):
        performance(np.ones(5), np.ones(5))
    with pytest.raises(BumpfoldInputError, match="NaN"):
        performance(np.array([np.nan, 1.0]), np.array([0, 1]))


def test_mjj_samples_follow_the_sr_data_up_to_the_window_edges():
    """Issue 18: a KDE in m_jj cut to the window left samples/data at 0.62 in the first and
    last 5 GeV of the SR; in logit space the edges are populated like the data."""
    from bumpfold.search.sampling import sample_mjj

    w = Window(3300.0, 3700.0, 2800.0, 5500.0)
    rng = np.random.default_rng(4)
    data = 3300.0 - 600.0 * np.log(1 - rng.random(40000) * (1 - np.exp(-400.0 / 600.0)))  # falling, cut at 3700
    samples = sample_mjj(data, 160000, w, seed=9)
    assert w.in_sr(samples).all()
    assert np.array_equal(samples, sample_mjj(data, 160000, w, seed=9))
    for lo, hi in ((3300.0, 3305.0), (3695.0, 3700.0), (3300.0, 3500.0)):
        ratio = np.mean((samples >= lo) & (samples < hi)) / np.mean((data >= lo) & (data < hi))
        assert ratio == pytest.approx(1.0, abs=0.12), (lo, hi, ratio)
