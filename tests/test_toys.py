"""Whole-chain pseudo-experiments: run names, disjoint toy data, the calibration summary
(local-Z moments, trials factor, linearity) and the config checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bumpfold.bumphunt.toys import bonferroni, effective_tests, line_fit, summarize_toys, toys_table
from bumpfold.config import validate_config
from bumpfold.errors import BumpfoldInputError
from bumpfold.runs import Run, parse_run, toy_runs
from bumpfold.search.datasets import build_toy_datasets, toy_slice


def test_run_labels_round_trip_and_bad_labels_are_refused():
    for run in (Run(200), Run(0, 7), Run(150, 0), Run(300, signal="wprime_tb_3500")):
        assert parse_run(run.label) == run
    assert Run(0, 7).label == "0_toy7" and Run(200).label == "200"
    assert Run(300, signal="w_1").label == "300-w_1"
    for bad in ("toy7", "0_toy", "-1", "0_toy7_x", "300-", "300-1w", "0_toy7-w"):
        with pytest.raises(BumpfoldInputError, match="run"):
            parse_run(bad)


def test_toy_runs_rerun_the_first_toys_with_each_injection():
    runs = toy_runs(4, [100, 300], 2)
    assert [r.label for r in runs] == ["0_toy0", "0_toy1", "0_toy2", "0_toy3",
                                       "100_toy0", "100_toy1", "300_toy0", "300_toy1"]
    assert toy_runs(0, [], 3) == []


def test_toy_slices_are_disjoint_equal_and_fixed_by_the_seed():
    slices = [toy_slice(1003, t, 5, seed=11) for t in range(5)]
    assert all(len(s) == 200 for s in slices)
    joined = np.concatenate(slices)
    assert len(np.unique(joined)) == len(joined) == 1000  # no event in two toys
    assert np.array_equal(toy_slice(1003, 2, 5, seed=11), slices[2])
    assert not np.array_equal(toy_slice(1003, 2, 5, seed=12), slices[2])
    with pytest.raises(BumpfoldInputError, match="n_toys is 5"):
        toy_slice(1003, 5, 5, seed=11)
    with pytest.raises(BumpfoldInputError, match="3 background events cannot fill 5 toys"):
        toy_slice(3, 0, 5, seed=11)


def _table(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({"mjj": rng.uniform(2800, 5500, n), "mj_low": rng.uniform(0, 500, n)})


def test_a_toy_is_its_slice_plus_the_injected_signal():
    rng = np.random.default_rng(1)
    background, signal = _table(1000, rng), _table(300, rng)
    common = {"n_toys": 4, "signal_test_fraction": 0.5, "partition_seed": 3}
    bare = build_toy_datasets(background, signal, toy=1, n_injected=0, seed=5, **common)
    injected = build_toy_datasets(background, signal, toy=1, n_injected=40, seed=6, **common)
    for table in (bare, injected):
        data_bkg = table[(table.role == "data") & (table.is_signal == 0)]
        assert np.array_equal(data_bkg.mjj.to_numpy(), background.mjj.to_numpy()[toy_slice(1000, 1, 4, 3)])
        assert set(table.role[table.is_signal == 0]) == {"data"}  # no background test or ideal sample
        assert ((table.role == "test") & (table.is_signal == 1)).sum() == 150
    assert ((injected.role == "data") & (injected.is_signal == 1)).sum() == 40
    assert ((bare.role == "data") & (bare.is_signal == 1)).sum() == 0
    with pytest.raises(BumpfoldInputError, match="larger than the 150 signal events available"):
        build_toy_datasets(background, signal, toy=0, n_injected=151, seed=5, **common)
    with pytest.raises(BumpfoldInputError, match="no signal simulation"):
        build_toy_datasets(background, None, toy=0, n_injected=10, seed=5, **common)


def test_the_trials_factor_of_independent_and_of_identical_tests():
    rng = np.random.default_rng(2)
    independent = rng.standard_normal((3000, 6)).max(axis=1)
    trials = effective_tests(list(independent))
    assert abs(trials.n_eff - 6) < 4 * trials.n_eff_uncertainty and abs(trials.n_eff - 6) < 0.6
    identical = rng.standard_normal(3000)  # six copies of one test: one test
    assert abs(effective_tests(list(identical)).n_eff - 1) < 0.1
    # one test: global = local; six: a 3 sigma local excess is 1 - (1 - p)^6 global
    one = effective_tests(list(identical))
    assert abs(one.global_z(3.0) - 3.0) < 0.05
    p6 = 1 - (1 - stats.norm.sf(3.0)) ** trials.n_eff
    assert trials.global_z(3.0) == pytest.approx(stats.norm.isf(p6), rel=1e-9)
    assert bonferroni(6).global_p(0.01) == pytest.approx(0.06) and bonferroni(6).global_p(0.5) == 1.0
    assert bonferroni(6).global_z(0.0) == 0.0
    with pytest.raises(BumpfoldInputError, match="at least 2"):
        effective_tests([1.0])


def test_line_fit_recovers_slope_and_intercept_with_errors():
    rng = np.random.default_rng(3)
    x = np.repeat([0.0, 100.0, 200.0, 400.0], 5)
    y = 0.4 * x + 3.0 + rng.normal(0, 5, len(x))
    fit = line_fit(list(x), list(y))
    assert fit is not None
    assert abs(fit["slope"] - 0.4) < 3 * fit["slope_error"] and abs(fit["intercept"] - 3) < 3 * fit["intercept_error"]
    assert line_fit([100.0, 100.0, 100.0], [1.0, 2.0, 3.0]) is None  # one injection: no slope


def _row(toy: int, injection: int, selection: str, eff: str, z: float | None, **extra) -> dict:
    row = {"toy": toy, "injection": injection, "window": "sr3300_3700", "selection": selection, "efficiency": eff,
           "signal_model": "wprime", "status": "ok" if z is not None else "failed: too few events",
           "n_signal_true_window": 0}
    if z is not None:
        row.update(local_significance=z, mu_hat_events=extra.pop("mu", 0.0))
    return {**row, **extra}


def test_summary_moments_failures_trials_and_linearity():
    rng = np.random.default_rng(4)
    rows = []
    for t in range(40):
        rows.append(_row(t, 0, "inclusive", "1", float(rng.standard_normal()), mu=float(rng.normal(0, 5))))
        rows.append(_row(t, 0, "cathode", "0.1", float(rng.normal(0.8, 1.0))))  # a biased selection
        rows.append(_row(t, 0, "cathode", "0.01", None if t % 4 == 0 else float(rng.standard_normal())))
    for t in range(3):
        for n in (100, 200, 400):
            kept = int(0.5 * n)
            rows.append(_row(t, n, "inclusive", "1", 2.0, mu=kept + float(rng.normal(0, 5)),
                             n_signal_true_window=kept))
    rows.append({**_row(0, 0, "inclusive", "1", 9.0), "toy": None})  # the configured data: not a toy
    summary = summarize_toys(rows, signal="wprime")
    tests = {(r["selection"], r["efficiency"]): r for r in summary["local_z"]}
    assert summary["n_toys"] == 40
    assert tests[("inclusive", "1")]["within_target"] is True
    assert tests[("cathode", "0.1")]["within_target"] is False and tests[("cathode", "0.1")]["mean"] > 0.4
    assert (tests[("cathode", "0.01")]["n"], tests[("cathode", "0.01")]["n_failed"]) == (30, 10)
    assert tests[("cathode", "0.01")]["failure_example"] == "failed: too few events"
    assert 1.5 < summary["trials"]["n_eff"] < 10  # three tests, one of them biased high
    lin = next(r for r in summary["linearity"] if r["selection"] == "inclusive")
    assert lin["injections"] == [0, 100, 200, 400]
    assert abs(lin["mu_vs_injected"]["slope"] - 0.5) < 0.05
    assert abs(lin["mu_vs_selected_in_window"]["slope"] - 1.0) < 0.1
    text = toys_table(summary)
    assert "| sr3300_3700 | cathode | 0.01 | wprime | 30 |" in text and "N_eff" in text
    assert summary["selection_bias"] == []  # these rows carry no window counts
    with pytest.raises(BumpfoldInputError, match="no bump-hunt rows of toys"):
        summarize_toys([rows[-1]], signal="wprime")


def test_the_selection_bias_is_the_pooled_excess_kept_inside_the_window():
    """Per toy one count per selection (signal models repeat it); the failed and inclusive
    rows and injected toys do not count."""
    rows = []
    for t in range(10):
        for model in ("wprime", "zprime"):  # the same selection tested with two signal models
            rows.append(_row(t, 0, "cathode", "0.1", 0.5, signal_model=model, n_selected_window=11,
                             n_data_window=100))
        rows.append(_row(t, 0, "inclusive", "1", 0.0, n_selected_window=100, n_data_window=100))
        rows.append(_row(t, 0, "cathode", "0.01", None, n_selected_window=None, n_data_window=100))
        rows.append(_row(t, 50, "cathode", "0.1", 3.0, n_selected_window=30, n_data_window=140))
    (bias,) = summarize_toys(rows, signal=None)["selection_bias"]
    assert (bias["selection"], bias["efficiency"], bias["toys"], bias["kept_in_window"]) == ("cathode", "0.1", 10, 110)
    assert bias["bias"] == pytest.approx(0.1) and bias["bias_error"] == pytest.approx(np.sqrt(110) / 100)
    assert "| sr3300_3700 | cathode | 0.1 | 10 | 110 | 100.0 | 0.100 ± 0.105 |" in toys_table(
        summarize_toys(rows, signal=None))


def _toys_config(**toys) -> dict:
    return {"toys": toys, "search": {"methods": ["cathode", "iad"]}, "bumphunt": {"methods": ["cathode"]}}


def test_toy_config_checks():
    config = validate_config(_toys_config(n_toys=3))
    assert config["toys"]["background"] == "qcd"  # search.background
    with pytest.raises(BumpfoldInputError, match="'toys.injections'.*set toys.n_toys"):
        validate_config(_toys_config(injections=[100]))
    with pytest.raises(BumpfoldInputError, match="iad need"):
        validate_config({**_toys_config(n_toys=3), "bumphunt": {"methods": ["cathode", "iad"]}})
    with pytest.raises(BumpfoldInputError, match="'toys.background'.*'nope' is not a dataset"):
        validate_config(_toys_config(n_toys=3, background="nope"))
    with pytest.raises(BumpfoldInputError, match="enable both"):
        validate_config({**_toys_config(n_toys=3), "bumphunt": {"enabled": False}})
    with pytest.raises(BumpfoldInputError, match="'toys.injections.0'"):
        validate_config(_toys_config(n_toys=3, injections=[0]))  # schema: injections >= 1


def _limits_row(selection: str, eff: str, z: float, window: str = "sr3300_3700", headline: bool = True) -> dict:
    return {"injection": 0, "signal_model": "wprime", "window": window, "selection": selection, "efficiency": eff,
            "status": "ok", "local_significance": z, "headline": headline, "resonance_mass": 3500.0,
            "n_selected_window": 100, "mu_hat_fb": 1.0, "limit_obs_fb": 2.0, "limit_exp_fb": [1, 1.5, 2, 3, 4],
            "limit_obs_events": 20.0, "luminosity_fb": 10.0}


def test_every_local_z_gets_its_global_one():
    from bumpfold.bumphunt.summary import limits_table
    from bumpfold.bumphunt.toys import Trials
    from bumpfold.headline import bumphunt_section

    rows = [_limits_row("cathode", "0.1", 4.0), _limits_row("cathode", "0.01", 0.5),
            _limits_row("inclusive", "1", 0.5, window="sr3700_4100", headline=False)]
    bound = stats.norm.isf(3 * stats.norm.sf(4.0))  # Bonferroni over the 3 tests
    table = limits_table(rows)
    assert f"| 4.00 | {bound:.2f} |" in table and "Bonferroni" in table and "3 (0 injected)" in table
    assert "| 0.50 | 0.00 |" in table  # a global p-value above 0.5 shows as 0
    toys = {"trials": Trials(n_eff=2.0, n_eff_uncertainty=0.4, method="toys").as_dict(), "n_toys": 30,
            "n_tests": 3, "targets": {"mean_abs": 0.3, "std_minus_1_abs": 0.3}, "local_z": [], "linearity": []}
    section = "\n".join(bumphunt_section({"rows": rows}, toys))
    from_toys = stats.norm.isf(1 - (1 - stats.norm.sf(4.0)) ** 2)
    assert f"| 4.00 | {from_toys:.2f} |" in section and "N_eff = 2.0 +- 0.4" in section
    assert f"| 0 | cathode | 4.00 | {from_toys:.2f} |" in section
