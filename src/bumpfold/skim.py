"""Dijet skim: event selection and the CATHODE / LHC Olympics feature table.

Per event, from the two leading (highest-pT) large-R jets, ordered by jet mass as in
CATHODE (``low`` = lighter jet): m_jj, m_j,low, delta m_j = m_j,high - m_j,low,
tau21 and tau32 of both jets, their pT and eta, |delta eta_jj|, the truth label where the
input has one, and the event weight. Masses and momenta in GeV.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bumpfold.errors import BumpfoldInputError
from bumpfold.io.atomic import atomic_path
from bumpfold.io.reading import FatJets, read_fatjets, read_generator_info

log = logging.getLogger(__name__)

FEATURES = ("mjj", "mj_low", "delta_mj", "tau21_low", "tau21_high", "tau32_low", "tau32_high",
            "pt_low", "pt_high", "eta_low", "eta_high", "delta_eta_jj")
COLUMNS = FEATURES + ("is_signal", "weight")


@dataclass(frozen=True)
class Selection:
    """Event selection: two jets within |eta| < jet_eta_max, the leading one above
    leading_pt_min [GeV], optionally |delta eta_jj| < delta_eta_max."""

    leading_pt_min: float = 1200.0
    jet_eta_max: float = 2.5
    delta_eta_max: float | None = None


JET_PT_MAX = 1.0e5  # GeV: no collider makes a jet above this; a larger pT is a corrupt value


def check_jet_values(columns: dict[str, np.ndarray], source: str, prefix: str) -> None:
    """Stop on jet values no detector gives, naming the branch (``prefix`` + field): NaN or
    inf in any field (a NaN tau1 would otherwise become tau21 = 0, a NaN eta drop the jet),
    a negative pT or mass, or a pT above :data:`JET_PT_MAX` (m_jj loses all precision)."""
    for name, values in columns.items():
        bad = ~np.isfinite(values)
        if bad.any():
            raise BumpfoldInputError(f"{source}: {prefix}{name} has {int(bad.sum())} NaN/inf value(s)")
    for name in ("pt", "mass"):
        negative = columns[name] < 0
        if negative.any():
            raise BumpfoldInputError(f"{source}: {prefix}{name} has {int(negative.sum())} negative value(s)")
    huge = columns["pt"] > JET_PT_MAX
    if huge.any():
        raise BumpfoldInputError(f"{source}: {prefix}pt has {int(huge.sum())} value(s) above {JET_PT_MAX:g} GeV")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """tau_N / tau_N-1, defined as 0 for a jet whose tau_N-1 is 0 (a one-particle jet)."""
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def dijet_features(j1: dict[str, np.ndarray], j2: dict[str, np.ndarray]) -> pd.DataFrame:
    """The feature table from the two leading jets, each a dict of arrays with
    pt, eta, phi, mass, tau1, tau2, tau3 (GeV)."""
    def p4(j):
        return (j["pt"] * np.cos(j["phi"]), j["pt"] * np.sin(j["phi"]), j["pt"] * np.sinh(j["eta"]),
                np.sqrt((j["pt"] * np.cosh(j["eta"])) ** 2 + j["mass"] ** 2))

    (x1, y1, z1, e1), (x2, y2, z2, e2) = p4(j1), p4(j2)
    mjj = np.sqrt(np.maximum((e1 + e2) ** 2 - (x1 + x2) ** 2 - (y1 + y2) ** 2 - (z1 + z2) ** 2, 0.0))
    first_lighter = j1["mass"] <= j2["mass"]
    low = {k: np.where(first_lighter, j1[k], j2[k]) for k in j1}
    high = {k: np.where(first_lighter, j2[k], j1[k]) for k in j1}
    return pd.DataFrame({
        "mjj": mjj,
        "mj_low": low["mass"],
        "delta_mj": high["mass"] - low["mass"],
        "tau21_low": _ratio(low["tau2"], low["tau1"]),
        "tau21_high": _ratio(high["tau2"], high["tau1"]),
        "tau32_low": _ratio(low["tau3"], low["tau2"]),
        "tau32_high": _ratio(high["tau3"], high["tau2"]),
        "pt_low": low["pt"],
        "pt_high": high["pt"],
        "eta_low": low["eta"],
        "eta_high": high["eta"],
        "delta_eta_jj": np.abs(j1["eta"] - j2["eta"]),
    })


def check_finite(table: pd.DataFrame, source: str, columns: Sequence[str] = FEATURES) -> None:
    """Stop on NaN/inf in any of ``columns``, naming the column and how many rows."""
    for col in columns:
        bad = ~np.isfinite(table[col].to_numpy(dtype=np.float64))
        if bad.any():
            raise BumpfoldInputError(f"{source}: feature {col!r} has {int(bad.sum())} NaN/inf value(s)")


def skim_jets(jets: FatJets, selection: Selection, source: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Select dijet events and build the feature table and cutflow (flat numpy throughout)."""
    check_jet_values(jets.columns, source, "FatJet_")
    cols = jets.columns
    event = np.repeat(np.arange(jets.n_events), jets.counts)
    usable = np.abs(cols["eta"]) < selection.jet_eta_max
    event = event[usable]
    order = np.lexsort((-cols["pt"][usable], event))  # by event, then decreasing pT
    cols = {k: v[usable][order] for k, v in cols.items()}
    counts = np.bincount(event, minlength=jets.n_events)
    first = np.cumsum(counts) - counts
    dijet = counts >= 2
    cutflow = {"all": jets.n_events, "two_jets": int(dijet.sum())}
    lead = {k: v[first[dijet]] for k, v in cols.items()}
    sub = {k: v[first[dijet] + 1] for k, v in cols.items()}
    passed = lead["pt"] > selection.leading_pt_min
    cutflow["leading_pt"] = int(passed.sum())
    if selection.delta_eta_max is not None:
        passed &= np.abs(lead["eta"] - sub["eta"]) < selection.delta_eta_max
        cutflow["delta_eta"] = int(passed.sum())
    table = dijet_features({k: v[passed] for k, v in lead.items()}, {k: v[passed] for k, v in sub.items()})
    rows = np.flatnonzero(dijet)[passed]
    truth = jets.event_columns.get("Truth_isSignal")
    table["is_signal"] = truth[rows].astype(np.int8) if truth is not None else np.int8(-1)  # -1: no truth (data)
    weight = jets.event_columns.get("genWeight")
    table["weight"] = weight[rows].astype(np.float64) if weight is not None else 1.0
    check_finite(table, source)
    return table, cutflow


