"""Dijet skim: the event selection on NanoAOD-like files and LHC Olympics features files,
into the feature table of bumpfold.features (cutflows, generator info, writing)."""

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
from bumpfold.features import check_finite, check_jet_values, dijet_features
from bumpfold.io.atomic import atomic_path
from bumpfold.io.reading import FatJets, read_fatjets, read_generator_info

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Selection:
    """Event selection: two jets within |eta| < jet_eta_max, the leading one above
    leading_pt_min [GeV], optionally |delta eta_jj| < delta_eta_max."""

    leading_pt_min: float = 1200.0
    jet_eta_max: float = 2.5
    delta_eta_max: float | None = None


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
    tables: list[pd.DataFrame] = []
    total: dict[str, int] = {}
    generator: list[dict[str, float] | None] = []
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
    known = [g for g in generator if g is not None]
    if len(known) == len(generator):  # generated samples: what limits in fb need
        n = sum(g["n_generated"] for g in known)
        summary["generator"] = {"n_generated": n, "cross_section_pb":
                                sum(g["cross_section_pb"] * g["n_generated"] for g in known) / n}
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
