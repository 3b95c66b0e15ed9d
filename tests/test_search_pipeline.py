"""Search steps on synthetic feature tables: data sets, windows, methods, selection."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from bumpfold import settings as typed
from bumpfold.config import validate_config
from bumpfold.errors import BumpfoldInputError
from bumpfold.features import COLUMNS
from bumpfold.ml.flow import ConditionalFlow
from bumpfold.regions import Window
from bumpfold.search import pipeline, results
from bumpfold.search.datasets import SplitSettings, build_datasets

WINDOW = Window(3300.0, 3700.0, 2800.0, 5500.0)


def _table(n: int, *, signal: bool, seed: int) -> pd.DataFrame:
    """Background: falling m_jj, broad features; signal: a 3.5 TeV bump with 100/400 GeV jets."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({c: np.zeros(n) for c in COLUMNS})
    if signal:
        table["mjj"] = rng.normal(3500, 120, n)
        table["mj_low"], table["delta_mj"] = rng.normal(100, 10, n), rng.normal(400, 30, n)
        table["tau21_low"], table["tau21_high"] = rng.normal(0.3, 0.08, n), rng.normal(0.25, 0.08, n)
    else:
        table["mjj"] = 2800 + rng.exponential(700, n)
        table["mj_low"], table["delta_mj"] = rng.gamma(3, 40, n), rng.gamma(2, 80, n)
        table["tau21_low"], table["tau21_high"] = rng.uniform(0.2, 1.0, n), rng.uniform(0.1, 0.9, n)
    table["is_signal"] = np.int8(signal)
    table["weight"] = 1.0
    return table


@pytest.fixture(scope="module")
def search_config():
    config = validate_config({"search": {"n_folds": 3, "min_events": 50, "device": "cpu", "oversampling": 2.0,
                                         "flow": {"transforms": 2, "hidden": [32, 32], "epochs": 15, "n_best": 3},
                                         "classifier": {"n_ensemble": 1, "max_iter": 60}}})
    return config["search"]


@pytest.fixture(scope="module")
def settings(search_config):
    return typed.search(search_config)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    _table(30000, signal=False, seed=1).to_parquet(out / "bkg.parquet")
    _table(3000, signal=True, seed=2).to_parquet(out / "sig.parquet")
    return out


def test_datasets_roles_and_injection(tables, settings, tmp_path):
    table = pipeline.make_datasets(tables / "bkg.parquet", tables / "sig.parquet", n_injected=400,
                                   search=settings, seed=3, output=tmp_path / "d.parquet")
    counts = table.groupby(["role", "is_signal"]).size().to_dict()
    assert counts[("data", 1)] == 400 and counts[("test", 1)] == 1500 and counts[("signal_mc", 1)] == 1100
    # the default split: the idealised sample as large as the data
    assert counts[("data", 0)] == 13500 and counts[("test", 0)] == 3000 and counts[("ideal", 0)] == 13500
    again = pipeline.make_datasets(tables / "bkg.parquet", tables / "sig.parquet", n_injected=400,
                                   search=settings, seed=3, output=tmp_path / "e.parquet")
    pd.testing.assert_frame_equal(table, again)


def test_injection_larger_than_the_signal_available(tables, settings, tmp_path):
    with pytest.raises(BumpfoldInputError, match="injection of 2000 signal events is larger than the 1500"):
        pipeline.make_datasets(tables / "bkg.parquet", tables / "sig.parquet", n_injected=2000,
                               search=settings, seed=3, output=tmp_path / "d.parquet")
    assert not (tmp_path / "d.parquet").exists()
    with pytest.raises(BumpfoldInputError, match="must be >= 0"):
        build_datasets(pd.DataFrame(), pd.DataFrame(), n_injected=-1, split=SplitSettings(), seed=0)


@pytest.mark.parametrize("column", ["tau21_low", "mjj"])
def test_all_nan_feature_is_named(tables, settings, tmp_path, column):
    broken = tmp_path / "broken.parquet"
    pd.read_parquet(tables / "bkg.parquet").assign(**{column: np.nan}).to_parquet(broken)
    with pytest.raises(BumpfoldInputError, match=rf"broken\.parquet: feature '{column}' has 30000 NaN/inf"):
        pipeline.make_datasets(broken, tables / "sig.parquet", n_injected=10, search=settings, seed=1,
                               output=tmp_path / "d.parquet")
    assert not (tmp_path / "d.parquet").exists()