def unique_paths(paths: Sequence[str | Path], dataset: str) -> list[str | Path]:
    """``paths`` with every file kept once (by its resolved path: a file listed directly and
    through a glob would otherwise be read twice), saying so when any repeats."""
    seen: dict[str, str | Path] = {}
    for path in paths:
        seen.setdefault(os.path.realpath(path), path)
    if len(seen) < len(paths):
        log.warning("dataset %r: %d file path(s) name a file listed before; each file is read once",
                    dataset, len(paths) - len(seen))
    return list(seen.values())


def skim_files(paths: Sequence[str | Path], selection: Selection, *, tree: str = "Events",
               dataset: str = "dataset") -> tuple[pd.DataFrame, dict]:
    """Skim a list of NanoAOD files into one table; the cutflow sums over files."""
    if not paths:
        raise BumpfoldInputError(f"dataset {dataset!r}: no input files")
    paths = unique_paths(paths, dataset)
    tables, total, generator = [], {}, []
    for path in paths:
        jets = read_fatjets(path, tree, optional=("Truth_isSignal", "genWeight"))
        table, cutflow = skim_jets(jets, selection, str(path))
        tables.append(table)
        for k, v in cutflow.items():
            total[k] = total.get(k, 0) + v
        generator.append(read_generator_info(path))
        log.info("%s: %d -> %d events", path, cutflow["all"], len(table))
    table = pd.concat(tables, ignore_index=True)
    if len(table) == 0:
        raise BumpfoldInputError(f"dataset {dataset!r}: no events pass the selection (cutflow {total})")
    summary = {"dataset": dataset, "files": [str(p) for p in paths], "cutflow": total}
    if all(g is not None for g in generator):  # generated samples: what limits in fb need
        n = sum(g["n_generated"] for g in generator)
        summary["generator"] = {"n_generated": n, "cross_section_pb":
                                sum(g["cross_section_pb"] * g["n_generated"] for g in generator) / n}
    return table, summary


def select_dijet_table(table: pd.DataFrame, selection: Selection) -> tuple[pd.DataFrame, dict[str, int]]:
    """The dijet selection on a table that already holds the two leading jets (the LHC
    Olympics files): both in |eta| < jet_eta_max, the leading one above leading_pt_min,
    optionally |delta eta_jj| below the cut. The cutflow has the skim's keys."""
    cutflow = {"all": len(table)}
    passed = (table.eta_low.abs() < selection.jet_eta_max) & (table.eta_high.abs() < selection.jet_eta_max)
    cutflow["two_jets"] = int(passed.sum())
    passed &= np.maximum(table.pt_low, table.pt_high) > selection.leading_pt_min
    cutflow["leading_pt"] = int(passed.sum())
    if selection.delta_eta_max is not None:
        passed &= table.delta_eta_jj < selection.delta_eta_max
        cutflow["delta_eta"] = int(passed.sum())
    return table[passed.to_numpy()].reset_index(drop=True), cutflow


def skim_lhco(path: str | Path, selection: Selection, *, key: str | None = None, label: int | None = None,
              dataset: str = "dataset") -> tuple[pd.DataFrame, dict]:
    """An LHC Olympics features file (R&D set or black box) as a skimmed dataset: the
    events of ``label`` if given, through the same dijet selection as NanoAOD."""
    from bumpfold.io.lhco import read_lhco_features

    table, cutflow = select_dijet_table(read_lhco_features(path, key=key, label=label), selection)
    if len(table) == 0:
        raise BumpfoldInputError(f"dataset {dataset!r}: no events pass the selection (cutflow {cutflow})")
    log.info("%s: %d -> %d events", path, cutflow["all"], len(table))
    return table, {"dataset": dataset, "files": [str(path)], "cutflow": cutflow,
                   **({"label": label} if label is not None else {})}


def skim_dataset(spec: dict, inputs: Sequence[str | Path], selection: Selection, *,
                 name: str) -> tuple[pd.DataFrame, dict]:
    """One entry of the config's ``datasets`` (``spec``) through the skim: an LHC Olympics
    features file, or NanoAOD-like ROOT files (generated chunks or the user's)."""
    if "lhco" in spec:
        return skim_lhco(inputs[0], selection, key=spec.get("key"), label=spec.get("label"), dataset=name)
    return skim_files(inputs, selection, tree=spec.get("tree", "Events"), dataset=name)


def write_table(table: pd.DataFrame, cutflow: dict, table_path: str | Path, cutflow_path: str | Path) -> None:
    """Parquet table + cutflow JSON, each written atomically."""
    with atomic_path(table_path) as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(cutflow_path) as tmp:
        tmp.write_text(json.dumps(cutflow, indent=2) + "\n")
