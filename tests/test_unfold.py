"""OmniFold, IBU and unfolding metrics: Gaussian physics test, closure, determinism, bad inputs,
and the reader of generated jet samples."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime, so that threadpool_limits reaches it)
from threadpoolctl import threadpool_limits

from bumpfold import settings as typed
from bumpfold.config import validate_config
from bumpfold.errors import BumpfoldInputError
from bumpfold.io.nanoaod import write_tree
from bumpfold.ml.settings import ClassifierSettings
from bumpfold.unfold import (
    DataInputs,
    IterationState,
    OmniFoldSettings,
    UnfoldingInputs,
    as_pseudo_data,
    bootstrap_data_weights,
    chi2_ndf,
    ibu,
    ibu_observable,
    initial_state,
    load_state,
    omnifold_iteration,
    read_jet_observables,
    run_omnifold,
    save_state,
    triangular_discriminator,
    weighted_histogram,
)
from bumpfold.unfold import omnifold as omnifold_module

BINS = np.linspace(-4.0, 4.5, 35)
FAST = OmniFoldSettings(iterations=2, classifier=ClassifierSettings(max_iter=50, balance_classes=False))


@pytest.fixture(autouse=True)
def one_thread():
    """The boosted trees on one thread: fast on a busy machine, and the same numbers anywhere."""
    with threadpool_limits(1):
        yield


def gaussian_sample(n: int, mu: float, sigma: float, seed: int, *, efficiency: float = 0.95,
                    fake_fraction: float = 0.03) -> UnfoldingInputs:
    """OmniFold-paper-like toy: x ~ N(mu, sigma), y = x/2 + N(0, 0.8) at particle level,
    reco = gen + N(0, 0.5); a fraction fails reco; fakes (reco only) ~ N(0, 2)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(mu, sigma, n)
    gen = np.column_stack([x, 0.5 * x + rng.normal(0.0, 0.8, n)])
    reco = gen + rng.normal(0.0, 0.5, gen.shape)
    pass_reco = rng.random(n) < efficiency
    n_fake = int(fake_fraction * n)
    gen = np.vstack([gen, np.full((n_fake, 2), np.nan)])
    reco = np.vstack([reco, rng.normal(0.0, 2.0, (n_fake, 2))])
    pass_gen = np.r_[np.ones(n, bool), np.zeros(n_fake, bool)]
    pass_reco = np.r_[pass_reco, np.ones(n_fake, bool)]
    reco[~pass_reco] = np.nan  # never used: the level is not passed
    return UnfoldingInputs(gen=gen, reco=reco, pass_gen=pass_gen, pass_reco=pass_reco, observables=["x", "y"])


def gen_hist(sample: UnfoldingInputs, j: int, weights=None):
    keep = sample.pass_gen
    w = sample.weights if weights is None else weights
    return weighted_histogram(sample.gen[keep, j], bins=BINS, weights=w[keep])


# --- 1. physics: a shifted, wider truth is recovered --------------------------------------

def test_gaussian_unfolding_recovers_the_truth():
    sim = gaussian_sample(20_000, 0.0, 1.0, seed=1)
    truth = gaussian_sample(20_000, 0.5, 1.2, seed=2)
    data = as_pseudo_data(truth)
    result = run_omnifold(sim, data, settings=OmniFoldSettings(iterations=4), seed=3)
    assert [s.iteration for s in result.states] == [0, 1, 2, 3, 4]
    for j, name in enumerate(sim.observables):
        target = gen_hist(truth, j).counts
        prior = triangular_discriminator(gen_hist(sim, j).counts, target)
        unfolded = triangular_discriminator(gen_hist(sim, j, result.weights).counts, target)
        ibu_result = ibu_observable(sim, data, name, bins=BINS, iterations=4, reco_bins=2 * (len(BINS) - 1))
        binned = triangular_discriminator(ibu_result.unfolded, target)
        assert prior > 15.0, name  # the test is not trivial
        assert unfolded < prior / 5, (name, prior, unfolded)
        assert binned < prior / 5, (name, prior, binned)


