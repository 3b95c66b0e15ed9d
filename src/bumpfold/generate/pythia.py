"""Pythia 8 event generation through the ``pythia8mc`` wheel, batch-wise into numpy.

Two process families, both at the LHC Olympics R&D settings by default (13 TeV, no MPI):

* QCD dijets (``HardQCD:all`` above a pTHat floor). The floor must sit well below the
  leading-jet cut: with a 1.2 TeV cut on R = 1.0 jets, events with pTHat < 1.1 TeV make 26 %
  of the selected sample (ISR-rich events). To keep the low floor affordable a
  :class:`ShowerJetVeto` vetoes, when the shower has evolved down to a low scale, events
  whose partons cannot make a jet near the cut (their showering and hadronisation are what
  cost); Pythia's cross section then counts the vetoed events out.
* A heavy resonance of mass m_res decaying to two jets, in one of the :data:`TOPOLOGIES`
  (prongs = quarks inside the jet):

  - ``qq`` (2 + 2 prongs, the LHC Olympics R&D signal): W' -> X Y, X -> q q', Y -> q q.
    Pythia's W'+ decaying to W+ Z through its W'-W-Z coupling, with the W mass set to m_X
    and the Z mass to m_Y, both forced to light quarks. Pythia's W' -> W Z matrix element
    gives mostly longitudinal X and Y, whose quarks follow sin^2(theta*) in the rest frame
    and so stay within one large-R jet; an isotropic (scalar) X decay puts one quark out of
    the jet far more often.
  - ``qq_bb`` (2 + 2 prongs, heavy flavour): as ``qq``, with Y -> b b-bar.
  - ``tb`` (3 + 1 prongs, a top-like daughter): W' -> t b-bar, with the top mass set to m_X,
    t -> W b, W -> q q'. The other jet is the b quark's; m_Y is not used.
  - ``ww_qq`` (4 + 2 prongs): a CP-odd Higgs A (gg -> A) decaying to h Z, with the h mass set
    to m_X and h -> W+ W- -> 4 quarks, and the Z mass set to m_Y, Z -> q q. Pythia's A width
    from its default couplings is several TeV at these masses, so it is set to 3 % of m_res.

  Every topology truncates the line shape to 0.75-1.25 m_res (Pythia's mMin/mMax); the
  generator cross section (``Runs`` tree) is that of the truncated, forced decays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import awkward as ak
import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError
from bumpfold.generate.process import LINE_SHAPE, TOPOLOGIES, ProcessSpec

__all__ = ["TOPOLOGIES", "ProcessSpec", "PythiaGenerator", "pythia_commands"]

log = logging.getLogger(__name__)

NEUTRINOS = (12, 14, 16)
WPRIME_ID, X_ID, Y_ID = 34, 24, 23  # Pythia codes: W'+, and the W+ and Z that play X and Y
TOP_ID, A_ID, H_ID = 6, 36, 25  # the top of ``tb``; the A and h of ``ww_qq``
LIGHT_QUARKS = "1 2 3 4"  # d, u, s, c
A_WIDTH_FRACTION = 0.03


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
        spec.check()
        return common + _RESONANCE_COMMANDS[spec.topology](spec)
    raise BumpfoldInputError(f"unknown process kind {spec.kind!r} for process {spec.name!r}")


def _line_shape(pid: int, m_resonance: float) -> list[str]:
    # keep the line shape near the pole: the parton luminosity otherwise makes the off-shell
    # low-mass tail dominate (median mHat ~ 600 GeV for a 3.5 TeV W')
    return [f"{pid}:m0 = {m_resonance}", f"{pid}:mMin = {LINE_SHAPE[0] * m_resonance}",
            f"{pid}:mMax = {LINE_SHAPE[1] * m_resonance}"]


def _hadronic_w() -> list[str]:
    # W -> c b-bar is open through the CKM matrix: keep the W's jets light
    return [f"{X_ID}:onMode = off", f"{X_ID}:onIfAny = {LIGHT_QUARKS}", f"{X_ID}:offIfAny = 5 6"]


def _wprime_to_xy(spec: ProcessSpec, y_quarks: str) -> list[str]:
    return ["NewGaugeBoson:ffbar2Wprime = on", *_line_shape(WPRIME_ID, spec.m_resonance), "Wprime:coup2WZ = 1.0",
            f"{WPRIME_ID}:onMode = off", f"{WPRIME_ID}:onIfMatch = {X_ID} {Y_ID}",
            f"{X_ID}:m0 = {spec.m_x}", *_hadronic_w(),
            f"{Y_ID}:m0 = {spec.m_y}", f"{Y_ID}:onMode = off", f"{Y_ID}:onIfAny = {y_quarks}"]


def _wprime_to_tb(spec: ProcessSpec) -> list[str]:
    return ["NewGaugeBoson:ffbar2Wprime = on", *_line_shape(WPRIME_ID, spec.m_resonance),
            f"{WPRIME_ID}:onMode = off", f"{WPRIME_ID}:onIfMatch = {TOP_ID} 5",
            f"{TOP_ID}:m0 = {spec.m_x}", f"{TOP_ID}:onMode = off", f"{TOP_ID}:onIfMatch = {X_ID} 5",
            *_hadronic_w()]


def _a_to_hz(spec: ProcessSpec) -> list[str]:
    return ["Higgs:useBSM = on", "HiggsBSM:gg2A3 = on", *_line_shape(A_ID, spec.m_resonance),
            f"{A_ID}:doForceWidth = on", f"{A_ID}:mWidth = {A_WIDTH_FRACTION * spec.m_resonance}",
            f"{A_ID}:onMode = off", f"{A_ID}:onIfMatch = {Y_ID} {H_ID}",
            f"{H_ID}:m0 = {spec.m_x}", f"{H_ID}:onMode = off", f"{H_ID}:onIfMatch = {X_ID} {X_ID}",
            *_hadronic_w(),
            f"{Y_ID}:m0 = {spec.m_y}", f"{Y_ID}:onMode = off", f"{Y_ID}:onIfAny = {LIGHT_QUARKS}"]


_RESONANCE_COMMANDS = {
    "qq": lambda spec: _wprime_to_xy(spec, LIGHT_QUARKS),
    "qq_bb": lambda spec: _wprime_to_xy(spec, "5"),
    "tb": _wprime_to_tb,
    "ww_qq": _a_to_hz,
}


def pthat_of(events: ak.Array) -> NDArray[np.float64]:
    """The hard process's pTHat [GeV] per event of a ``nextBatch`` (0 for 2 -> 1)."""
    return np.sqrt(ak.to_numpy(events.info.pT2Hat))


