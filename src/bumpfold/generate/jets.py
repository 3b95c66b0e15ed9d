"""Jet finding (fastjet anti-kT through its awkward interface) and jet observables."""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np
from numpy.typing import NDArray

from bumpfold.generate.pythia import Particles
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


@dataclass
class FoundJets:
    """Anti-kT jets in acceptance, flat over a batch, before substructure."""

    kinematics: dict[str, NDArray[np.float64]]  # pt, eta, phi, mass [GeV]
    event_of: NDArray[np.int64]
    constituents: ak.Array  # one list of (px, py, pz, E) per jet
    n_events: int

    def leading_pt(self) -> NDArray[np.float64]:
        """Highest jet pT per event [GeV], 0 where an event has no jet."""
        lead = np.zeros(self.n_events)
        np.maximum.at(lead, self.event_of, self.kinematics["pt"])
        return lead


def _import_fastjet():
    """fastjet without its banner, which every job would otherwise print on first use (the
    citation it asks for is in docs/methods.md)."""
    import fastjet
    import fastjet._swig

    fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)  # one libfastjet for both interfaces
    return fastjet


def find_jets(particles: Particles, config: JetConfig) -> FoundJets:
    """Anti-kT jets per event (fastjet) above ``config.pt_min`` within ``config.eta_max``."""
    fastjet = _import_fastjet()

    per_event = ak.Array(
        ak.contents.ListOffsetArray(
            ak.index.Index64(particles.offsets),
            ak.contents.RecordArray(
                [ak.contents.NumpyArray(np.ascontiguousarray(a, dtype=np.float64))
                 for a in (particles.px, particles.py, particles.pz, particles.e)],
                ["px", "py", "pz", "E"],
            ),
        )
    )
    sequence = fastjet.ClusterSequence(per_event, fastjet.JetDefinition(fastjet.antikt_algorithm, config.radius))
    jets = sequence.inclusive_jets(min_pt=config.pt_min)
    constituents = sequence.constituents(min_pt=config.pt_min)

    jpx, jpy, jpz, je = (ak.to_numpy(ak.flatten(jets[f])) for f in ("px", "py", "pz", "E"))
    pt = np.hypot(jpx, jpy)
    eta = np.arcsinh(np.divide(jpz, pt, out=np.zeros_like(pt), where=pt > 0))
    keep = np.abs(eta) < config.eta_max
    kinematics = {
        "pt": pt[keep], "eta": eta[keep], "phi": np.arctan2(jpy, jpx)[keep],
        "mass": np.sqrt(np.maximum(je**2 - jpx**2 - jpy**2 - jpz**2, 0.0))[keep],
    }
    event_of = np.repeat(np.arange(particles.n_events), ak.to_numpy(ak.num(jets)))[keep]
    return FoundJets(kinematics, event_of, ak.flatten(constituents, axis=1)[keep], particles.n_events)


def with_substructure(jets: FoundJets, events: NDArray[np.bool_], config: JetConfig) -> ak.Array:
    """The jets of the selected ``events``, pT-ordered, with soft-drop mass, tau1..4 and
    multiplicity: a jagged record array (one list per selected event) of ``JET_FIELDS``.
    Substructure is computed only for these jets: it is the costly part."""
    chosen = events[jets.event_of]
    cons = jets.constituents[chosen]
    n_cons = ak.to_numpy(ak.num(cons))
    flat = ak.flatten(cons)
    p4 = np.stack([ak.to_numpy(flat[f]) for f in ("px", "py", "pz", "E")], axis=1)
    msd, taus = jet_substructure(p4, np.concatenate([[0], np.cumsum(n_cons)]), r0=config.radius,
                                 sd_beta=config.sd_beta, sd_zcut=config.sd_zcut)
    columns = {k: v[chosen] for k, v in jets.kinematics.items()}
    columns.update({"msoftdrop": msd, "tau1": taus[:, 0], "tau2": taus[:, 1], "tau3": taus[:, 2],
                    "tau4": taus[:, 3], "nConstituents": n_cons.astype(np.int32)})
    # renumber events among the selected ones, then order by (event, -pT)
    event_of = (np.cumsum(events) - 1)[jets.event_of[chosen]]
    order = np.lexsort((-columns["pt"], event_of))
    counts = np.bincount(event_of, minlength=int(events.sum()))
    return ak.unflatten(ak.zip({k: columns[k][order] for k in JET_FIELDS}), counts)


def match_index(reco: ak.Array, gen: ak.Array, max_dr: float) -> ak.Array:
    """Index of the nearest gen jet within ``max_dr`` for every reco jet, -1 if none."""
    pairs = ak.cartesian({"r": reco[["eta", "phi"]], "g": gen[["eta", "phi"]]}, nested=True)
    dphi = (pairs.r.phi - pairs.g.phi + np.pi) % (2 * np.pi) - np.pi
    dr = np.sqrt((pairs.r.eta - pairs.g.eta) ** 2 + dphi**2)
    best = ak.argmin(dr, axis=2, keepdims=True)
    best_dr = ak.flatten(dr[best], axis=2)
    best = ak.flatten(best, axis=2)
    return ak.values_astype(ak.where(ak.fill_none(best_dr < max_dr, False), ak.fill_none(best, -1), -1), np.int32)
