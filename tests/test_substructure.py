"""The numba substructure kernels against fjcontrib (SoftDrop, Nsubjettiness OnePass_KT_Axes)."""

from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np
import pytest

from bumpfold.generate.pythia import PythiaGenerator
from bumpfold.generate.substructure import jet_substructure
from tests.conftest import QCD, SIGNAL


def _jets_as_events(spec, n_events: int, seed: int) -> ak.Array:
    fs = PythiaGenerator(spec, seed=seed).batch(n_events)
    particles = ak.unflatten(
        ak.zip({"px": fs.px, "py": fs.py, "pz": fs.pz, "E": fs.e}), np.diff(fs.offsets))
    seq = fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.antikt_algorithm, 1.0))
    return ak.flatten(seq.constituents(min_pt=200.0), axis=1)


@pytest.mark.parametrize("spec", [QCD, SIGNAL], ids=["qcd", "signal"])
def test_kernels_match_fjcontrib(spec):
    jets = _jets_as_events(spec, 40, seed=5)
    flat = ak.flatten(jets)
    p4 = np.stack([ak.to_numpy(flat[f]) for f in ("px", "py", "pz", "E")], axis=1)
    offsets = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.num(jets)))])
    msd, taus = jet_substructure(p4, offsets, r0=1.0, sd_beta=0.0, sd_zcut=0.1)

    reclustered = fastjet.ClusterSequence(jets, fastjet.JetDefinition(fastjet.cambridge_algorithm, 10.0))
    ref_msd = ak.to_numpy(reclustered.exclusive_jets_softdrop_grooming(
        njets=1, beta=0.0, symmetry_cut=0.1, R0=1.0).msoftdrop)
    ref_taus = ak.to_numpy(reclustered.njettiness(
        njets=[1, 2, 3, 4], beta=1.0, R0=1.0, axes_definition="OnePass_KT_Axes")).reshape(-1, 4)

    assert len(msd) == len(ref_msd) > 50
    np.testing.assert_allclose(msd, ref_msd, rtol=1e-7, atol=1e-6)
    np.testing.assert_allclose(taus, ref_taus, rtol=1e-7, atol=1e-10)
    jet = np.add.reduceat(p4, offsets[:-1], axis=0)
    mass = np.sqrt(np.maximum(jet[:, 3] ** 2 - (jet[:, :3] ** 2).sum(axis=1), 0))
    assert (msd <= mass + 1e-6).all()  # grooming only removes
    assert (taus[:, 1] <= taus[:, 0] + 1e-12).mean() > 0.9  # more axes, smaller tau (mostly)


def test_two_prong_toy_jet():
    """Two hard collinear partons 0.4 apart: tau2 ~ 0, tau1 = pT-weighted distance / R0."""
    pts, etas = np.array([600.0, 400.0]), np.array([0.0, 0.4])
    p4 = np.stack([pts, np.zeros(2), pts * np.sinh(etas), pts * np.cosh(etas)], axis=1)
    msd, taus = jet_substructure(p4, np.array([0, 2]), r0=1.0)
    total = p4.sum(axis=0)
    mass = np.sqrt(total[3] ** 2 - (total[:3] ** 2).sum())
    assert msd[0] == pytest.approx(mass, rel=1e-12)  # z = 0.4 > 0.1: nothing groomed
    assert taus[0, 1] == pytest.approx(0.0, abs=1e-12)
    assert 0.0 < taus[0, 0] < 0.4
    assert taus[0, 2] == taus[0, 3] == 0.0  # fewer constituents than axes


def test_soft_wide_emission_is_groomed():
    pts, etas = np.array([900.0, 5.0]), np.array([0.0, 0.8])
    p4 = np.stack([pts, np.zeros(2), pts * np.sinh(etas), pts * np.cosh(etas)], axis=1)
    msd, _ = jet_substructure(p4, np.array([0, 2]), r0=1.0)
    assert msd[0] == pytest.approx(0.0, abs=1e-6)