@dataclass(frozen=True)
class ShowerJetVeto:
    """When the shower has evolved down to ``scale`` [GeV], cluster the partons present into
    anti-kT jets of ``radius`` and veto the event if the leading one has pT < ``pt_min``
    [GeV] (0: never veto, only record). For QCD 2 -> 2 processes; see
    :class:`bumpfold.generate.production.ShowerFilter` for how production sets it."""

    scale: float = 50.0
    radius: float = 1.5
    pt_min: float = 0.0


def _silent_slowjet(pythia8mc, radius: float):
    """Anti-kT SlowJet (pT > 1 GeV) whose first clustering, which makes Pythia's bundled
    fjcore print its banner to the C++ stdout, runs on an empty event with file descriptor 1
    sent to /dev/null: every generate job would otherwise print it to the console. The
    banner's citation request is honoured in docs/methods.md."""
    import os
    import sys

    jets = pythia8mc.SlowJet(-1, radius, 1.0)
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            jets.analyze(pythia8mc.Event())
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return jets


def _shower_jet_hook(pythia8mc, spec: ShowerJetVeto):
    """The Pythia ``UserHooks`` that applies ``spec`` and records, per event it sees, the
    hard process's pTHat and the leading shower-jet pT (vetoed or not)."""

    class ShowerJetHook(pythia8mc.UserHooks):
        def __init__(self) -> None:
            super().__init__()
            self.jets = _silent_slowjet(pythia8mc, spec.radius)  # anti-kT, pT > 1 GeV
            self.records: list[tuple[float, float]] = []

        def canVetoPT(self) -> bool:
            return True

        def scaleVetoPT(self) -> float:
            return spec.scale

        def doVetoPT(self, iPos: int, event) -> bool:
            self.jets.analyze(event)
            pt = self.jets.pT(0) if self.jets.sizeJet() > 0 else 0.0
            self.records.append((event[5].pT(), pt))  # entry 5: an outgoing parton of the 2 -> 2
            return pt < spec.pt_min

    return ShowerJetHook()


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

    def __init__(self, spec: ProcessSpec, *, sqrt_s: float = 13000.0, mpi: bool = False, seed: int,
                 shower_veto: ShowerJetVeto | None = None) -> None:
        import pythia8mc

        self.spec = spec
        self._pythia = pythia8mc.Pythia("", False)
        for command in pythia_commands(spec, sqrt_s=sqrt_s, mpi=mpi, seed=seed):
            if not self._pythia.readString(command):
                raise BumpfoldInputError(f"Pythia rejected setting {command!r} for process {spec.name!r}")
        self._hook = None
        if shower_veto is not None:
            if spec.kind != "qcd":
                raise BumpfoldInputError(f"process {spec.name!r}: the shower-jet veto is for QCD (2 -> 2) processes")
            self._hook = _shower_jet_hook(pythia8mc, shower_veto)  # kept alive with Pythia
            self._pythia.setUserHooksPtr(self._hook)
        if not self._pythia.init():
            raise BumpfoldInputError(f"Pythia failed to initialise process {spec.name!r}; check its settings")
        self._charge_of: dict[int, float] = {}

    def raw_batch(self, n_events: int) -> ak.Array:
        """Bare ``Pythia.nextBatch``: the full event record as an awkward array."""
        if self._hook is not None:
            self._hook.records.clear()
        events = self._pythia.nextBatch(n_events)
        if len(events) == 0 or "prt" not in ak.fields(events):
            raise RuntimeError(f"Pythia produced no events for process {self.spec.name!r}; check its settings")
        return events

    def shower_jet_pt(self, events: ak.Array) -> NDArray[np.float64]:
        """The veto's leading shower-jet pT [GeV] of each event of the last ``raw_batch``.
        The hook also saw the vetoed events and any Pythia dropped, so its records are
        matched to the returned events in order by their pTHat."""
        if self._hook is None:
            raise RuntimeError(f"process {self.spec.name!r} runs without a shower-jet veto")
        pthat = pthat_of(events)
        out = np.empty(len(pthat))
        records = iter(self._hook.records)
        for i, value in enumerate(pthat):
            for key, pt in records:
                if abs(key - value) <= 1e-9 * value:
                    out[i] = pt
                    break
            else:
                raise RuntimeError(f"process {self.spec.name!r}: no shower-jet record for event {i} of the batch")
        return out

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
