"""Bump hunt: dijet fit, F-test, pyhf model calibration, injection linearity, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyhf
import pytest

from bumpfold.bumphunt.model import WindowCounts, infer, signed_significance, workspace_spec
from bumpfold.bumphunt.pipeline import SignalSample, hunt, write_workspaces
from bumpfold.bumphunt.sculpting import Sculpting
from bumpfold.bumphunt.settings import FitSettings
from bumpfold.bumphunt.spectrum import Binning, FitError, bin_integrals, fit_background
from bumpfold.errors import BumpfoldInputError
from bumpfold.regions import Window

SQRT_S = 13000.0
BINNING = Binning(2800.0, 5500.0, 100.0)
EDGES = BINNING.edges
WINDOW = Window(3300.0, 3700.0, 2800.0, 5500.0)
IN_WINDOW = BINNING.window_mask(WINDOW.low, WINDOW.high)
# a QCD-like falling spectrum, ~25k events over 2.8-5.5 TeV (the default pseudo-data's size)
TRUE_PARAMS = np.array([0.0, 10.0, 6.0])
TRUE_PARAMS[0] = np.log(25000.0 / bin_integrals(TRUE_PARAMS, EDGES, SQRT_S).sum())
SIGNAL_SHAPE = np.exp(-0.5 * ((0.5 * (EDGES[1:] + EDGES[:-1]) - 3450.0) / 150.0) ** 2)


def _toy(rng, scale=1.0):
    return rng.poisson(scale * bin_integrals(TRUE_PARAMS, EDGES, SQRT_S)).astype(float)


def _counts(observed, signal_per_unit, fit_params=3):
    fit = fit_background(observed, EDGES, ~IN_WINDOW, sqrt_s=SQRT_S, max_params=fit_params)
    return WindowCounts("toy", observed[IN_WINDOW], fit.predict(EDGES)[IN_WINDOW],
                        [(u[IN_WINDOW], d[IN_WINDOW]) for u, d in fit.eigen_variations(EDGES)],
                        signal_per_unit[IN_WINDOW])


def test_binning_checks_window_edges():
    assert len(EDGES) == 28 and IN_WINDOW.sum() == 4
    with pytest.raises(BumpfoldInputError, match="edge 3350 GeV is not a bin edge"):
        BINNING.window_mask(3350.0, 3700.0)
    with pytest.raises(BumpfoldInputError, match="bin_width 70"):
        Binning(2800.0, 5500.0, 70.0)


def test_fit_recovers_the_true_spectrum_and_ftest_rejects_extra_parameters():
    rng = np.random.default_rng(1)
    truth = bin_integrals(TRUE_PARAMS, EDGES, SQRT_S)
    chosen, pulls = [], []
    for _ in range(5):
        observed = _toy(rng)
        fit = fit_background(observed, EDGES, ~IN_WINDOW, sqrt_s=SQRT_S)
        chosen.append(fit.n_params)
        assert fit.deviance / fit.ndf < 2.0
        pred, err = fit.predict(EDGES), np.sqrt(np.diag(_prediction_cov(fit)))
        pulls.append((pred[IN_WINDOW].sum() - truth[IN_WINDOW].sum()) / err.sum())
    # the truth has 3 parameters: the F-test takes 3 (or 4 on an upward fluctuation)
    assert all(n in (3, 4) for n in chosen), chosen
    # the interpolation into the blinded window is unbiased within its uncertainty
    assert abs(np.mean(pulls)) < 1.5


def _prediction_cov(fit):
    ups = [u for u, _ in fit.eigen_variations(EDGES)]
    nominal = fit.predict(EDGES)
    return sum(np.outer(u - nominal, u - nominal) for u in ups)


def test_fit_errors_are_clear():
    with pytest.raises(FitError, match="no selected events outside the signal window"):
        fit_background(np.zeros(len(EDGES) - 1), EDGES, ~IN_WINDOW, sqrt_s=SQRT_S)
    few = np.zeros(len(EDGES) - 1)
    few[[0, 2, 6, 9]] = [2, 1, 3, 1]  # 4 outside the window, 3 inside
    with pytest.raises(FitError, match="4 selected events outside the signal window, too few"):
        fit_background(few, EDGES, ~IN_WINDOW, sqrt_s=SQRT_S)
    bad = _toy(np.random.default_rng(2))
    bad[3] = np.nan
    with pytest.raises(BumpfoldInputError, match="bin counts must be finite"):
        fit_background(bad, EDGES, ~IN_WINDOW, sqrt_s=SQRT_S)


def test_background_only_significance_is_standard_normal():
    """Pseudo-experiments of the fit + pyhf stage: Z ~ N(0, 1), and nothing above 3 sigma
    that N(0, 1) would not give."""
    rng = np.random.default_rng(3)
    z = []
    for _ in range(40):
        c = _counts(_toy(rng), SIGNAL_SHAPE)
        z.append(signed_significance(workspace_spec(c), c)[1])
    z = np.array(z)
    assert abs(z.mean()) < 0.35 and abs(z.std() - 1.0) < 0.3, (z.mean(), z.std())
    assert (np.abs(z) > 3.5).sum() == 0


def test_fitted_signal_tracks_the_injected_signal():
    rng = np.random.default_rng(4)
    injected = np.array([0.0, 150.0, 300.0, 600.0])
    fitted = []
    unit = SIGNAL_SHAPE / SIGNAL_SHAPE.sum()
    for n in injected:
        observed = _toy(rng) + rng.poisson(n * unit)
        c = _counts(observed, unit)
        mu_hat, _ = signed_significance(workspace_spec(c), c)
        fitted.append(mu_hat * unit[IN_WINDOW].sum())
    slope = np.polyfit(injected * unit[IN_WINDOW].sum(), fitted, 1)[0]
    assert abs(slope - 1.0) < 0.2, (slope, fitted)


def test_limits_have_ordered_bands_and_workspace_reloads(tmp_path):
    rng = np.random.default_rng(5)
    c = _counts(_toy(rng), SIGNAL_SHAPE * 0.5)
    spec, result = infer(c)
    exp = result.limit_exp
    assert exp == sorted(exp) and exp[0] > 0
    # asymptotic expectation for a counting-like model: median ~ 1.96 sigma_mu, with sigma_mu
    # at least the statistical sqrt(B)/S of the most sensitive combination
    stat_only = 1.0 / np.sqrt(np.sum(c.signal**2 / c.background))
    assert 1.5 * stat_only < exp[2] < 4.0 * stat_only
    write_workspaces({"eff0.01_model": spec}, tmp_path / "ws")
    ws = pyhf.Workspace(json.loads((tmp_path / "ws" / "eff0.01_model.json").read_text()))
    assert ws.model().config.poi_name == "mu"


def test_empty_signal_template_is_an_error():
    c = _counts(_toy(np.random.default_rng(6)), np.zeros(len(EDGES) - 1))
    with pytest.raises(BumpfoldInputError, match="signal template has no events in the window"):
        workspace_spec(c)


def test_hunt_flags_failures_instead_of_numbers():
    """An efficiency that selects nothing, and a model with no MC in the window, are
    reported with their reason; the good combination still gets numbers."""
    rng = np.random.default_rng(7)
    mjj = np.concatenate([rng.uniform(lo, hi, n) for lo, hi, n in zip(EDGES[:-1], EDGES[1:], _toy(rng).astype(int))])
    data = pd.DataFrame({"mjj": mjj, "is_signal": np.zeros(len(mjj), dtype=int), "score": rng.random(len(mjj))})
    on_peak = SignalSample("on_peak", pd.DataFrame({"mjj": rng.normal(3450, 120, 2000)}), 4000.0)
    far = SignalSample("far", pd.DataFrame({"mjj": rng.normal(5000, 50, 2000)}), 4000.0)
    signals = {"on_peak": (on_peak, rng.random(2000)), "far": (far, rng.random(2000))}
    rows, specs, _ = hunt(data, {"0.5": 0.5, "1e-9": 2.0}, signals, window=WINDOW, binning=BINNING, lumi_fb=10.0,
                          fit=FitSettings(2, 3, 0.05), sqrt_s=SQRT_S, cl=0.95,
                          min_signal_mc=20, label="toy")
    status = {(r["efficiency"], r["signal_model"]): r["status"] for r in rows}
    assert status[("0.5", "on_peak")] == "ok"
    assert "signal MC events of far in the window, selected or not" in status[("0.5", "far")]
    assert "no selected events outside the signal window" in status[("1e-9", "on_peak")]
    ok = next(r for r in rows if r["status"] == "ok")
    assert ok["limit_obs_fb"] > 0 and "local_significance" in ok
    assert not any("limit_obs_fb" in r for r in rows if r["status"] != "ok")
    assert list(specs) == ["eff0.5_on_peak"]
    in_window = int(((mjj > WINDOW.low) & (mjj < WINDOW.high)).sum())
    assert {r["n_data_window"] for r in rows} == {in_window}  # the selection bias's denominator
    # a selection bias for this efficiency: the window's background x 1.1, and a 10 % log-normal
    rows_b, specs_b, _ = hunt(data, {"0.5": 0.5}, {"on_peak": signals["on_peak"]}, window=WINDOW, binning=BINNING,
                              lumi_fb=10.0, fit=FitSettings(2, 3, 0.05), sqrt_s=SQRT_S, cl=0.95, min_signal_mc=20,
                              label="toy", selection_bias={"0.5": 0.1, "0.01": 0.5})
    (modifier,) = [m for m in specs_b["eff0.5_on_peak"]["channels"][0]["samples"][1]["modifiers"]
                   if m["name"] == "selection_bias"]
    background = np.array(specs["eff0.5_on_peak"]["channels"][0]["samples"][1]["data"])
    corrected = np.array(specs_b["eff0.5_on_peak"]["channels"][0]["samples"][1]["data"])
    assert np.allclose(corrected, 1.1 * background) and modifier["data"]["hi"] == pytest.approx(np.exp(0.1))
    assert "selection_bias" in rows_b[0]["pulls"]


def test_without_a_luminosity_the_limits_are_in_events(tmp_path):
    """Observed data that declare no luminosity: the same fit and significance, limits in
    signal events in the window, the fb columns None, and the table and plot say so."""
    from bumpfold.bumphunt.summary import limits_table
    from bumpfold.plotting.bumphunt import plot_limits

    rng = np.random.default_rng(7)
    mjj = np.concatenate([rng.uniform(lo, hi, n) for lo, hi, n in zip(EDGES[:-1], EDGES[1:], _toy(rng).astype(int))])
    data = pd.DataFrame({"mjj": mjj, "is_signal": np.full(len(mjj), -1), "score": np.ones(len(mjj))})
    template = SignalSample("on_peak", pd.DataFrame({"mjj": rng.normal(3450, 120, 2000)}), 4000.0)
    kwargs = dict(window=WINDOW, binning=BINNING, fit=FitSettings(2, 3, 0.05),
                  sqrt_s=SQRT_S, cl=0.95, min_signal_mc=20, label="inclusive")
    events, _, _ = hunt(data, {"1": 1.0}, {"on_peak": (template, np.ones(2000))}, lumi_fb=None, **kwargs)
    in_fb, _, _ = hunt(data, {"1": 1.0}, {"on_peak": (template, np.ones(2000))}, lumi_fb=10.0, **kwargs)
    (row,), (ref,) = events, in_fb
    assert row["status"] == ref["status"] == "ok"
    assert row["limit_obs_fb"] is None and row["limit_exp_fb"] is None and row["signal_events_per_fb"] is None
    assert row["local_significance"] == pytest.approx(ref["local_significance"], abs=1e-3)
    assert row["limit_obs_events"] == pytest.approx(ref["limit_obs_events"], rel=0.02)
    row.update(injection=0, headline=True, resonance_mass=3500.0, signal_model="on_peak", luminosity_fb=None)
    table = limits_table([row])
    assert "limits in signal events only (fb columns n/a)" in table and "| n/a |" in table
    plot_limits([row], tmp_path / "limits.png", sqrt_s=SQRT_S, luminosity_fb=None, observed=True)
    assert (tmp_path / "limits.png").stat().st_size > 10_000 and (tmp_path / "limits.pdf").is_file()


def test_summary_plots_take_several_injections_and_masses(tmp_path):
    """The scan plots of a run with two injections and two signal models (a panel per
    injection and selection; every limit curve ordered in mass)."""
    from bumpfold.plotting.bumphunt import plot_limits, plot_significance_by_window

    rows = [{"injection": inj, "selection": sel, "efficiency": eff, "resonance_mass": mass, "status": "ok",
             "headline": True, "window_centre": mass, "local_significance": 0.5 * inj / 300,
             "limit_obs_fb": 10.0 + inj / 100, "limit_exp_fb": [5.0, 7.0, 10.0, 14.0, 19.0]}
            for inj in (0, 300) for sel, eff in (("inclusive", "1"), ("cathode", "0.01")) for mass in (3900.0, 3500.0)]
    plot_limits(rows, tmp_path / "limits.png", sqrt_s=SQRT_S, luminosity_fb=1.5, observed=False)
    plot_significance_by_window(rows, tmp_path / "significance.png", sqrt_s=SQRT_S, luminosity_fb=1.5, observed=False)
    assert (tmp_path / "limits.png").stat().st_size > 10_000 and (tmp_path / "significance.png").stat().st_size > 10_000


def test_workspace_that_fails_pyhf_validation_is_a_clear_error():
    """A background template whose bins do not match the data's: pyhf cannot build the model,
    and the message names the window."""
    c = WindowCounts("cathode, sr3300_3700, efficiency 0.01", np.array([5.0, 6.0, 4.0]), np.array([4.0, 5.0]),
                     [], np.array([1.0, 2.0, 1.0]))
    with pytest.raises(BumpfoldInputError, match=r"cathode, sr3300_3700, efficiency 0.01: the pyhf workspace fails"):
        workspace_spec(c)


def _sculpted_events(rng, scale, step):
    """Background events whose selection efficiency is 10 % outside the window and
    10 % x ``step`` inside it, like an SR-trained classifier's (score 1 = passes)."""
    counts = _toy(rng, scale).astype(int)
    mjj = np.concatenate([rng.uniform(lo, hi, n) for lo, hi, n in zip(EDGES[:-1], EDGES[1:], counts)])
    efficiency = np.where(WINDOW.in_sr(mjj), 0.10 * step, 0.10)
    return pd.DataFrame({"mjj": mjj, "is_signal": np.zeros(len(mjj), dtype=int),
                         "score": (rng.random(len(mjj)) < efficiency).astype(float)})