def test_mlp_classifier_unfolds_and_is_deterministic_on_cpu():
    """The PyTorch MLP (the GPU path when one is present) as OmniFold's classifier, on CPU."""
    sim = gaussian_sample(8_000, 0.0, 1.0, seed=1)
    truth = gaussian_sample(8_000, 0.5, 1.2, seed=2)
    settings = OmniFoldSettings(iterations=2, classifier=ClassifierSettings(
        kind="mlp", mlp_hidden=(32, 32), mlp_epochs=6, balance_classes=False, device="cpu"))
    result = run_omnifold(sim, as_pseudo_data(truth), settings=settings, seed=3)
    for j in range(2):
        target = gen_hist(truth, j).counts
        prior = triangular_discriminator(gen_hist(sim, j).counts, target)
        assert triangular_discriminator(gen_hist(sim, j, result.weights).counts, target) < prior / 3
    again = run_omnifold(sim, as_pseudo_data(truth), settings=settings, seed=3)
    assert np.array_equal(result.weights, again.weights)


# --- 2. closure ------------------------------------------------------------------------------

def test_closure_on_a_statistically_independent_copy_of_the_simulation():
    sim = gaussian_sample(20_000, 0.0, 1.0, seed=1)
    truth = gaussian_sample(20_000, 0.0, 1.0, seed=5)
    result = run_omnifold(sim, as_pseudo_data(truth), settings=OmniFoldSettings(iterations=4), seed=3)
    w = result.weights[sim.pass_gen]
    assert abs(w.mean() - 1.0) < 0.02 and w.std() < 0.15
    for j in range(2):
        unfolded = gen_hist(sim, j, result.weights).normalized()
        for reference in (gen_hist(sim, j).normalized(), gen_hist(truth, j).normalized()):
            chi2 = chi2_ndf(unfolded.counts, reference.counts, sigma_a=unfolded.errors, sigma_b=reference.errors,
                            normalised=True)
            assert chi2.ndf > 20 and chi2.per_ndf < 2.0, chi2


def test_unfolding_the_simulations_own_reco_keeps_weights_at_one():
    sim = gaussian_sample(10_000, 0.0, 1.0, seed=1)
    result = run_omnifold(sim, as_pseudo_data(sim), settings=FAST, seed=3)
    deviation = np.abs(result.weights - 1.0)
    assert np.median(deviation) < 0.05 and result.weights.std() < 0.1  # classifier noise only
    assert abs(result.weights[sim.pass_gen].mean() - 1.0) < 0.01


# --- 3. determinism, state files, bootstrap -------------------------------------------------

def test_same_seed_same_weights_and_state_round_trip(tmp_path):
    sim = gaussian_sample(5_000, 0.0, 1.0, seed=1)
    data = as_pseudo_data(gaussian_sample(5_000, 0.3, 1.0, seed=2))
    a = run_omnifold(sim, data, settings=FAST, seed=7)
    b = run_omnifold(sim, data, settings=FAST, seed=7)
    c = run_omnifold(sim, data, settings=FAST, seed=8)
    for sa, sb in zip(a.states, b.states):
        np.testing.assert_array_equal(sa.push_weights, sb.push_weights)
        np.testing.assert_array_equal(sa.pull_weights, sb.pull_weights)
    assert not np.array_equal(a.weights, c.weights)

    # the workflow's way: one job per iteration, the state passed through files
    path = tmp_path / "member0" / "iter1.npz"
    save_state(omnifold_iteration(sim, data, initial_state(sim), settings=FAST, seed=7), path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["iter1.npz"]  # no temp file left
    loaded = load_state(path)
    assert loaded.iteration == 1
    np.testing.assert_array_equal(loaded.pull_weights, a.states[1].pull_weights)
    second = omnifold_iteration(sim, data, loaded, settings=FAST, seed=7)
    np.testing.assert_array_equal(second.pull_weights, a.states[2].pull_weights)


def test_efficiency_and_fake_treatment():
    sim = gaussian_sample(5_000, 0.0, 1.0, seed=1)
    data = as_pseudo_data(gaussian_sample(5_000, 0.3, 1.0, seed=2))
    state = omnifold_iteration(sim, data, initial_state(sim), settings=FAST, seed=7)
    no_reco, fakes = sim.pass_gen & ~sim.pass_reco, sim.pass_reco & ~sim.pass_gen
    np.testing.assert_array_equal(state.push_weights[no_reco], sim.weights[no_reco])  # step 1 leaves them
    np.testing.assert_array_equal(state.pull_weights[fakes], state.push_weights[fakes])  # fakes keep omega
    assert not np.allclose(state.push_weights[fakes], 1.0)


def test_bootstrap_weights():
    np.testing.assert_array_equal(bootstrap_data_weights(100, 4, member=0), np.ones(100))
    one = bootstrap_data_weights(10_000, 4, member=1)
    np.testing.assert_array_equal(one, bootstrap_data_weights(10_000, 4, member=1))
    assert not np.array_equal(one, bootstrap_data_weights(10_000, 4, member=2))
    assert np.all(one == np.round(one)) and abs(one.mean() - 1.0) < 0.05 and abs(one.var() - 1.0) < 0.1


# --- 4. IBU ----------------------------------------------------------------------------------

def test_ibu_with_a_diagonal_response_returns_the_data():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 5.0, 1_000)
    data = rng.normal(2.0, 1.5, 500)  # some under/overflow: clipped into the edge bins
    bins = np.arange(6.0)
    result = ibu(data, x, x, np.ones(1_000, bool), np.ones(1_000, bool), bins=bins, iterations=3)
    expected = np.bincount(np.clip(np.floor(data), 0, 4).astype(int), minlength=5)
    np.testing.assert_allclose(result.unfolded, expected, rtol=1e-12)
    np.testing.assert_allclose(result.response, np.eye(5))
    assert result.history.shape == (4, 5)


