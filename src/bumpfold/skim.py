"""Dijet skim: event selection and the CATHODE / LHC Olympics feature table.

Per event, from the two leading (highest-pT) large-R jets, ordered by jet mass as in
CATHODE (``low`` = lighter jet): m_jj, m_j,low, delta m_j = m_j,high - m_j,low,
tau21 and tau32 of both jets, their pT and eta, |delta eta_jj|, the truth label where the
input has one, and the event weight. Masses and momenta in GeV.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd

from bumpfold.errors import BumpfoldInputError
from bumpfold.io.atomic import atomic_path
from bumpfold.io.reading import open_events

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


def check_finite(table: pd.DataFrame, source: str) -> None:
    """Stop on NaN/inf in any feature, naming the column and how many rows."""
    for col in FEATURES:
        bad = ~np.isfinite(table[col].to_numpy(dtype=np.float64))
        if bad.any():
            raise BumpfoldInputError(f"{source}: feature {col!r} has {int(bad.sum())} NaN/inf value(s)")


def skim_events(events: ak.Array, selection: Selection, source: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Select dijet events from NanoEvents and build the feature table and cutflow."""
    jets = events.FatJet
    jets = jets[np.abs(jets.eta) < selection.jet_eta_max]
    jets = jets[ak.argsort(jets.pt, axis=1, ascending=False)]
    cutflow = {"all": len(events)}
    mask = ak.num(jets) >= 2
    cutflow["two_jets"] = int(ak.sum(mask))
    jets, events = jets[mask], events[mask]
    mask = jets.pt[:, 0] > selection.leading_pt_min
    cutflow["leading_pt"] = int(ak.sum(mask))
    jets, events = jets[mask], events[mask]
    if selection.delta_eta_max is not None:
        mask = np.abs(jets.eta[:, 0] - jets.eta[:, 1]) < selection.delta_eta_max
        cutflow["delta_eta"] = int(ak.sum(mask))
        jets, events = jets[mask], events[mask]
    lead = {k: ak.to_numpy(jets[k][:, 0]).astype(np.float64) for k in ("pt", "eta", "phi", "mass", "tau1", "tau2", "tau3")}
    sub = {k: ak.to_numpy(jets[k][:, 1]).astype(np.float64) for k in lead}
    table = dijet_features(lead, sub)
    fields = events.fields
    table["is_signal"] = (ak.to_numpy(events.Truth.isSignal).astype(np.int8) if "Truth" in fields
                          else np.full(len(table), -1, dtype=np.int8))  # -1: no truth (data)
    table["weight"] = ak.to_numpy(events.genWeight).astype(np.float64) if "genWeight" in fields else 1.0
    check_finite(table, source)
    return table, cutflow


def skim_files(paths: Sequence[str | Path], selection: Selection, *, tree: str = "Events",
               dataset: str = "dataset") -> tuple[pd.DataFrame, dict]:
    """Skim a list of NanoAOD files into one table; the cutflow sums over files."""
    if not paths:
        raise BumpfoldInputError(f"dataset {dataset!r}: no input files")
    tables, total = [], {}
    for path in paths:
        table, cutflow = skim_events(open_events(path, tree), selection, str(path))
        tables.append(table)
        for k, v in cutflow.items():
            total[k] = total.get(k, 0) + v
        log.info("%s: %d -> %d events", path, cutflow["all"], len(table))
    table = pd.concat(tables, ignore_index=True)
    if len(table) == 0:
        raise BumpfoldInputError(f"dataset {dataset!r}: no events pass the selection (cutflow {total})")
    return table, {"dataset": dataset, "files": [str(p) for p in paths], "cutflow": total}


def write_table(table: pd.DataFrame, cutflow: dict, table_path: str | Path, cutflow_path: str | Path) -> None:
    """Parquet table + cutflow JSON, each written atomically."""
    with atomic_path(table_path) as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(cutflow_path) as tmp:
        tmp.write_text(json.dumps(cutflow, indent=2) + "\n")