def test_sculpting_correction_removes_a_selection_made_excess_and_keeps_a_real_one():
    """A selection that keeps 25 % more background in the window than outside: the sideband
    fit alone calls it a signal; measured on independent background simulation and
    corrected, it is gone, while an injected signal on top still stands out."""
    rng = np.random.default_rng(11)
    data, reference = _sculpted_events(rng, 3.0, 1.25), _sculpted_events(rng, 3.0, 1.25)
    template = SignalSample("on_peak", pd.DataFrame({"mjj": rng.normal(3500, 100, 4000)}), 4000.0)
    signals = {"on_peak": (template, np.ones(4000))}
    kwargs = dict(window=WINDOW, binning=BINNING, lumi_fb=1.0, fit=FitSettings(2, 4, 0.05), sqrt_s=SQRT_S, cl=0.95,
                  min_signal_mc=20, label="toy")

    def significance(events, reference=None):
        rows, specs, spectra = hunt(events, {"0.1": 0.5}, signals, reference=reference, **kwargs)
        assert rows[0]["status"] == "ok", rows[0]["status"]
        return rows[0], specs["eff0.1_on_peak"], spectra["0.1"]

    plain, plain_spec, _ = significance(data)
    corrected, spec, spectra = significance(data, reference)
    # over seeds 11-20: plain Z 3.6-6.4, corrected -1.8-1.9, with signal 4.7-8.0 (mu_hat / true 0.7-1.2)
    assert plain["local_significance"] > 3.0, plain["local_significance"]
    assert abs(corrected["local_significance"]) < 3.0, corrected["local_significance"]
    measured = corrected["sculpting"]
    assert abs(measured["ratio_window"] - 1.25) < 2.5 * measured["ratio_window_uncertainty"], measured
    assert 0.01 < measured["ratio_window_uncertainty"] < 0.06
    # the same data fit, its prediction and every eigen-variation scaled by the ratio; the
    # ratio's uncertainty as a log-normal of that relative width
    background, plain_background = spec["channels"][0]["samples"][1], plain_spec["channels"][0]["samples"][1]
    ratio = measured["ratio_window"]
    assert background["data"] == pytest.approx(ratio * np.array(plain_background["data"]))
    variations = [m for m in background["modifiers"] if m["type"] == "histosys"]
    assert len(variations) == len(plain_background["modifiers"]) > 0
    for m, plain_m in zip(variations, plain_background["modifiers"]):
        assert m["data"]["hi_data"] == pytest.approx(ratio * np.array(plain_m["data"]["hi_data"]))
    (norm,) = [m for m in background["modifiers"] if m["type"] == "normsys"]
    assert norm["data"]["hi"] == pytest.approx(np.exp(measured["ratio_window_uncertainty"] / ratio))
    assert norm["data"]["lo"] == pytest.approx(1.0 / norm["data"]["hi"])
    assert spectra["correction"][IN_WINDOW] == pytest.approx(measured["ratio_window"])
    assert (spectra["correction"][~IN_WINDOW] == 1.0).all()

    window_signal = rng.normal(3500, 100, 400)
    injected = pd.concat([data, pd.DataFrame({"mjj": window_signal, "is_signal": 1, "score": 1.0})],
                         ignore_index=True)
    found, _, _ = significance(injected, reference)
    assert found["local_significance"] > 3.0, found["local_significance"]
    assert found["mu_hat_events"] == pytest.approx(found["n_signal_true_window"], rel=0.5)