def test_ibu_corrects_efficiency_and_fakes():
    nan = np.nan
    # gen bin 0: four events, one fails reco (efficiency 3/4); gen bin 1: two events; one fake in reco bin 1
    gen = np.array([0.5, 0.5, 0.5, 0.5, 1.5, 1.5, nan])
    reco = np.array([0.5, 0.5, 0.5, nan, 1.5, 1.5, 1.5])
    pass_gen = ~np.isnan(gen)
    pass_reco = ~np.isnan(reco)
    data = np.r_[np.full(30, 0.5), np.full(30, 1.5)]
    result = ibu(data, gen, reco, pass_gen, pass_reco, bins=np.array([0.0, 1.0, 2.0]), iterations=1)
    np.testing.assert_allclose(result.efficiency, [0.75, 1.0])
    np.testing.assert_allclose(result.fake_fraction, [0.0, 1.0 / 3.0])
    np.testing.assert_allclose(result.unfolded, [40.0, 20.0])  # 30/0.75 and 30*(1 - 1/3)


def test_ibu_with_its_own_detector_binning_unfolds_a_shifted_spectrum():
    """IBU's detector level binned on its own range (as the reco multiplicity is about half the
    particle-level one): with twice the bins there, unfolding a smeared, rescaled sample
    recovers its truth, and better than with the particle-level edges reused."""
    from bumpfold.unfold.metrics import observable_edges

    rng = np.random.default_rng(2)
    gen = rng.exponential(1.0, 200_000)
    reco = 0.5 * gen + rng.normal(0.0, 0.1, len(gen))
    truth = rng.exponential(0.8, 40_000)  # another spectrum through the same detector
    data = 0.5 * truth + rng.normal(0.0, 0.1, len(truth))
    bins = observable_edges(gen, "x", 8)
    reco_bins = observable_edges(reco, "x", 16)
    ok = np.ones(len(gen), bool)
    own = ibu(data, gen, reco, ok, ok, bins=bins, iterations=4, reco_bins=reco_bins)
    reused = ibu(data, gen, reco, ok, ok, bins=bins, iterations=4)
    assert own.response.shape == (16, 8) and np.array_equal(own.reco_edges, reco_bins)
    expected = np.bincount(np.clip(np.searchsorted(bins, truth, side="right") - 1, 0, 7), minlength=8)
    assert triangular_discriminator(own.unfolded, expected) < 1.0
    assert triangular_discriminator(own.unfolded, expected) < triangular_discriminator(reused.unfolded, expected)
    assert triangular_discriminator(own.prior, expected) > 5.0