def test_window_with_too_few_events(tables, settings, tmp_path):
    small = tmp_path / "small.parquet"
    pd.read_parquet(tables / "bkg.parquet").head(200).to_parquet(small)
    pipeline.make_datasets(small, tables / "sig.parquet", n_injected=0, search=settings, seed=1,
                           output=tmp_path / "d.parquet")
    with pytest.raises(BumpfoldInputError, match=r"window sr3300_3700: \d+ SB and \d+ SR data events; at least 50"):
        pipeline.window_data(tmp_path / "d.parquet", WINDOW, settings)


def test_a_tiny_oversampling_names_its_key(tables, settings, tmp_path):
    pipeline.make_datasets(tables / "bkg.parquet", tables / "sig.parquet", n_injected=0, search=settings,
                           seed=1, output=tmp_path / "d.parquet")
    tiny = replace(settings, oversampling=1e-6)
    wd = pipeline.window_data(tmp_path / "d.parquet", WINDOW, tiny)
    with pytest.raises(BumpfoldInputError, match=r"config key 'search.oversampling': 1e-06 x \d+ SR data events gives 0"):
        pipeline.sample_window(wd, tmp_path / "no-flow-needed.pt", tiny, 1, tmp_path / "s.parquet", tmp_path / "i.json")
    assert not (tmp_path / "s.parquet").exists()


def test_closure_split_too_small(tables, settings, tmp_path):
    pipeline.make_datasets(tables / "bkg.parquet", tables / "sig.parquet", n_injected=0, search=settings,
                           seed=1, output=tmp_path / "d.parquet")
    tiny = replace(settings, closure_fraction=0.001)
    with pytest.raises(BumpfoldInputError, match="closure test would get about"):
        pipeline.window_data(tmp_path / "d.parquet", WINDOW, tiny)