@pytest.mark.parametrize("region, message", [
    ("window", "selected background-simulation events in the window (need >= 10)"),
    ("sidebands", "background simulation: no selected events outside the signal window")])
def test_sculpting_correction_with_too_little_simulation_fails_clearly(region, message):
    """Too few selected simulated events in the window, or none outside it to fit: the
    row says so instead of carrying a number."""
    rng = np.random.default_rng(12)
    data = _sculpted_events(rng, 1.0, 1.0)
    in_window = WINDOW.in_sr(data.mjj.to_numpy())
    reference = data.assign(score=np.where(in_window if region == "window" else ~in_window, 0.0, data.score))
    reference.loc[reference.index[in_window][:5], "score"] = 1.0  # 5 in the window: still too few
    template = SignalSample("on_peak", pd.DataFrame({"mjj": rng.normal(3500, 100, 1000)}), 1000.0)
    rows, specs, _ = hunt(data, {"0.1": 0.5}, {"on_peak": (template, np.ones(1000))}, reference=reference,
                          window=WINDOW, binning=BINNING, lumi_fb=1.0,
                          fit=FitSettings(2, 3, 0.05), sqrt_s=SQRT_S,
                          cl=0.95, min_signal_mc=20, label="toy")
    assert rows[0]["status"].startswith("failed: ") and message in rows[0]["status"], rows[0]["status"]
    assert not specs and "local_significance" not in rows[0]


