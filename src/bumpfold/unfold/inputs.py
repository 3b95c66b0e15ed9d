"""Unfolding inputs: simulated (particle level, detector level) pairs and detector-level data.

A simulated event carries both levels; ``pass_gen`` / ``pass_reco`` say at which level it
passes the selection. An event may pass only one level: gen-only events measure the
inefficiency, reco-only events are fakes. Observable values of an event at a level it does
not pass are never used (they may be NaN), so they are not checked.

:func:`read_jet_observables` builds the inputs from the NanoAOD-like ROOT files of
``bumpfold.generate``: the leading reco jet (``FatJet_*``) and the leading particle-level
jet (``GenJetAK8_*``), each found on its own (no matching), as in the OmniFold paper's jet
substructure example. Masses and pT are in GeV.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError
from bumpfold.io.reading import read_branches

log = logging.getLogger(__name__)

#: observable name -> jet fields it is computed from (same at both levels)
JET_OBSERVABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "mass": ("mass",),
    "multiplicity": ("nConstituents",),
    "tau21": ("tau1", "tau2"),
    "tau32": ("tau2", "tau3"),
    "msoftdrop": ("msoftdrop",),
    "pt": ("pt",),
}
LEVEL_PREFIX = {"reco": "FatJet", "gen": "GenJetAK8"}


def _as_2d(name: str, values: NDArray) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise BumpfoldInputError(f"{name}: expected an (events, observables) array, got shape {array.shape}")
    return array


def _as_weights(name: str, weights: NDArray | None, n: int) -> NDArray[np.float64]:
    """Per-event weights (ones when None), checked: right length, finite, not all <= 0."""
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise BumpfoldInputError(f"{name}: has shape {w.shape} but there are {n} events")
    if not np.isfinite(w).all():
        raise BumpfoldInputError(f"{name}: {int((~np.isfinite(w)).sum())} weights are NaN or infinite")
    if n and not (w > 0).any():
        raise BumpfoldInputError(f"{name}: all {n} weights are zero or negative")
    return w


def _observable_names(observables: Sequence[str] | None, k: int, owner: str) -> list[str]:
    names = [f"x{i}" for i in range(k)] if observables is None else list(observables)
    if len(names) != k:
        raise BumpfoldInputError(f"{owner}.observables: {len(names)} names ({names}) for {k} columns")
    return names


def _as_flags(name: str, flags: NDArray, n: int) -> NDArray[np.bool_]:
    array = np.asarray(flags)
    if array.shape != (n,):
        raise BumpfoldInputError(f"simulation {name}: has {array.size} entries but gen has {n} events")
    return array.astype(bool)


def _check_finite(owner: str, level: str, values: NDArray[np.float64], passing: NDArray[np.bool_],
                  names: list[str]) -> None:
    bad = ~np.isfinite(values[passing])
    for j in np.flatnonzero(bad.any(axis=0)):
        raise BumpfoldInputError(f"{owner}: {level} observable {names[j]!r} is NaN or infinite in "
                                 f"{int(bad[:, j].sum())} events that pass {level} level")


@dataclass(init=False)
class UnfoldingInputs:
    """Simulated events: ``gen``/``reco`` (n, k) observables, selection flags, prior weights.

    ``weights`` defaults to ones; ``observables`` to ``x0, x1, ...``. Validation on creation.
    """

    gen: NDArray[np.float64]
    reco: NDArray[np.float64]
    pass_gen: NDArray[np.bool_]
    pass_reco: NDArray[np.bool_]
    weights: NDArray[np.float64]
    observables: list[str]

    def __init__(self, gen: NDArray, reco: NDArray, pass_gen: NDArray, pass_reco: NDArray,
                 weights: NDArray | None = None, observables: Sequence[str] | None = None) -> None:
        self.gen = _as_2d("simulation gen", gen)
        self.reco = _as_2d("simulation reco", reco)
        n, k = self.gen.shape
        if self.reco.shape[0] != n:
            raise BumpfoldInputError(f"simulation: gen has {n} events but reco has {self.reco.shape[0]}")
        if self.reco.shape[1] != k:
            raise BumpfoldInputError(f"simulation: gen has {k} observables but reco has {self.reco.shape[1]}")
        self.pass_gen = _as_flags("pass_gen", pass_gen, n)
        self.pass_reco = _as_flags("pass_reco", pass_reco, n)
        self.weights = _as_weights("simulation weights", weights, n)
        self.observables = _observable_names(observables, k, "simulation")
        if not self.pass_gen.any() or not self.pass_reco.any():
            raise BumpfoldInputError(f"simulation: no event passes gen ({int(self.pass_gen.sum())}) "
                                     f"or reco ({int(self.pass_reco.sum())}) level of {n}")
        _check_finite("simulation", "gen", self.gen, self.pass_gen, self.observables)
        _check_finite("simulation", "reco", self.reco, self.pass_reco, self.observables)

    @property
    def n_events(self) -> int:
        return len(self.weights)


@dataclass(init=False)
class DataInputs:
    """Detector-level data: ``reco`` (m, k) observables (all events pass reco) and weights."""

    reco: NDArray[np.float64]
    weights: NDArray[np.float64]
    observables: list[str]

    def __init__(self, reco: NDArray, weights: NDArray | None = None,
                 observables: Sequence[str] | None = None) -> None:
        self.reco = _as_2d("data reco", reco)
        m, k = self.reco.shape
        if m == 0:
            raise BumpfoldInputError("data: no events")
        self.weights = _as_weights("data weights", weights, m)
        self.observables = _observable_names(observables, k, "data")
        _check_finite("data", "reco", self.reco, np.ones(m, dtype=bool), self.observables)

    @property
    def n_events(self) -> int:
        return len(self.weights)


def as_pseudo_data(sim: UnfoldingInputs) -> DataInputs:
    """Detector-level pseudo-data from a simulated sample: the reco-passing events (fakes
    included, as real data would have them) with their weights."""
    keep = sim.pass_reco
    return DataInputs(reco=sim.reco[keep], weights=sim.weights[keep], observables=list(sim.observables))


def _check_observables(observables: Sequence[str]) -> None:
    if not observables:
        raise BumpfoldInputError("observables: empty list (allowed: " + ", ".join(JET_OBSERVABLE_FIELDS) + ")")
    for name in observables:
        if name not in JET_OBSERVABLE_FIELDS:
            raise BumpfoldInputError(f"observable {name!r} is not known (allowed: {', '.join(JET_OBSERVABLE_FIELDS)})")


def _needed_branches(observables: Sequence[str], prefixes: Sequence[str] = tuple(LEVEL_PREFIX.values())
                     ) -> dict[str, str]:
    """Branch -> the observable that needs it (``pt`` at every level for the selection)."""
    needed = {f"{p}_pt": "selection" for p in prefixes}
    for name in observables:
        for field in JET_OBSERVABLE_FIELDS[name]:
            for prefix in prefixes:
                needed.setdefault(f"{prefix}_{field}", name)
    return needed


def _read_branches(path: Path, needed: dict[str, str], extra: Sequence[str]) -> dict[str, ak.Array]:
    required = {b: f"needed for {why!r}" for b, why in needed.items()}
    required.update({b: "asked for as weights" for b in extra if b not in required})
    return read_branches(path, "Events", required)


def _leading(arrays: dict[str, ak.Array], prefix: str, fields: set[str]) -> dict[str, NDArray[np.float64]]:
    """Fields of the highest-pT jet per event (NaN where an event has no jet)."""
    index = ak.argmax(arrays[f"{prefix}_pt"], axis=1, keepdims=True)
    return {f: ak.to_numpy(ak.fill_none(ak.firsts(arrays[f"{prefix}_{f}"][index]), np.nan)).astype(np.float64)
            for f in fields}


def _ratio(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    """tau_N / tau_M, 0 where tau_M = 0 (a one-constituent jet has all tau = 0); NaN stays NaN."""
    out = np.where(np.isnan(den), np.nan, 0.0)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _observable(name: str, jet: dict[str, NDArray[np.float64]]) -> NDArray[np.float64]:
    if name == "tau21":
        return _ratio(jet["tau2"], jet["tau1"])
    if name == "tau32":
        return _ratio(jet["tau3"], jet["tau2"])
    return jet[JET_OBSERVABLE_FIELDS[name][0]]


def read_jet_observables(paths: Sequence[str | Path], *, observables: Sequence[str], pt_min: float,
                         weight_branch: str | None = None) -> UnfoldingInputs:
    """Leading-jet observables at particle and detector level from bumpfold ROOT files.

    ``pass_gen`` (``pass_reco``): the event has a particle-level (reco) jet with pT >
    ``pt_min`` [GeV]. Events passing neither level carry no information and are dropped.
    Weights are ones, or the per-event branch ``weight_branch`` (e.g. ``genWeight``).
    ``tau21``/``tau32`` are 0 for jets whose denominator tau is 0.
    """
    _check_observables(observables)
    if not paths:
        raise BumpfoldInputError("read_jet_observables: no input files")
    needed = _needed_branches(observables)
    fields = {"pt"} | {f for name in observables for f in JET_OBSERVABLE_FIELDS[name]}
    gen_cols, reco_cols, pass_gen, pass_reco, weights = [], [], [], [], []
    for path in map(Path, paths):
        arrays = _read_branches(path, needed, [weight_branch] if weight_branch else [])
        levels = {level: _leading(arrays, prefix, fields) for level, prefix in LEVEL_PREFIX.items()}
        pg = np.nan_to_num(levels["gen"]["pt"], nan=-np.inf) > pt_min
        pr = np.nan_to_num(levels["reco"]["pt"], nan=-np.inf) > pt_min
        keep = pg | pr
        gen_cols.append(np.column_stack([_observable(o, levels["gen"]) for o in observables])[keep])
        reco_cols.append(np.column_stack([_observable(o, levels["reco"]) for o in observables])[keep])
        pass_gen.append(pg[keep])
        pass_reco.append(pr[keep])
        w = ak.to_numpy(arrays[weight_branch]).astype(np.float64) if weight_branch else np.ones(len(pg))
        weights.append(w[keep])
        log.info("%s: %d events, %d pass gen, %d pass reco (pT > %g GeV), %d kept",
                 path, len(pg), int(pg.sum()), int(pr.sum()), pt_min, int(keep.sum()))
    return UnfoldingInputs(gen=np.concatenate(gen_cols), reco=np.concatenate(reco_cols),
                           pass_gen=np.concatenate(pass_gen), pass_reco=np.concatenate(pass_reco),
                           weights=np.concatenate(weights), observables=list(observables))


def read_detector_observables(paths: Sequence[str | Path], *, observables: Sequence[str],
                              pt_min: float) -> DataInputs:
    """Leading-jet observables of detector-level data (``FatJet_*`` only, e.g. a user's own
    NanoAOD): the events whose leading jet has pT > ``pt_min`` [GeV]."""
    _check_observables(observables)
    if not paths:
        raise BumpfoldInputError("read_detector_observables: no input files")
    prefix = LEVEL_PREFIX["reco"]
    needed = _needed_branches(observables, (prefix,))
    fields = {"pt"} | {f for name in observables for f in JET_OBSERVABLE_FIELDS[name]}
    columns = []
    for path in map(Path, paths):
        jet = _leading(_read_branches(path, needed, []), prefix, fields)
        passing = np.nan_to_num(jet["pt"], nan=-np.inf) > pt_min
        columns.append(np.column_stack([_observable(o, jet) for o in observables])[passing])
        log.info("%s: %d events, %d with a leading jet above %g GeV", path, len(passing), int(passing.sum()), pt_min)
    reco = np.concatenate(columns)
    if len(reco) == 0:
        raise BumpfoldInputError(f"{', '.join(map(str, paths))}: no event has a leading jet above {pt_min:g} GeV")
    return DataInputs(reco=reco, observables=list(observables))
