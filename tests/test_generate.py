"""Sample production: file layout, provenance, seeds, and physics sanity."""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest
import uproot

from bumpfold.generate.production import ProductionConfig, chunk_seed, produce_chunk
from bumpfold.generate.pythia import ProcessSpec, pythia_commands
from bumpfold.skim import Selection, skim_files
from tests.conftest import QCD

JET = ["pt", "eta", "phi", "mass", "msoftdrop", "tau1", "tau2", "tau3", "tau4", "nConstituents"]


def test_nanoaod_layout_and_metadata(samples):
    with uproot.open(samples["qcd"]) as f:
        branches = set(f["Events"].keys())
        expected = ({"nFatJet", "nGenJetAK8", "FatJet_genJetAK8Idx", "Truth_isSignal", "Truth_processId",
                     "run", "luminosityBlock", "event"}
                    | {f"FatJet_{k}" for k in JET} | {f"GenJetAK8_{k}" for k in JET})
        assert expected <= branches
        runs = f["Runs"].arrays(library="np")
        provenance = json.loads(f["provenance"])
        events = f["Events"].arrays(["nFatJet", "FatJet_pt", "FatJet_eta", "GenJetAK8_pt", "Truth_isSignal"])
    assert runs["genEventCount"][0] == 600
    assert 0 < runs["nAccepted"][0] <= 600 and runs["nAccepted"][0] == len(events)
    assert runs["nTried"][0] >= 600
    # Pythia's HardQCD cross section above pTHat 1.1 TeV at 13 TeV is a few pb
    assert 1.0 < runs["crossSection_pb"][0] < 20.0
    assert provenance["seed"] == runs["seed"][0] == chunk_seed(11, "qcd", 0)
    assert {"pythia8mc", "fastjet", "bumpfold"} <= set(provenance["versions"])
    assert not ak.any(events.Truth_isSignal)
    # pT-ordered, in acceptance, and every kept event has a 1.2 TeV jet at one level
    assert ak.all(events.FatJet_pt[:, :-1] >= events.FatJet_pt[:, 1:])
    assert ak.all(np.abs(events.FatJet_eta) < 2.5)
    lead = np.maximum(ak.fill_none(ak.max(events.FatJet_pt, axis=1), 0), ak.fill_none(ak.max(events.GenJetAK8_pt, axis=1), 0))
    assert ak.all(lead > 1200.0)


def test_same_seed_same_file_other_chunk_other_events(tmp_path):
    kwargs = dict(process_id=0, n_events=60, base_seed=3, config=ProductionConfig(batch_size=25))
    produce_chunk(QCD, chunk=0, output=tmp_path / "a.root", **kwargs)
    produce_chunk(QCD, chunk=0, output=tmp_path / "b.root", **kwargs)
    produce_chunk(QCD, chunk=1, output=tmp_path / "c.root", **kwargs)
    read = {k: uproot.open(tmp_path / f"{k}.root")["Events"].arrays(["FatJet_pt", "FatJet_tau2", "GenJetAK8_msoftdrop"])
            for k in "abc"}
    assert ak.to_list(read["a"]) == ak.to_list(read["b"])
    assert ak.to_list(read["a"]) != ak.to_list(read["c"])
    assert chunk_seed(3, "qcd", 0) != chunk_seed(3, "qcd", 1) != chunk_seed(3, "wprime", 1)


def test_bad_process_settings_fail_loudly(tmp_path):
    with pytest.raises(ValueError, match="events per chunk"):
        produce_chunk(QCD, process_id=0, chunk=0, n_events=0, base_seed=1, config=ProductionConfig(),
                      output=tmp_path / "x.root")
    with pytest.raises(ValueError, match="unknown process kind"):
        pythia_commands(ProcessSpec("z", "graviton"), sqrt_s=13000.0, mpi=False, seed=1)
    with pytest.raises(ValueError, match="Pythia rejected setting 'TimeShower:alphaSvaloo = 0.12' for process 'qcd'"):
        produce_chunk(ProcessSpec("qcd", "qcd", settings=("TimeShower:alphaSvaloo = 0.12",)), process_id=0, chunk=0,
                      n_events=10, base_seed=1, config=ProductionConfig(), output=tmp_path / "x.root")
    assert not list(tmp_path.iterdir())


def test_extra_pythia_settings_are_read_last():
    """A process's own settings (another tune, shower parameters) override the defaults."""
    spec = ProcessSpec("qcd_alt", "qcd", settings=("TimeShower:alphaSvalue = 0.12", "HardQCD:all = off",
                                                   "HardQCD:gg2gg = on"))
    commands = pythia_commands(spec, sqrt_s=13000.0, mpi=False, seed=1)
    assert commands[-3:] == list(spec.settings) and commands.index("HardQCD:all = on") < len(commands) - 3


@pytest.fixture(scope="module")
def tables(samples):
    return {k: skim_files([p], Selection(), dataset=k)[0] for k, p in samples.items()}


def _mode(values, bins):
    counts, edges = np.histogram(values, bins=bins)
    i = np.argmax(counts)
    return 0.5 * (edges[i] + edges[i + 1])


def test_signal_peaks_where_the_model_says(tables):
    sig = tables["signal"]
    assert len(sig) > 250
    mjj_peak = _mode(sig.mjj, np.arange(2500, 4500, 100))
    assert mjj_peak == pytest.approx(3500, rel=0.05)
    m_high = sig.mj_low + sig.delta_mj
    assert _mode(sig.mj_low, np.arange(0, 800, 20)) == pytest.approx(100, rel=0.15)
    assert _mode(m_high, np.arange(0, 800, 20)) == pytest.approx(500, rel=0.15)


def test_signal_jets_are_two_pronged(tables):
    sig, qcd = tables["signal"], tables["qcd"]
    assert sig.tau21_low.mean() < qcd.tau21_low.mean() - 0.1
    assert sig.tau21_high.mean() < qcd.tau21_high.mean() - 0.1


def test_qcd_mjj_falls_above_turn_on(tables):
    counts, _ = np.histogram(tables["qcd"].mjj, bins=[2800, 3200, 3600, 4000, 4800])
    assert (np.diff(counts) < 0).all(), counts


def test_reco_jet_mass_resolution(samples):
    with uproot.open(samples["qcd"]) as f:
        ev = f["Events"].arrays(["FatJet_mass", "FatJet_genJetAK8Idx", "GenJetAK8_mass"])
    matched = ev.FatJet_genJetAK8Idx >= 0
    reco = ev.FatJet_mass[matched]
    gen = ev.GenJetAK8_mass[ev.FatJet_genJetAK8Idx[matched]]
    reco, gen = ak.to_numpy(ak.flatten(reco)), ak.to_numpy(ak.flatten(gen))
    assert len(reco) / ak.sum(ak.num(ev.FatJet_mass)) > 0.95  # nearly every reco jet has its gen jet
    heavy = gen > 50
    rel = reco[heavy] / gen[heavy] - 1
    spread = 0.5 * (np.percentile(rel, 84) - np.percentile(rel, 16))
    assert 0.02 < spread < 0.2, spread
    assert abs(np.median(rel)) < 0.1
