"""Jet finding (fastjet anti-kT through its awkward interface) and jet observables."""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np
from numpy.typing import NDArray

from bumpfold.generate.substructure import jet_substructure

JET_FIELDS = ("pt", "eta", "phi", "mass", "msoftdrop", "tau1", "tau2", "tau3", "tau4", "nConstituents")


@dataclass(frozen=True)
class JetConfig:
    """Jet definition and the jets kept: anti-kT radius, pT floor [GeV], |eta| range."""

    radius: float = 1.0
    pt_min: float = 200.0
    eta_max: float = 2.5
    sd_beta: float = 0.0
    sd_zcut: float = 0.1


def cluster(px, py, pz, e, offsets: NDArray[np.int64], config: JetConfig) -> ak.Array:
    """Anti-kT jets per event, pT-ordered, with soft-drop mass, tau1..4 and multiplicity.

    Inputs are flat particle arrays [GeV] with per-event ``offsets``. Returns a jagged
    record array with the fields of ``JET_FIELDS``.
    """
    import fastjet

    n_events = len(offsets) - 1
    particles = ak.Array(
        ak.contents.ListOffsetArray(
            ak.index.Index64(offsets),
            ak.contents.RecordArray(
                [ak.contents.NumpyArray(np.ascontiguousarray(a, dtype=np.float64)) for a in (px, py, pz, e)],
                ["px", "py", "pz", "E"],
            ),
        )
    )
    jet_def = fastjet.JetDefinition(fastjet.antikt_algorithm, config.radius)
    sequence = fastjet.ClusterSequence(particles, jet_def)
    jets = sequence.inclusive_jets(min_pt=config.pt_min)
    constituents = sequence.constituents(min_pt=config.pt_min)

    jpx, jpy, jpz, je = (ak.to_numpy(ak.flatten(jets[f])) for f in ("px", "py", "pz", "E"))
    pt = np.hypot(jpx, jpy)
    eta = np.arcsinh(np.divide(jpz, pt, out=np.zeros_like(pt), where=pt > 0))
    phi = np.arctan2(jpy, jpx)
    mass = np.sqrt(np.maximum(je**2 - jpx**2 - jpy**2 - jpz**2, 0.0))
    counts = ak.to_numpy(ak.num(jets))
    event_of = np.repeat(np.arange(n_events), counts)

    keep = np.abs(eta) < config.eta_max
    cons = ak.flatten(constituents, axis=1)[keep]
    n_cons = ak.to_numpy(ak.num(cons))
    flat = ak.flatten(cons)
    p4 = np.stack([ak.to_numpy(flat[f]) for f in ("px", "py", "pz", "E")], axis=1)
    cons_offsets = np.concatenate([[0], np.cumsum(n_cons)])
    msd, taus = jet_substructure(
        p4, cons_offsets, r0=config.radius, sd_beta=config.sd_beta, sd_zcut=config.sd_zcut
    )

    columns = {
        "pt": pt[keep], "eta": eta[keep], "phi": phi[keep], "mass": mass[keep], "msoftdrop": msd,
        "tau1": taus[:, 0], "tau2": taus[:, 1], "tau3": taus[:, 2], "tau4": taus[:, 3],
        "nConstituents": n_cons.astype(np.int32),
    }
    event_of = event_of[keep]
    # pT order within each event: sort by (event, -pt)
    order = np.lexsort((-columns["pt"], event_of))
    jet_counts = np.bincount(event_of, minlength=n_events)
    return ak.unflatten(ak.zip({k: v[order] for k, v in columns.items()}), jet_counts)


def match_index(reco: ak.Array, gen: ak.Array, max_dr: float) -> ak.Array:
    """Index of the nearest gen jet within ``max_dr`` for every reco jet, -1 if none."""
    pairs = ak.cartesian({"r": reco[["eta", "phi"]], "g": gen[["eta", "phi"]]}, nested=True)
    dphi = (pairs.r.phi - pairs.g.phi + np.pi) % (2 * np.pi) - np.pi
    dr = np.sqrt((pairs.r.eta - pairs.g.eta) ** 2 + dphi**2)
    best = ak.argmin(dr, axis=2, keepdims=True)
    best_dr = ak.flatten(dr[best], axis=2)
    best = ak.flatten(best, axis=2)
    return ak.values_astype(ak.where(ak.fill_none(best_dr < max_dr, False), ak.fill_none(best, -1), -1), np.int32)