# --- 5. metrics ------------------------------------------------------------------------------

def test_triangular_discriminator():
    h = np.array([1.0, 4.0, 0.0, 2.0])
    assert triangular_discriminator(h, 3 * h) == 0.0  # shapes only
    assert triangular_discriminator([3.0, 1.0], [1.0, 1.0]) == pytest.approx(1e3 / 15)
    assert triangular_discriminator([3.0, 1.0], [1.0, 1.0], scale=1.0) == pytest.approx(1 / 15)
    assert triangular_discriminator([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1e3)
    with pytest.raises(BumpfoldInputError, match="q must be finite"):
        triangular_discriminator(h, np.zeros(4))


def test_chi2_and_weighted_histogram():
    result = chi2_ndf([1.0, 2.0, 3.0], [1.0, 3.0, 5.0], sigma_a=[1.0, 1.0, 0.0])
    assert (result.chi2, result.ndf, result.per_ndf) == (1.0, 2, 0.5)  # the empty bin is skipped
    assert chi2_ndf([1.0, 2.0, 3.0], [1.0, 3.0, 5.0], sigma_a=[1.0, 1.0, 0.0], normalised=True).ndf == 1
    result = chi2_ndf([2.0], [0.0], sigma_a=[1.0], sigma_b=[1.0])
    assert result.chi2 == pytest.approx(2.0)

    values, weights = np.array([0.5, 0.5, 1.5, -3.0, 9.0]), np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    h = weighted_histogram(values, bins=np.array([0.0, 1.0, 2.0]), weights=weights)
    np.testing.assert_allclose(h.counts, [7.0, 8.0])
    np.testing.assert_allclose(h.errors, np.sqrt([21.0, 34.0]))
    h = weighted_histogram(values, bins=np.array([0.0, 1.0, 2.0]), weights=weights, clip=False)
    np.testing.assert_allclose(h.counts, [3.0, 3.0])


# --- 6. bad inputs ---------------------------------------------------------------------------

def test_bad_simulation_inputs():
    ones, flags = np.ones((10, 2)), np.ones(10, bool)
    with pytest.raises(BumpfoldInputError, match="gen has 10 events but reco has 9"):
        UnfoldingInputs(gen=ones, reco=ones[:9], pass_gen=flags, pass_reco=flags)
    with pytest.raises(BumpfoldInputError, match="pass_reco: has 8 entries but gen has 10"):
        UnfoldingInputs(gen=ones, reco=ones, pass_gen=flags, pass_reco=flags[:8])
    for weights in (np.zeros(10), -np.ones(10)):
        with pytest.raises(BumpfoldInputError, match="simulation weights: all 10 weights are zero or negative"):
            UnfoldingInputs(gen=ones, reco=ones, pass_gen=flags, pass_reco=flags, weights=weights)
    with pytest.raises(BumpfoldInputError, match="NaN or infinite"):
        UnfoldingInputs(gen=ones, reco=ones, pass_gen=flags, pass_reco=flags, weights=np.full(10, np.nan))
    bad = ones.copy()
    bad[3, 1] = np.inf
    with pytest.raises(BumpfoldInputError, match="reco observable 'mass' is NaN or infinite in 1 events"):
        UnfoldingInputs(gen=ones, reco=bad, pass_gen=flags, pass_reco=flags, observables=["pt", "mass"])
    no_reco = flags.copy()
    no_reco[3] = False  # the bad value is then never used
    UnfoldingInputs(gen=ones, reco=bad, pass_gen=flags, pass_reco=no_reco)
    with pytest.raises(BumpfoldInputError, match="all 10 weights are zero"):
        DataInputs(reco=ones, weights=np.zeros(10))


def test_bad_omnifold_settings_and_states(tmp_path):
    with pytest.raises(BumpfoldInputError, match="iterations must be >= 1, got 0"):
        OmniFoldSettings(iterations=0)
    with pytest.raises(BumpfoldInputError, match="iterations must be >= 1"):
        ibu(np.ones(3), np.ones(3), np.ones(3), np.ones(3, bool), np.ones(3, bool), bins=[0.0, 2.0], iterations=0)
    sim = gaussian_sample(200, 0.0, 1.0, seed=1)
    with pytest.raises(BumpfoldInputError, match="differ from data observables"):
        omnifold_iteration(sim, DataInputs(reco=np.ones((5, 2)), observables=["a", "b"]), initial_state(sim),
                           settings=FAST, seed=0)
    with pytest.raises(BumpfoldInputError, match="has 3 weights but the simulation has"):
        omnifold_iteration(sim, as_pseudo_data(sim), IterationState(2, np.ones(3), np.ones(3)),
                           settings=FAST, seed=0)
    with pytest.raises(BumpfoldInputError, match="no such file"):
        load_state(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(BumpfoldInputError, match="junk.npz: not a readable omnifold state"):
        load_state(tmp_path / "junk.npz")


class NaNClassifier:
    def fit(self, x, y, sample_weight=None):
        return self

    def predict_proba(self, x):
        return np.full((len(x), 2), np.nan)


def test_nan_weights_name_the_iteration_and_step(monkeypatch):
    sim = gaussian_sample(500, 0.0, 1.0, seed=1)
    monkeypatch.setattr(omnifold_module, "make_classifier", lambda settings, seed: NaNClassifier())
    with pytest.raises(BumpfoldInputError, match=r"iteration 1, step 1: NaN or infinite weights"):
        run_omnifold(sim, as_pseudo_data(sim), settings=FAST, seed=0)


def test_reader_rejects_unknown_observables_and_missing_branches(tmp_path):
    with pytest.raises(BumpfoldInputError, match=r"observable 'girth' is not known \(allowed: mass, multiplicity"):
        read_jet_observables([tmp_path / "x.root"], observables=["mass", "girth"], pt_min=100.0)
    import awkward as ak
    import uproot

    path = tmp_path / "reco_only.root"
    jets = ak.zip({"pt": ak.Array([[1300.0, 500.0], []]), "mass": ak.Array([[90.0, 20.0], []])})
    with uproot.recreate(path) as f:
        write_tree(f, "Events", {"FatJet": jets})
    with pytest.raises(BumpfoldInputError, match=r"reco_only.root: tree 'Events' lacks branch GenJetAK8_pt"):
        read_jet_observables([path], observables=["mass"], pt_min=100.0)
    with pytest.raises(BumpfoldInputError, match="no such file"):
        read_jet_observables([tmp_path / "x.root"], observables=["mass"], pt_min=100.0)


# --- 7. reading generated samples -----------------------------------------------------------

def test_read_jet_observables_from_generated_sample(samples):
    names = ["mass", "multiplicity", "tau21", "tau32", "msoftdrop", "pt"]
    sim = read_jet_observables([samples["qcd"]], observables=names, pt_min=1200.0)
    n = sim.n_events
    assert n > 100 and sim.gen.shape == sim.reco.shape == (n, 6) and sim.observables == names
    assert (sim.pass_gen | sim.pass_reco).all()
    for flags in (sim.pass_gen, sim.pass_reco):
        assert 0.0 < flags.mean() <= 1.0
    assert (sim.gen[sim.pass_gen, 5] > 1200.0).all() and (sim.reco[sim.pass_reco, 5] > 1200.0).all()
    for level, flags in (("gen", sim.pass_gen), ("reco", sim.pass_reco)):
        tau21 = getattr(sim, level)[flags, 2]
        # tau2 > tau1 happens with the generator's unoptimised exclusive-kT axes (~5% of
        # leading QCD jets, up to ~1.3), so [0, 1] holds for most jets, not for all
        assert (tau21 >= 0).all() and (tau21 < 1.5).all() and np.mean(tau21 <= 1) > 0.9, level
        assert 0.2 < np.median(tau21) < 0.9, level
        assert (getattr(sim, level)[flags, 1] >= 1).all(), level
    both = sim.pass_gen & sim.pass_reco
    assert np.corrcoef(sim.gen[both, 0], sim.reco[both, 0])[0, 1] > 0.8
    # two files are concatenated
    twice = read_jet_observables([samples["qcd"]] * 2, observables=["mass"], pt_min=1200.0)
    assert twice.n_events == 2 * n


# --- the workflow steps (bumpfold.unfold.pipeline) ---------------------------------------

# the unfold section as the workflow sees it: validated, the schema's defaults filled in
UNFOLD_CONFIG = validate_config({"unfold": {
    "observables": ["mass", "multiplicity", "tau21"], "pt_min": 1200.0, "bins": 8, "iterations": 2, "members": 2,
    "classifier": {"max_iter": 20, "learning_rate": 0.1, "max_leaf_nodes": 15, "max_ratio": 100.0}}})["unfold"]
UNFOLD = typed.unfold(UNFOLD_CONFIG)


def test_pipeline_steps_chain_and_close_on_the_simulation_itself(samples, tmp_path):
    """Inputs -> two members x two iterations -> IBU -> summary, unfolding the simulation's own
    detector level: the unfolded distributions stay on the truth."""
    from bumpfold.unfold import pipeline

    qcd = [samples["qcd"]]
    job = pipeline.prepare_inputs(qcd, qcd, unfold=UNFOLD, output=tmp_path / "inputs.npz")
    again = pipeline.load_inputs(tmp_path / "inputs.npz")
    assert np.array_equal(again.sim.gen, job.sim.gen) and again.observables == UNFOLD_CONFIG["observables"]
    assert np.all(np.diff(job.edges["multiplicity"]) >= 1) and job.edges["multiplicity"][0] % 1 == 0.5
    members = []
    for m in range(2):
        paths = []
        for i in (1, 2):
            paths.append(tmp_path / f"m{m}_i{i}.npz")
            pipeline.iteration_job(tmp_path / "inputs.npz", paths[-2] if i > 1 else None, member=m, iteration=i,
                                   unfold=UNFOLD, seed=5, output=paths[-1])
        members.append(paths)
    pipeline.ibu_job(tmp_path / "inputs.npz", unfold=UNFOLD, seed=5, output=tmp_path / "ibu.json")
    summary = pipeline.summarize(tmp_path / "inputs.npz", members, tmp_path / "ibu.json", output=tmp_path / "s.json")
    for name, o in summary["observables"].items():
        assert o["metrics"]["prior"]["triangular_discriminator_1e3"] < 1e-9, name  # data = simulation
        # unfolding the simulation's own detector level stays on its truth: closer than the
        # prior of an unrelated sample would be (the noise floor of these sizes is ~1e-3)
        assert o["metrics"]["omnifold"]["triangular_discriminator_1e3"] < 3.0, (name, o["metrics"]["omnifold"])
        assert o["metrics"]["ibu"]["triangular_discriminator_1e3"] < 3.0, (name, o["metrics"]["ibu"])
        assert set(o["metrics"]["ibu"]) == {"triangular_discriminator_1e3"}  # no chi2 on shared events
        # IBU's central value is the mean of its members, as OmniFold's
        replicas = json.loads((tmp_path / "ibu.json").read_text())[name]["replicas"]
        assert np.allclose(o["ibu"], np.mean([np.asarray(r) / np.sum(r) for r in replicas], axis=0))
    # the bootstrap replica (member 1) differs from the nominal member 0
    assert not np.array_equal(load_state(members[0][1]).pull_weights, load_state(members[1][1]).pull_weights)


def test_pipeline_bad_inputs_are_named(samples, tmp_path):
    from bumpfold.unfold import pipeline

    qcd = [samples["qcd"]]
    pipeline.prepare_inputs(qcd, qcd, unfold=UNFOLD, output=tmp_path / "inputs.npz")
    pipeline.iteration_job(tmp_path / "inputs.npz", None, member=0, iteration=1, unfold=UNFOLD, seed=5,
                           output=tmp_path / "i1.npz")
    with pytest.raises(BumpfoldInputError, match=r"i1.npz: holds iteration 1, expected 2"):
        pipeline.iteration_job(tmp_path / "inputs.npz", tmp_path / "i1.npz", member=0, iteration=3,
                               unfold=UNFOLD, seed=5, output=tmp_path / "i3.npz")
    assert not (tmp_path / "i3.npz").exists()
    (tmp_path / "bad.npz").write_bytes(b"not a zip" * 10)
    with pytest.raises(BumpfoldInputError, match=r"bad.npz: not readable unfolding inputs"):
        pipeline.load_inputs(tmp_path / "bad.npz")
    with pytest.raises(BumpfoldInputError, match=r"missing.npz: no such file"):
        pipeline.load_inputs(tmp_path / "missing.npz")


def test_generative_unfolding_moves_towards_the_truth():
    """The flow p(gen | reco) learnt on the simulation, sampled at the data's reco: closer to
    the data's truth than the prior (not all the way: it keeps part of the prior)."""
    from bumpfold.ml.flow import FlowSettings
    from bumpfold.unfold.generative import generative_unfold

    sim = gaussian_sample(8000, 0.0, 1.0, seed=21, fake_fraction=0.0)
    pseudo = gaussian_sample(4000, 0.5, 1.2, seed=22, fake_fraction=0.0)
    data = as_pseudo_data(pseudo)
    settings = FlowSettings(transforms=2, hidden=(32, 32), epochs=15, patience=4, n_best=2, device="cpu")
    samples, flow = generative_unfold(sim, data, settings=settings, seed=3)
    assert samples.shape == data.reco.shape and flow.n_context == 2
    truth = gen_hist(pseudo, 0).counts
    prior = gen_hist(sim, 0).counts
    unfolded = weighted_histogram(samples[:, 0], bins=BINS).counts
    assert triangular_discriminator(unfolded, truth) < 0.5 * triangular_discriminator(prior, truth)
    again, _ = generative_unfold(sim, data, settings=settings, seed=3)
    assert np.array_equal(samples, again)  # deterministic on CPU
    with pytest.raises(BumpfoldInputError, match="condition has 1 components, the flow was trained with 2"):
        flow.sample(data.reco[:, 0], seed=1)


def test_real_data_without_truth_unfolds_and_reports_no_metrics(samples, tmp_path):
    """A user's detector-level file (FatJets only): unfolded distributions, no truth metrics."""
    from bumpfold.plotting.unfold import plot_convergence, plot_unfolded
    from bumpfold.unfold import pipeline
    from bumpfold.unfold.inputs import read_detector_observables

    data = read_detector_observables([samples["qcd"]], observables=["mass", "tau21"], pt_min=1200.0)
    both = read_jet_observables([samples["qcd"]], observables=["mass", "tau21"], pt_min=1200.0)
    assert np.array_equal(data.reco, both.reco[both.pass_reco])  # the same events and values as the full reader
    config = typed.unfold({**UNFOLD_CONFIG, "iterations": 1, "members": 1})
    job = pipeline.prepare_inputs([samples["qcd"]], [samples["qcd"]], unfold=config, output=tmp_path / "in.npz",
                                  data_has_truth=False)
    assert not job.has_truth and not pipeline.load_inputs(tmp_path / "in.npz").has_truth
    pipeline.iteration_job(tmp_path / "in.npz", None, member=0, iteration=1, unfold=config, seed=5,
                           output=tmp_path / "i1.npz")
    pipeline.ibu_job(tmp_path / "in.npz", unfold=config, seed=5, output=tmp_path / "ibu.json")
    summary = pipeline.summarize(tmp_path / "in.npz", [[tmp_path / "i1.npz"]], tmp_path / "ibu.json",
                                 output=tmp_path / "s.json")
    assert summary["has_truth"] is False and "omnifold_closer_than_prior" not in summary
    for o in summary["observables"].values():
        assert "metrics" not in o and "truth" not in o and abs(sum(o["omnifold"]) - 1) < 1e-9
    plot_unfolded(summary, tmp_path / "u.png", sqrt_s=13000.0, observed=True)
    plot_convergence(summary, tmp_path / "c.png", sqrt_s=13000.0, observed=True)
    assert (tmp_path / "u.png").stat().st_size > 10_000


def test_detector_level_file_without_fatjets_is_named(tmp_path):
    from bumpfold.unfold.inputs import read_detector_observables

    path = tmp_path / "nojets.root"
    import uproot

    with uproot.recreate(path) as f:
        f["Events"] = {"run": np.ones(3, dtype=np.uint32)}
    with pytest.raises(BumpfoldInputError, match=r"nojets.root: tree 'Events' lacks branch FatJet_pt"):
        read_detector_observables([path], observables=["mass"], pt_min=1200.0)