def test_cathode_finds_the_injected_bump_and_the_steps_write_their_outputs(tables, settings, tmp_path):
    pipeline.make_datasets(tables / "bkg.parquet", tables / "sig.parquet", n_injected=600, search=settings,
                           seed=5, output=tmp_path / "d.parquet")
    wd = pipeline.window_data(tmp_path / "d.parquet", WINDOW, settings)
    pipeline.train_flow(wd, settings, 6, model=tmp_path / "flow.pt", closure=tmp_path / "closure.json")
    closure = json.loads((tmp_path / "closure.json").read_text())
    assert 0.4 < closure["closure_auc"] < 0.65  # the flow models the sidebands
    pipeline.sample_window(wd, tmp_path / "flow.pt", settings, 7, tmp_path / "samples.parquet",
                           tmp_path / "interpolation.json")
    assert len(pd.read_parquet(tmp_path / "samples.parquet")) == 2 * len(wd.sr("data"))
    interpolation = json.loads((tmp_path / "interpolation.json").read_text())
    assert interpolation["n_true_background"] == len(pd.concat([wd.sr("ideal"), wd.sr("test")]).query("is_signal == 0"))
    assert 0.35 < interpolation["interpolation_auc"] < 0.75  # the flow roughly models the SR background
    # the flow's latent image of the sideband data is close to a standard normal (LaCATHODE)
    latent = ConditionalFlow.load(tmp_path / "flow.pt").latent(wd.x(wd.sb("data")), wd.sb("data").mjj.to_numpy())
    assert np.all(np.abs(latent.mean(axis=0)) < 0.15) and np.all(np.abs(latent.std(axis=0) - 1) < 0.15)
    tables_by_method = {}
    for method in ("cathode", "lacathode", "iad"):
        tables_by_method[method] = pipeline.score_method(method, wd, settings, 8,
                                                         output=tmp_path / f"{method}.parquet",
                                                         samples_path=tmp_path / "samples.parquet",
                                                         flow_path=tmp_path / "flow.pt")
    metrics = results.evaluate(tables_by_method, window=WINDOW.name, injection=600,
                                closure=tmp_path / "closure.json", interpolation=tmp_path / "interpolation.json",
                                output=tmp_path / "metrics.json")
    assert metrics["interpolation_auc"] == interpolation["interpolation_auc"]
    for method in ("cathode", "lacathode", "iad"):
        assert metrics["methods"][method]["max_sic"] > 2.0, method
    assert metrics["methods"]["cathode"]["n_signal_sr_true"] > 300
    results.select_top(tables_by_method["cathode"], [0.1, 0.01], output=tmp_path / "sel.parquet",
                        thresholds=tmp_path / "sel.json")
    selected = pd.read_parquet(tmp_path / "sel.parquet")
    cuts = json.loads((tmp_path / "sel.json").read_text())["thresholds"]
    data_scores = tables_by_method["cathode"].query("set == 'data'").score
    n_data = len(wd.sr("data"))
    for eps in (0.1, 0.01):
        # the top eps of the data, and every event tied with the last one (boosted trees tie)
        n_kept = int((selected.efficiency <= eps).sum())
        assert n_kept == int((data_scores >= cuts[f"{eps:g}"]).sum())
        assert (data_scores > cuts[f"{eps:g}"]).sum() <= eps * n_data + 1 <= n_kept + 2
    assert selected.is_signal.mean() > wd.sr("data").is_signal.mean() * 2  # the selection enriches signal
    with pytest.raises(BumpfoldInputError, match="method 'magic'"):
        pipeline.score_method("magic", wd, settings, 1, output=tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()


@pytest.mark.parametrize("method", ["supervised", "cwola", "autoencoder"])
def test_fold_jobs_combine_to_the_in_process_scores(tables, settings, tmp_path, method):
    """The workflow trains each fold in its own job (search.fold_jobs) or all folds in one
    job: either way the combined scores and models equal an all-in-one run; fold results
    from another method or an incomplete set are refused."""
    pipeline.make_datasets(tables / "bkg.parquet", tables / "sig.parquet", n_injected=300, search=settings,
                           seed=5, output=tmp_path / "d.parquet")
    wd = pipeline.window_data(tmp_path / "d.parquet", WINDOW, settings)
    whole = pipeline.score_method(method, wd, settings, 9, output=tmp_path / "whole.parquet")
    folds = [tmp_path / f"fold{k}.pkl" for k in range(settings.n_folds)]
    for k, path in enumerate(folds):
        pipeline.score_folds(method, [k], wd, settings, 9, outputs=[path])
    combined = pipeline.combine_method(method, wd, settings, 9, fold_paths=folds,
                                       output=tmp_path / "combined.parquet", models_path=tmp_path / "models.pkl")
    pd.testing.assert_frame_equal(whole, combined)
    together = [tmp_path / f"together{k}.pkl" for k in range(settings.n_folds)]
    pipeline.score_folds(method, range(settings.n_folds), wd, settings, 9, outputs=together)
    pd.testing.assert_frame_equal(whole, pipeline.combine_method(
        method, wd, settings, 9, fold_paths=together, output=tmp_path / "together.parquet",
        models_path=tmp_path / "together_models.pkl"))
    with pytest.raises(BumpfoldInputError, match="do not cover the 3 folds"):
        pipeline.combine_method(method, wd, settings, 9, fold_paths=folds[:2],
                                output=tmp_path / "x.parquet", models_path=tmp_path / "x.pkl")
    other = "iad" if method != "iad" else "cwola"
    with pytest.raises(BumpfoldInputError, match=f"a fold of {method} in {WINDOW.name}, not of {other}"):
        pipeline.combine_method(other, wd, settings, 9, fold_paths=folds,
                                output=tmp_path / "x.parquet", models_path=tmp_path / "x.pkl")
    with pytest.raises(BumpfoldInputError, match="fold 3: must be in 0..2"):
        pipeline.score_folds(method, [3], wd, settings, 9, outputs=[tmp_path / "x.pkl"])
    with pytest.raises(BumpfoldInputError, match="2 folds for 1 outputs"):
        pipeline.score_folds(method, [0, 1], wd, settings, 9, outputs=[tmp_path / "x.pkl"])
    assert not list(tmp_path.glob("x.*"))


@pytest.mark.parametrize("kind", ["hgb", "mlp"])
def test_another_seed_reaches_the_classifiers(tables, settings, search_config, tmp_path, kind):
    """Issue 18: two seeds gave an identical max SIC; the seed must change the trained models
    (and so the scores), the same seed must not."""
    pipeline.make_datasets(tables / "bkg.parquet", tables / "sig.parquet", n_injected=300, search=settings,
                           seed=5, output=tmp_path / "d.parquet")
    search = typed.search({**search_config, "classifier": {**search_config["classifier"], "kind": kind,
                                                           "mlp_epochs": 2, "mlp_best_epochs": 1}})
    wd = pipeline.window_data(tmp_path / "d.parquet", WINDOW, search)
    scores = {seed: pipeline.score_method("iad", wd, search, seed, output=tmp_path / f"{seed}.parquet").score
              for seed in (8, 9)}
    again = pipeline.score_method("iad", wd, search, 8, output=tmp_path / "again.parquet").score
    assert not np.allclose(scores[8], scores[9])
    assert np.array_equal(scores[8], again)


def test_observed_data_never_has_its_truth_read(tables, settings, tmp_path):
    """Observed data: every event is data with truth -1, whatever its table says; a truth
    column claiming all signal or all background gives the same data sets and scores."""
    observed = pd.read_parquet(tables / "bkg.parquet").iloc[:12000]
    sim = pd.read_parquet(tables / "bkg.parquet").iloc[12000:]
    sim.to_parquet(tmp_path / "sim.parquet")
    outputs = []
    for claimed in (0, 1):
        path = tmp_path / f"observed{claimed}.parquet"
        observed.assign(is_signal=np.int8(claimed)).to_parquet(path)
        table = pipeline.make_datasets(tmp_path / "sim.parquet", None, observed=path, n_injected=0,
                                       search=settings, seed=3, output=tmp_path / f"d{claimed}.parquet")
        wd = pipeline.window_data(tmp_path / f"d{claimed}.parquet", WINDOW, settings)
        scores = pipeline.score_method("cwola", wd, settings, 4, output=tmp_path / f"s{claimed}.parquet")
        outputs.append((table, scores))
    pd.testing.assert_frame_equal(outputs[0][0], outputs[1][0])
    pd.testing.assert_frame_equal(outputs[0][1], outputs[1][1])
    table = outputs[0][0]
    data = table[table.role == "data"]
    assert len(data) == len(observed) and (data.is_signal == -1).all()
    assert set(table.role) == {"data", "test", "ideal"}  # the simulation: labelled test set and IAD sample
    # with background simulation only, the test set has no signal: nothing to judge a method by
    metrics = results.evaluate({"cwola": outputs[0][1]}, window=WINDOW.name, injection=0,
                                   closure=_closure(tmp_path), interpolation=_interpolation(tmp_path),
                                   output=tmp_path / "m.json")
    assert metrics["methods"]["cwola"]["status"] == "no truth: not evaluated"
    assert metrics["methods"]["cwola"]["n_signal_sr_true"] is None  # unknown, not zero
    (tmp_path / "metrics").mkdir()
    (row,) = results.summarize([tmp_path / "m.json"], tmp_path / "metrics" / "summary.json")
    assert row["s_over_b"] is None and row["s_over_sqrt_b"] is None


def _closure(tmp_path):
    (tmp_path / "closure.json").write_text(json.dumps({"closure_auc": 0.5}))
    return tmp_path / "closure.json"


def _interpolation(tmp_path):
    (tmp_path / "interp.json").write_text(json.dumps({"interpolation_auc": None}))
    return tmp_path / "interp.json"


def test_observed_data_without_any_simulation(tables, settings, tmp_path):
    observed = pd.read_parquet(tables / "bkg.parquet").drop(columns="is_signal")  # a black box: no truth column
    observed.to_parquet(tmp_path / "box.parquet")
    table = pipeline.make_datasets(None, None, observed=tmp_path / "box.parquet", n_injected=0,
                                   search=settings, seed=3, output=tmp_path / "d.parquet")
    assert set(table.role) == {"data"} and (table.is_signal == -1).all()
    with pytest.raises(BumpfoldInputError, match="no signal simulation to take them from"):
        pipeline.make_datasets(None, None, observed=tmp_path / "box.parquet", n_injected=10,
                               search=settings, seed=3, output=tmp_path / "e.parquet")


def test_a_step_given_part_of_the_search_settings_names_what_it_lacks(tables, search_config, tmp_path):
    """The workflow gives each step only the search keys it reads (common.smk's SEARCH_KEYS),
    so that e.g. a new oversampling retrains no flow: the rest is None, and a step that
    needs it stops naming the key."""
    datasets_only = typed.search({key: search_config[key] for key in ("features", "split")})
    assert datasets_only.min_events is None and datasets_only.flow is None and datasets_only.folds is None
    pipeline.make_datasets(tables / "bkg.parquet", tables / "sig.parquet", n_injected=0, search=datasets_only,
                           seed=1, output=tmp_path / "d.parquet")
    with pytest.raises(BumpfoldInputError, match="config key 'search.min_events'"):
        pipeline.window_data(tmp_path / "d.parquet", WINDOW, datasets_only)
    flow_step = typed.search({key: search_config[key] for key in ("features", "min_events", "closure_fraction",
                                                                   "n_folds", "flow", "classifier", "device")})
    wd = pipeline.window_data(tmp_path / "d.parquet", WINDOW, flow_step)
    with pytest.raises(BumpfoldInputError, match="config key 'search.oversampling'"):
        pipeline.check_oversampling(wd, flow_step)
    with pytest.raises(BumpfoldInputError, match="config key 'search.cwola_sideband_width'"):
        pipeline.classifier_task("cwola", wd, flow_step, 1)
    assert flow_step.flow_with_seed(4).seed == 4 and flow_step.folds_with_seed(5).seed == 5
    assert flow_step.folds_with_seed(5).n_folds == search_config["n_folds"]
