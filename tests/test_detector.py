"""The parametric detector model: acceptance, efficiency, granularity, resolution."""

from __future__ import annotations

import numpy as np
import pytest

from bumpfold.generate.detector import DetectorModel, simulate
from bumpfold.generate.pythia import FinalState


def _particles(pt, eta, phi, pdg, charge) -> FinalState:
    pt, eta, phi = (np.asarray(a, dtype=float) for a in (pt, eta, phi))
    return FinalState(px=pt * np.cos(phi), py=pt * np.sin(phi), pz=pt * np.sinh(eta), e=pt * np.cosh(eta),
                      pdg_id=np.asarray(pdg, dtype=np.int32), charge=np.asarray(charge, dtype=float),
                      offsets=np.array([0, len(pt)]))


def _pt_eta(c):
    pt = np.hypot(c.px, c.py)
    return pt, np.arcsinh(c.pz / pt)


def test_tracking_efficiency_and_resolution():
    n = 20000
    rng = np.random.default_rng(1)
    parts = _particles(np.full(n, 100.0), rng.uniform(-2, 2, n), rng.uniform(-3, 3, n), np.full(n, 211), np.ones(n))
    model = DetectorModel(hcal_threshold=1e9)  # see tracks only: untracked pions fall below the HCAL cut
    reco = simulate(parts, model, np.random.default_rng(2))
    pt, _ = _pt_eta(reco)
    assert len(pt) / n == pytest.approx(model.track_efficiency, abs=0.01)
    expected = np.hypot(model.track_res_const, model.track_res_slope * 100.0)
    assert np.std(pt / 100.0 - 1) == pytest.approx(expected, rel=0.05)


def test_neutrals_merge_into_cells_with_energy_resolution():
    # 50 photons inside one ECAL cell -> one candidate carrying the summed energy (smeared)
    n = 50
    parts = _particles(np.full(n, 2.0), np.full(n, 0.3001), np.full(n, 1.0001), np.full(n, 22), np.zeros(n))
    reco = simulate(parts, DetectorModel(), np.random.default_rng(3))
    assert len(reco.e) == 1
    assert reco.e[0] == pytest.approx(2.0 * np.cosh(0.3001) * n, rel=0.05)


def test_acceptance_and_thresholds():
    parts = _particles([50.0, 50.0, 0.2, 30.0], [3.0, 5.5, 0.0, 1.0], [0.0, 0.0, 0.5, 2.0],
                       [211, 130, 22, 130], [1.0, 0.0, 0.0, 0.0])
    model = DetectorModel(track_efficiency=1.0)
    reco = simulate(parts, model, np.random.default_rng(4))
    pt, eta = _pt_eta(reco)
    # |eta| = 3 charged pion: no tracker, lands in the HCAL; |eta| = 5.5: outside; 0.2 GeV photon: below threshold
    assert len(pt) == 2
    assert np.all(np.abs(eta) < model.calo_eta_max)
    # cell centres: eta snapped to the HCAL grid
    offsets = np.abs(eta / model.hcal_cell - np.floor(eta / model.hcal_cell) - 0.5)
    assert np.allclose(offsets, 0.0, atol=1e-9)


def test_same_seed_same_detector_response():
    rng = np.random.default_rng(5)
    n = 500
    parts = _particles(rng.exponential(10, n) + 0.6, rng.uniform(-3, 3, n), rng.uniform(-3, 3, n),
                       rng.choice([211, 22, 130], n), rng.choice([0.0, 1.0], n))
    a = simulate(parts, DetectorModel(), np.random.default_rng(9))
    b = simulate(parts, DetectorModel(), np.random.default_rng(9))
    c = simulate(parts, DetectorModel(), np.random.default_rng(10))
    assert np.array_equal(a.px, b.px) and np.array_equal(a.offsets, b.offsets)
    assert not np.array_equal(a.px, c.px)
