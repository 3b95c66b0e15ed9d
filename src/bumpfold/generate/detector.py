"""A parametric detector between particle level and "reco" level (particle-flow style).

What it does to the stable visible particles of an event (all numbers are config keys,
defaults close to CMS in Run 2):

* **Tracker** (|eta| < ``tracker_eta_max`` = 2.5): charged particles with
  pT > ``track_pt_min`` (0.5 GeV) are found with probability ``track_efficiency`` (0.9)
  and measured with sigma(pT)/pT = ``track_res_const`` (0.5 %) (+) ``track_res_slope`` * pT
  (1e-4 / GeV, i.e. 10 % at 1 TeV), direction kept.
* **Calorimeters** (|eta| < ``calo_eta_max`` = 5): everything else visible — photons,
  neutral hadrons, and charged particles the tracker missed — deposits its energy in
  cells of an eta-phi grid: photons and electrons in the ECAL (cells
  ``ecal_cell`` = 0.0175 wide, sigma_E/E = 3 %/sqrt(E) (+) 0.5 %), hadrons and muons
  in the HCAL (cells ``hcal_cell`` = 0.087 wide, sigma_E/E = 100 %/sqrt(E) (+) 5 %).
  Each cell's summed energy is smeared once, cells below ``ecal_threshold`` /
  ``hcal_threshold`` (0.5 / 1.0 GeV) are dropped, and a cell becomes a massless
  candidate at the cell centre.

Tracks and cells together are the reco-level candidates the jets are built from, so reco
jets lose tracking inefficiency, gain calorimeter granularity and resolution, and have
fewer constituents than particle-level jets, as a detector makes them.

Calibration parameters (1 and 0 by default; the signal systematics vary them, reprocessing
the same generated events): ``calo_energy_scale`` and ``track_pt_scale`` scale every
measured cell energy (before its threshold) and track pT, moving jet pT and mass together
(jet energy scale); ``jet_mass_scale`` and ``jet_mass_resolution`` scale and smear (relative
Gaussian width) the reco jets' mass and soft-drop mass alone
(:func:`bumpfold.generate.production`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bumpfold.generate.pythia import FinalState, Particles

PION_MASS = 0.13957  # GeV, the mass given to reconstructed tracks
_ECAL_IDS = (11, 22)


@dataclass(frozen=True)
class DetectorModel:
    tracker_eta_max: float = 2.5
    track_pt_min: float = 0.5
    track_efficiency: float = 0.9
    track_res_const: float = 0.005
    track_res_slope: float = 1e-4
    calo_eta_max: float = 5.0
    ecal_cell: float = 0.0175
    ecal_stochastic: float = 0.03
    ecal_constant: float = 0.005
    ecal_threshold: float = 0.5
    hcal_cell: float = 0.087
    hcal_stochastic: float = 1.0
    hcal_constant: float = 0.05
    hcal_threshold: float = 1.0
    calo_energy_scale: float = 1.0
    track_pt_scale: float = 1.0
    jet_mass_scale: float = 1.0
    jet_mass_resolution: float = 0.0


def simulate(particles: FinalState, model: DetectorModel, rng: np.random.Generator) -> Particles:
    """Turn particle-level final states into reco-level tracks and calorimeter cells."""
    n_events = particles.n_events
    event = np.repeat(np.arange(n_events), np.diff(particles.offsets))
    pt = np.hypot(particles.px, particles.py)
    eta = np.arcsinh(np.divide(particles.pz, pt, out=np.zeros_like(pt), where=pt > 0))
    phi = np.arctan2(particles.py, particles.px)

    charged = particles.charge != 0
    trackable = charged & (np.abs(eta) < model.tracker_eta_max) & (pt > model.track_pt_min)
    tracked = trackable & (rng.random(len(pt)) < model.track_efficiency)
    tracks = _tracks(pt[tracked], eta[tracked], phi[tracked], model, rng)

    to_calo = ~tracked & (np.abs(eta) < model.calo_eta_max)
    is_em = np.isin(np.abs(particles.pdg_id), _ECAL_IDS)
    ecal = _cells(event, eta, phi, particles.e, to_calo & is_em, n_events, model.ecal_cell,
                  model.ecal_stochastic, model.ecal_constant, model.ecal_threshold, rng, model.calo_energy_scale)
    hcal = _cells(event, eta, phi, particles.e, to_calo & ~is_em, n_events, model.hcal_cell,
                  model.hcal_stochastic, model.hcal_constant, model.hcal_threshold, rng, model.calo_energy_scale)

    parts = [(event[tracked], tracks), ecal, hcal]
    ev = np.concatenate([p[0] for p in parts])
    p4 = np.concatenate([p[1] for p in parts])
    order = np.argsort(ev, kind="stable")
    offsets = np.zeros(n_events + 1, dtype=np.int64)
    np.cumsum(np.bincount(ev, minlength=n_events), out=offsets[1:])
    p4 = p4[order]
    return Particles(px=p4[:, 0], py=p4[:, 1], pz=p4[:, 2], e=p4[:, 3], offsets=offsets)


def _p4(pt, eta, phi, mass):
    pz = pt * np.sinh(eta)
    e = np.sqrt(pt**2 + pz**2 + mass**2)
    return np.stack([pt * np.cos(phi), pt * np.sin(phi), pz, e], axis=1)


def _tracks(pt, eta, phi, model: DetectorModel, rng: np.random.Generator):
    sigma = np.hypot(model.track_res_const, model.track_res_slope * pt)
    smeared = pt * np.abs(1.0 + sigma * rng.standard_normal(len(pt))) * model.track_pt_scale
    return _p4(smeared, eta, phi, PION_MASS)


def _cells(event, eta, phi, energy, mask, n_events, cell, stochastic, constant, threshold, rng, scale=1.0):
    """Sum energies per (event, eta cell, phi cell), smear, scale, threshold; massless at the centre."""
    n_phi = int(np.ceil(2 * np.pi / cell))
    i_eta = np.floor(eta[mask] / cell).astype(np.int64)
    i_phi = np.floor((phi[mask] + np.pi) / (2 * np.pi) * n_phi).astype(np.int64) % n_phi
    eta_span = 2 * int(np.ceil(10.0 / cell)) + 1
    key = (event[mask] * eta_span + (i_eta + eta_span // 2)) * n_phi + i_phi
    cells, inverse = np.unique(key, return_inverse=True)
    e_true = np.bincount(inverse, weights=energy[mask], minlength=len(cells))
    sigma = np.sqrt(stochastic**2 * e_true + (constant * e_true) ** 2)
    e_meas = (e_true + sigma * rng.standard_normal(len(cells))) * scale
    keep = e_meas > threshold
    cells, e_meas = cells[keep], e_meas[keep]
    cell_event = cells // (eta_span * n_phi)
    c_eta = ((cells // n_phi) % eta_span - eta_span // 2 + 0.5) * cell
    c_phi = ((cells % n_phi) + 0.5) * (2 * np.pi / n_phi) - np.pi
    pt = e_meas / np.cosh(c_eta)
    return cell_event, _p4(pt, c_eta, c_phi, 0.0)