def test_sculpting_ratio_and_its_uncertainty():
    """Window-summed ratio; Poisson of the selected simulation and the fit's variance add."""
    s = Sculpting(selected=np.array([60.0, 40.0]), predicted=np.array([45.0, 35.0]), fit_variance=16.0)
    assert s.ratio == pytest.approx(100.0 / 80.0)
    assert s.relative_uncertainty == pytest.approx(np.sqrt(1 / 100 + 16 / 80**2))
    assert s.summary()["ratio_per_bin"] == pytest.approx([60 / 45, 40 / 35])


def test_sculpting_reference_is_background_the_classifiers_never_saw():
    """IAD and supervised trained on the ideal sample: only the test background is theirs;
    the others take ideal and test background; never data, never signal, only the range."""
    table = pd.DataFrame({"mjj": [3000.0, 3500.0, 3600.0, 3400.0, 3450.0, 9000.0, 3500.0],
                          "role": ["data", "ideal", "test", "test", "ideal", "ideal", "signal_mc"],
                          "is_signal": [0, 0, 0, 1, 0, 0, 1], "x": np.arange(7.0)})

    class Constant:
        def score(self, x):
            return 0.5 * np.ones(len(x))

    from bumpfold.search.range_scores import feature_encoder, reference_scores, single_fold_scorer

    scorer = single_fold_scorer([Constant(), Constant()], feature_encoder(["x"]))
    ideal_trained = reference_scores(table, WINDOW, scorer, "iad", seed=1)
    others = reference_scores(table, WINDOW, scorer, "cathode", seed=1)
    assert list(ideal_trained.mjj) == [3600.0]
    assert sorted(others.mjj) == [3450.0, 3500.0, 3600.0]
    assert (others.score == 0.5).all()



