"""Pythia 8 event generation through the ``pythia8mc`` wheel, batch-wise into numpy.

Two process families, both at the LHC Olympics R&D settings by default (13 TeV, no MPI):
QCD dijets (``HardQCD:all`` with a pTHat floor) and a heavy resonance W' -> X Y with
X -> q q and Y -> q q' (W' as Pythia's W'+ with its decay forced to X Y; X is the heavy
neutral Higgs H0 and Y the charged Higgs H+, so that charge is conserved, their masses
set and their decays forced to light quarks).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import awkward as ak
import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

NEUTRINOS = (12, 14, 16)
WPRIME_ID, X_ID, Y_ID = 34, 35, 37  # Pythia codes: W'+, H0, H+ (charge is conserved)


@dataclass(frozen=True)
class ProcessSpec:
    """A generator process: ``kind`` is "qcd" or "resonance"; masses in GeV."""

    name: str
    kind: str
    pthat_min: float = 1100.0
    m_resonance: float = 3500.0
    m_x: float = 500.0
    m_y: float = 100.0
    # extra Pythia settings ("Key = value"), read last so they override: another tune or
    # shower/hadronisation parameters, e.g. the pseudo-data of the unfolding
    settings: tuple[str, ...] = ()

    @property
    def is_signal(self) -> bool:
        return self.kind == "resonance"


def pythia_commands(spec: ProcessSpec, *, sqrt_s: float, mpi: bool, seed: int) -> list[str]:
    """The Pythia settings strings for one process and seed."""
    common = [
        f"Beams:eCM = {sqrt_s}",
        f"PartonLevel:MPI = {'on' if mpi else 'off'}",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        "Next:numberCount = 0",
        "Print:quiet = on",
    ]
    return _process_commands(spec, common) + list(spec.settings)


def _process_commands(spec: ProcessSpec, common: list[str]) -> list[str]:
    if spec.kind == "qcd":
        return common + ["HardQCD:all = on", f"PhaseSpace:pTHatMin = {spec.pthat_min}"]
    if spec.kind == "resonance":
        return common + [
            "NewGaugeBoson:ffbar2Wprime = on",
            f"{WPRIME_ID}:m0 = {spec.m_resonance}",
            # keep the line shape near the pole: the parton luminosity otherwise makes the
            # off-shell low-mass tail dominate (median mHat ~ 600 GeV for a 3.5 TeV W')
            f"{WPRIME_ID}:mMin = {0.75 * spec.m_resonance}",
            f"{WPRIME_ID}:mMax = {1.25 * spec.m_resonance}",
            f"{WPRIME_ID}:onMode = off",
            f"{WPRIME_ID}:addChannel = 1 1.0 100 {X_ID} {Y_ID}",
            f"{X_ID}:m0 = {spec.m_x}",
            # X -> q qbar over d, u, s, c; Y = H+ -> u dbar, c sbar (channels set explicitly:
            # the default H0/H+ tables have no open light-quark channel at these masses)
            f"{X_ID}:oneChannel = 1 0.25 100 1 -1",
            f"{X_ID}:addChannel = 1 0.25 100 2 -2",
            f"{X_ID}:addChannel = 1 0.25 100 3 -3",
            f"{X_ID}:addChannel = 1 0.25 100 4 -4",
            f"{Y_ID}:m0 = {spec.m_y}",
            f"{Y_ID}:oneChannel = 1 0.5 100 2 -1",
            f"{Y_ID}:addChannel = 1 0.5 100 4 -3",
        ]
    raise ValueError(f"unknown process kind {spec.kind!r} for process {spec.name!r}")


@dataclass
class Particles:
    """Four-momenta of a batch of events, flat, with per-event ``offsets`` (GeV)."""

    px: NDArray[np.float64]
    py: NDArray[np.float64]
    pz: NDArray[np.float64]
    e: NDArray[np.float64]
    offsets: NDArray[np.int64]

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1


@dataclass(kw_only=True)
class FinalState(Particles):
    """Stable visible particles (no neutrinos) with their PDG id and charge."""

    pdg_id: NDArray[np.int32]
    charge: NDArray[np.float64]


class PythiaGenerator:
    """A configured, initialised Pythia instance that yields batches of final states."""

    def __init__(self, spec: ProcessSpec, *, sqrt_s: float = 13000.0, mpi: bool = False, seed: int) -> None:
        import pythia8mc

        self.spec = spec
        self._pythia = pythia8mc.Pythia("", False)
        for command in pythia_commands(spec, sqrt_s=sqrt_s, mpi=mpi, seed=seed):
            if not self._pythia.readString(command):
                raise ValueError(f"Pythia rejected setting {command!r} for process {spec.name!r}")
        if not self._pythia.init():
            raise RuntimeError(f"Pythia failed to initialise process {spec.name!r}")
        self._charge_of: dict[int, float] = {}

    def raw_batch(self, n_events: int) -> ak.Array:
        """Bare ``Pythia.nextBatch``: the full event record as an awkward array."""
        events = self._pythia.nextBatch(n_events)
        if len(events) == 0 or "prt" not in ak.fields(events):
            raise RuntimeError(f"Pythia produced no events for process {self.spec.name!r}; check its settings")
        return events

    def batch(self, n_events: int) -> FinalState:
        """Generate ``n_events`` and keep stable particles other than neutrinos."""
        return self.final_state(self.raw_batch(n_events))

    def final_state(self, events: ak.Array) -> FinalState:
        prt = events.prt
        status = ak.to_numpy(ak.flatten(prt.status))
        pdg = ak.to_numpy(ak.flatten(prt.id))
        keep = (status > 0) & ~np.isin(np.abs(pdg), NEUTRINOS)
        counts = ak.to_numpy(ak.num(prt))
        event_of = np.repeat(np.arange(len(counts)), counts)[keep]
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(event_of, minlength=len(counts)), out=offsets[1:])
        p = ak.flatten(prt.p)
        pdg = pdg[keep]
        return FinalState(
            px=ak.to_numpy(p.px)[keep],
            py=ak.to_numpy(p.py)[keep],
            pz=ak.to_numpy(p.pz)[keep],
            e=ak.to_numpy(p.e)[keep],
            pdg_id=pdg,
            charge=self._charges(pdg),
            offsets=offsets,
        )

    def _charges(self, pdg: NDArray[np.int32]) -> NDArray[np.float64]:
        ids, inverse = np.unique(pdg, return_inverse=True)
        table = np.empty(len(ids))
        for k, pid in enumerate(ids.tolist()):
            if pid not in self._charge_of:
                self._charge_of[pid] = float(self._pythia.particleData.charge(pid))
            table[k] = self._charge_of[pid]
        return table[inverse]

    @property
    def cross_section_pb(self) -> tuple[float, float]:
        """Generator cross section and its error [pb] (Pythia reports mb)."""
        info = self._pythia.infoPython()
        return info.sigmaGen() * 1e9, info.sigmaErr() * 1e9

    @property
    def n_tried(self) -> int:
        return int(self._pythia.infoPython().nTried())