def test_the_reference_is_scored_only_for_the_sculpting_correction(tmp_path):
    """score_range scores the unseen background simulation (what the sculpting correction
    measures) only when the bump hunt applies the correction; data rows are the same."""
    import pickle

    from bumpfold.ml.classifier import Ensemble
    from bumpfold.ml.settings import ClassifierSettings
    from bumpfold.registry import RANGE_DATA, RANGE_REFERENCE
    from bumpfold.search.range_scores import score_range

    rng = np.random.default_rng(2)
    n = 400
    table = pd.DataFrame({"mjj": rng.uniform(2900, 5000, n), "role": rng.choice(["data", "ideal", "test"], n),
                          "is_signal": np.zeros(n, dtype=int), "x": rng.normal(size=n)})
    table.to_parquet(tmp_path / "datasets.parquet")
    model = Ensemble(ClassifierSettings(max_iter=5), seeds=[1]).fit(rng.normal(size=(50, 1)), np.r_[[0, 1] * 25])
    with open(tmp_path / "models.pkl", "wb") as f:
        pickle.dump({"method": "cathode", "window": WINDOW.name, "models": [model, model]}, f)
    in_sr = table[(table.role == "data") & WINDOW.in_sr(table.mjj.to_numpy())]
    pd.DataFrame({"set": "data", "score": np.full(len(in_sr), 0.5)}).to_parquet(tmp_path / "scores.parquet")
    kwargs = dict(datasets=tmp_path / "datasets.parquet", scores=tmp_path / "scores.parquet",
                  models=tmp_path / "models.pkl", flow=None, signal_models={}, injected_model=None, window=WINDOW,
                  selection="cathode", features=["x"], seed=3)
    both, data_only = score_range(**kwargs), score_range(**kwargs, score_reference=False)
    assert (both["sample"] == RANGE_REFERENCE).sum() > 0 and (data_only["sample"] == RANGE_REFERENCE).sum() == 0
    pd.testing.assert_frame_equal(both[both["sample"] == RANGE_DATA], data_only[data_only["sample"] == RANGE_DATA])
    # SR data keep their out-of-fold search scores; the supervised classifier never trained
    # on SR data, so they are scored by one fold, as the sidebands, references and templates
    sr = lambda table: table[(table["sample"] == RANGE_DATA) & WINDOW.in_sr(table.mjj.to_numpy())]  # noqa: E731
    assert (sr(both).score == 0.5).all()
    supervised = score_range(**{**kwargs, "selection": "supervised"})
    assert not (sr(supervised).score == 0.5).any() and sr(supervised).score.between(0, 1).all()

def test_the_statistics_room_imports_no_ml_search_or_plotting():
    """The bump hunt reads scored events: importing it pulls in none of torch, the search,
    the ML core or plotting (they would load in every bump-hunt job otherwise)."""
    import subprocess
    import sys

    code = ("import sys, bumpfold.bumphunt.pipeline, bumpfold.bumphunt.summary; "
            "print(' '.join(m for m in sys.modules if m.split('.')[0] in ('torch', 'matplotlib', 'sklearn', 'zuko') "
            "or m.startswith(('bumpfold.search', 'bumpfold.ml', 'bumpfold.plotting', 'bumpfold.generate'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


def _sculpted(rng, *, n_signal=0):
    """Falling dijet background whose score rises with m_jj (as a classifier's does when the
    jet masses scale with it): a fixed cut keeps more background at high m_jj. Signal
    events (optional) sit at 3.45 TeV with high scores."""
    mjj = np.concatenate([rng.uniform(lo, hi, n) for lo, hi, n in zip(EDGES[:-1], EDGES[1:], 4 * _toy(rng).astype(int))])
    logit = 3.0 * np.log(mjj / 3500.0) + rng.normal(0.0, 1.0, len(mjj))
    sig_m = rng.normal(3450.0, 100.0, n_signal)
    return pd.DataFrame({"mjj": np.r_[mjj, sig_m], "is_signal": np.r_[np.zeros(len(mjj), int), np.ones(n_signal, int)],
                         "score": 1.0 / (1.0 + np.exp(-np.r_[logit, rng.normal(3.0, 0.5, n_signal)]))})


def test_quantile_threshold_keeps_the_efficiency_at_every_mjj_and_ignores_the_window():
    from bumpfold.bumphunt.thresholds import FixedThreshold, efficiency_by_bin, fit_quantile_threshold

    rng = np.random.default_rng(11)
    data = _sculpted(rng, n_signal=300)
    m, s = data.mjj.to_numpy(), data.score.to_numpy()
    outside = (m < WINDOW.low) | (m > WINDOW.high)
    edges = np.array([2800.0, 3100.0, 3300.0, 3700.0, 4000.0, 4500.0, 5500.0])
    background = data.is_signal.to_numpy() == 0
    fixed = FixedThreshold(float(np.quantile(s[background], 0.9)))
    sculpted = efficiency_by_bin(m[background], (s >= fixed(m))[background], edges)
    assert sculpted[-1] > 3 * sculpted[0]  # a fixed cut keeps far more background at high m_jj
    q = fit_quantile_threshold(m[outside], s[outside], efficiency=0.1, centre=3500.0, degree=1, name="toy")
    flat = efficiency_by_bin(m[background], (s >= q(m))[background], edges)
    n = np.histogram(m[background], edges)[0]
    assert np.all(np.abs(flat - 0.1) < 4 * np.sqrt(0.1 * 0.9 / n)), flat  # the window's bin included
    # the window's signal was not fitted: it stays above the threshold there
    assert (s >= q(m))[~background].mean() > 0.9
    assert q.summary()["kind"] == "quantile_regression" and q.summary()["n_fit_events"] == outside.sum()
    with pytest.raises(BumpfoldInputError, match=r"keep 5\.0 above the efficiency-0\.001 quantile \(< 20\)"):
        fit_quantile_threshold(m[:5000], s[:5000], efficiency=0.001, centre=3500.0, degree=1, name="toy")
    with pytest.raises(BumpfoldInputError, match="efficiency 1.5 must be in"):
        fit_quantile_threshold(m, s, efficiency=1.5, centre=3500.0, degree=1, name="toy")


def test_quantile_thresholds_find_the_signal_without_sculpting_the_background():
    """The bump hunt with quantile-regression thresholds on the sculpted toy: on background
    alone the selection keeps its efficiency outside the window and sees nothing; with a
    signal in the window it sees it; a 0.1 % cut too thin to fit is a stated failure."""
    kwargs = dict(window=WINDOW, binning=BINNING, lumi_fb=10.0, sqrt_s=SQRT_S, cl=0.95, min_signal_mc=20,
                  fit=FitSettings(2, 4, 0.05), label="toy", quantile_degree=1)
    rng = np.random.default_rng(12)
    template = SignalSample("on_peak", pd.DataFrame({"mjj": rng.normal(3450, 100, 2000)}), 4000.0)
    signals = {"on_peak": (template, 1.0 / (1.0 + np.exp(-rng.normal(3.0, 0.5, 2000))))}
    cuts = {"0.1": 0.5, "0.0001": 0.5}
    background, _, _ = hunt(_sculpted(rng), cuts, signals, **kwargs)
    with_signal, _, _ = hunt(_sculpted(rng, n_signal=600), cuts, signals, **kwargs)
    for rows in (background, with_signal):
        (row,) = [r for r in rows if r["efficiency"] == "0.1"]
        assert row["status"] == "ok" and abs(row["fraction_selected_outside_window"] - 0.1) < 0.005, row
        assert "above the efficiency-0.0001 quantile" in next(r for r in rows if r["efficiency"] == "0.0001")["status"]
    from bumpfold.bumphunt.summary import limits_table

    failed = next(r for r in background if r["efficiency"] == "0.0001")
    table = limits_table([{**failed, "headline": True, "injection": 0, "resonance_mass": 3450.0, "luminosity_fb": 10.0}])
    assert "| toy | 0.0001 | n/a | failed: " in table  # a failed threshold fit is a row of the limits table
    z_background = next(r for r in background if r["efficiency"] == "0.1")["local_significance"]
    z_signal = next(r for r in with_signal if r["efficiency"] == "0.1")["local_significance"]
    assert abs(z_background) < 2.5 and z_signal > 4, (z_background, z_signal)


def test_pulls_of_the_fit_nuisances_are_reported():
    """Window data 10 % above the fit everywhere, with a fit eigenvector that allows +-10 %:
    the fit pulls that nuisance to about +1 (its N(0, 1) prior holds it slightly below), the
    signal (one bin) takes little; data equal to the fit pull nothing."""
    background = np.full(5, 1000.0)
    signal = np.array([0.0, 0.0, 1.0, 0.0, 0.0])
    variations = [(background * 1.1, background * 0.9)]
    for data, expected in ((background * 1.1, 0.97), (background, 0.0)):
        c = WindowCounts(name="pull test", data=data, background=background, variations=variations, signal=signal)
        _, result = infer(c)
        assert set(result.pulls) == {"bkg_fit_eig0"}
        assert result.pulls["bkg_fit_eig0"] == pytest.approx(expected, abs=0.05)
        assert result.as_dict(None)["pulls"] == result.pulls


def test_a_spurious_signal_term_widens_the_signal_uncertainty():
    """100 excess events in the signal's bin over 1000 background: Z ~ 100/sqrt(1000) = 3.2;
    with a spurious-signal term of 100 events the excess is as likely the fit's bias:
    Z ~ 100/sqrt(1000 + 100^2) = 0.95. In the free fit the signal takes the excess and the
    nuisance stays at its prior (pull ~0); only the background-only fit uses it."""
    background = np.full(5, 1000.0)
    signal = np.array([0.0, 0.0, 1.0, 0.0, 0.0])
    data = background + 100 * signal
    zs, pulls = {}, {}
    for s_spur in (0.0, 100.0):
        c = WindowCounts(name="spurious", data=data, background=background, variations=[], signal=signal,
                         spurious_signal=s_spur)
        spec, result = infer(c)
        zs[s_spur], pulls[s_spur] = result.local_significance, result.pulls
        assert ("spurious_signal" in pyhf.Workspace(spec).model().config.parameters) == (s_spur > 0)
    assert zs[0.0] == pytest.approx(100 / np.sqrt(1000), rel=0.1)
    assert zs[100.0] == pytest.approx(100 / np.sqrt(1000 + 100**2), rel=0.15)
    assert abs(pulls[100.0]["spurious_signal"]) < 0.1


def test_a_selection_bias_is_a_normalisation_with_its_own_size_as_uncertainty():
    """A selection that keeps 10 % more background in the window than its threshold predicts:
    1980 events over an 1800-event fit, the 180 extra flat (the bias), give a peaked signal
    template Z ~ 2.8. Corrected by 1 + b = 1.1 (in the background, as _window_counts does)
    with a 10 % log-normal, the same data give |Z| < 0.5."""
    fit = np.full(5, 360.0)
    signal = np.array([0.0, 0.2, 0.6, 0.2, 0.0])
    data = fit * 1.1
    plain = infer(WindowCounts(name="plain", data=data, background=fit, variations=[], signal=signal))[1]
    spec, corrected = infer(WindowCounts(name="bias", data=data, background=fit * 1.1, variations=[], signal=signal,
                                         selection_bias=0.1))
    assert plain.local_significance > 2.5
    assert abs(corrected.local_significance) < 0.5
    (modifier,) = [m for m in spec["channels"][0]["samples"][1]["modifiers"] if m["name"] == "selection_bias"]
    assert modifier == {"name": "selection_bias", "type": "normsys",
                        "data": {"hi": pytest.approx(np.exp(0.1)), "lo": pytest.approx(np.exp(-0.1))}}


def test_a_signal_the_selection_drops_is_tested_with_its_unselected_shape():
    """A classifier that keeps 1 % of the signal: too few selected MC events for the
    selection's efficiency, so the significance uses the signal's m_jj shape unselected, in
    events (no fb); data with an injected bump of that shape still show it."""
    rng = np.random.default_rng(11)
    mjj = np.concatenate([rng.uniform(lo, hi, n) for lo, hi, n in zip(EDGES[:-1], EDGES[1:], _toy(rng).astype(int))])
    bump = rng.normal(3450, 100, 400)
    data = pd.DataFrame({"mjj": np.r_[mjj, bump], "is_signal": np.r_[np.zeros(len(mjj)), np.ones(400)].astype(int),
                         "score": np.ones(len(mjj) + 400)})
    sample = SignalSample("on_peak", pd.DataFrame({"mjj": rng.normal(3450, 100, 1000)}), 4000.0)
    scores = np.where(rng.random(1000) < 0.01, 1.0, 0.0)  # the selection (cut 0.5) keeps ~10 of them
    rows, _, _ = hunt(data, {"0.5": 0.5}, {"on_peak": (sample, scores)}, window=WINDOW, binning=BINNING,
                      lumi_fb=10.0, fit=FitSettings(2, 3, 0.05), sqrt_s=SQRT_S, cl=0.95, min_signal_mc=20,
                      label="toy")
    (row,) = rows
    assert row["status"] == "ok" and row["template"] == "unselected shape" and row["signal_mc_window"] < 20
    assert row["limit_obs_fb"] is None and row["signal_events_per_fb"] is None and row["limit_obs_events"] > 0
    assert row["local_significance"] > 3 and row["mu_hat_events"] == pytest.approx(row["n_signal_true_window"], rel=0.4)


def test_a_second_simulation_gives_the_sculpting_correction_its_systematic():
    """Data and the nominal simulation with a 25 % step in the window, a second simulation
    (other generator settings) with 10 %: the correction stays the nominal one, and its
    uncertainty grows by their difference (~14 % relative) in quadrature, in the row and in
    the pyhf model's normsys; the corrected excess shrinks further."""
    from bumpfold.bumphunt.sculpting import with_alternative

    s = Sculpting(selected=np.array([60.0, 40.0]), predicted=np.array([45.0, 35.0]), fit_variance=16.0)
    alt = Sculpting(selected=np.array([50.0, 40.0]), predicted=np.array([45.0, 35.0]), fit_variance=16.0)
    both = with_alternative(s, alt)
    assert both.ratio == s.ratio and both.systematic_uncertainty == pytest.approx(abs(90 / 100 - 1))
    assert both.relative_uncertainty == pytest.approx(np.hypot(s.relative_uncertainty, 0.1))
    assert both.summary()["ratio_window_alternative"] == pytest.approx(90 / 80)

    rng = np.random.default_rng(11)
    data, reference = _sculpted_events(rng, 3.0, 1.25), _sculpted_events(rng, 3.0, 1.25)
    alternative = _sculpted_events(rng, 3.0, 1.10)
    template = SignalSample("on_peak", pd.DataFrame({"mjj": rng.normal(3500, 100, 4000)}), 4000.0)
    kwargs = dict(window=WINDOW, binning=BINNING, lumi_fb=1.0, fit=FitSettings(2, 4, 0.05), sqrt_s=SQRT_S, cl=0.95,
                  min_signal_mc=20, label="toy", reference=reference)
    signals = {"on_peak": (template, np.ones(4000))}
    (nominal,), _, _ = hunt(data, {"0.1": 0.5}, signals, **kwargs)
    (with_syst,), specs, _ = hunt(data, {"0.1": 0.5}, signals, alternative=alternative, **kwargs)
    a, b = nominal["sculpting"], with_syst["sculpting"]
    assert b["ratio_window"] == pytest.approx(a["ratio_window"])
    # each ratio within 3 sigma of its step (statistics and the fit); the two told apart
    assert abs(b["ratio_window_alternative"] - 1.10) < 3 * b["ratio_window_alternative_statistical"]
    assert b["ratio_window_alternative"] < b["ratio_window"] - 0.05
    assert b["ratio_window_systematic"] == pytest.approx(
        abs(b["ratio_window_alternative"] - b["ratio_window"]), rel=1e-9)
    assert b["ratio_window_uncertainty"] == pytest.approx(np.hypot(a["ratio_window_uncertainty"],
                                                                   b["ratio_window_systematic"]), rel=1e-9)
    normsys = next(m for m in specs["eff0.1_on_peak"]["channels"][0]["samples"][1]["modifiers"]
                   if m["name"] == "sculpting_correction")
    assert normsys["data"]["hi"] == pytest.approx(np.exp(b["ratio_window_uncertainty"] / b["ratio_window"]))
    assert abs(with_syst["local_significance"]) <= abs(nominal["local_significance"]) + 0.05


def test_mu_hat_and_z_at_high_statistics():
    """27k background events in the window and a 150-event excess of the signal's shape
    (template: one event): scipy's optimiser started at mu = 1 stopped there (mu_hat 1.0,
    Z 0.05); started at the linearised estimate it finds mu_hat = 150 and Z = 150 / sigma."""
    background = np.array([9000.0, 7500.0, 6000.0, 4500.0])
    signal = np.array([0.1, 0.45, 0.35, 0.1])
    data = background + 150 * signal
    _, result = infer(WindowCounts(name="high statistics", data=data, background=background, variations=[],
                                   signal=signal))
    sigma = 1 / np.sqrt(np.sum(signal**2 / background))
    assert result.mu_hat == pytest.approx(150, rel=0.02)
    assert result.local_significance == pytest.approx(150 / sigma, rel=0.05)


def test_signal_systematics_weaken_the_limit_by_their_size():
    """1000 background events per bin, no excess, a signal template of 10 events per fb in one
    bin: the expected limit is about 1.96 sqrt(1000) / 10 = 6.2 fb. A detector variation that
    moves the signal's yield by +-20 % (histosys) and a 50 % luminosity uncertainty (normsys)
    each raise the observed and expected limits; a +-0 % variation leaves them as they were."""
    background = np.full(5, 1000.0)
    signal = np.array([0.0, 0.0, 10.0, 0.0, 0.0])

    def limits(**extra):
        c = WindowCounts(name="signal systematics", data=background.copy(), background=background, variations=[],
                         signal=signal, **extra)
        spec, result = infer(c)
        return spec, result.limit_obs, result.limit_exp[2]

    _, obs, exp = limits()
    assert exp == pytest.approx(1.96 * np.sqrt(1000) / 10, rel=0.1)
    spec, obs_jes, exp_jes = limits(signal_variations=[("jes", 1.2 * signal, 0.8 * signal)])
    parameters = pyhf.Workspace(spec).model().config.parameters
    assert "signal_jes" in parameters and "luminosity" not in parameters
    assert obs_jes > obs * 1.05 and exp_jes > exp * 1.05  # measured: 7.11 against 6.40 fb
    _, obs_lumi, _ = limits(signal_norm_uncertainty=0.5)
    assert obs_lumi > obs * 1.2  # measured: 9.34 fb
    _, obs_none, _ = limits(signal_variations=[("flat", signal, signal)])
    assert obs_none == pytest.approx(obs, rel=1e-3)


def test_limits_of_several_topologies_are_a_curve_each(tmp_path):
    """Signal models of two families (topology and daughter masses) at the same resonance
    masses: one curve per family, not one zig-zag through all of them."""
    import matplotlib.pyplot as plt

    from bumpfold.bumphunt.summary import scenario_family
    from bumpfold.plotting import bumphunt as plots

    families = {"qq": {"topology": "qq", "m_x": 500.0, "m_y": 100.0}, "tb": {"topology": "tb", "m_x": 175.0}}
    rows = [{"injection": 0, "selection": "cathode", "efficiency": "0.1", "resonance_mass": mass, "status": "ok",
             "headline": True, "family": scenario_family(info), "limit_obs_fb": scale * mass / 1000,
             "limit_exp_fb": [scale * mass / 1000 * f for f in (0.5, 0.7, 1.0, 1.4, 1.9)]}
            for scale, info in zip((1.0, 3.0), families.values()) for mass in (3500.0, 3900.0, 4300.0)]
    assert scenario_family(families["tb"]) == "tb (m_X 175 GeV)"
    drawn = []
    original = plt.Axes.plot
    plt.Axes.plot = lambda ax, *a, **k: drawn.append((list(a[0]), k.get("label"))) or original(ax, *a, **k)
    try:
        plots.plot_limits(rows, tmp_path / "limits.png", sqrt_s=SQRT_S, luminosity_fb=1.5, observed=False)
    finally:
        plt.Axes.plot = original
    observed = [x for x, label in drawn if label is not None]
    assert observed == [[3500.0, 3900.0, 4300.0]] * 2  # one observed curve per family, ordered in mass
    assert (tmp_path / "limits.png").stat().st_size > 10_000


def test_cached_cls_scan_equals_pyhf_hypotest():
    """The scan reuses the fits that do not depend on mu; every CLs value must still be
    pyhf's own, observed and expected, in a window with fit nuisances and an excess."""
    from bumpfold.bumphunt.model import asymptotic_calculator, cls_scan

    rng = np.random.default_rng(11)
    c = _counts(_toy(rng) + rng.poisson(40 * SIGNAL_SHAPE / SIGNAL_SHAPE.sum()), SIGNAL_SHAPE * 0.5)
    ws = pyhf.Workspace(workspace_spec(c))
    model, data = ws.model(), ws.data(ws.model())
    bounds = model.config.suggested_bounds()
    bounds[model.config.poi_index] = (0.0, 1000.0)
    init = model.config.suggested_init()
    init[model.config.poi_index] = max(init[model.config.poi_index], 0.0)
    scan = np.linspace(5.0, 300.0, 7)
    ours = cls_scan(asymptotic_calculator(data, model, init=init, bounds=bounds), scan)
    theirs = [pyhf.infer.hypotest(mu, data, model, init_pars=init, par_bounds=bounds, test_stat="qtilde",
                                  return_expected_set=True) for mu in scan]
    expected = np.array([[float(obs)] + [float(v) for v in band] for obs, band in theirs]).T
    assert ours.shape == (6, len(scan))
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-12)
    assert ours[0, 0] > 0.05 > ours[0, -1]  # the scan brackets the observed limit
