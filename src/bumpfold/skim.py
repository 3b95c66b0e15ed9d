"""Dijet skim: the data-quality cuts and the event selection on NanoAOD-like files (local or
over XRootD, a bounded number of events at a time) and on LHC Olympics features files, into
the feature table of bumpfold.features. The workflow skims each file in its own job
(:func:`skim_part`) and merges a dataset's files (:func:`merge_parts`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError
from bumpfold.features import check_finite, check_jet_values, dijet_features
from bumpfold.io.atomic import atomic_path
from bumpfold.io.filelists import unique_files
from bumpfold.io.reading import FATJET_FIELDS, FatJets, iterate_fatjets, read_generator_info
from bumpfold.quality import DataQuality, LumiMaskFunction, event_cuts, jet_id_passes, load_lumi_mask

log = logging.getLogger(__name__)

OPTIONAL_BRANCHES = ("Truth_isSignal", "genWeight")  # simulation only


@dataclass(frozen=True)
class Selection:
    """Event selection: two jets within |eta| < jet_eta_max, the leading one above
    leading_pt_min [GeV], optionally |delta eta_jj| < delta_eta_max."""

    leading_pt_min: float = 1200.0
    jet_eta_max: float = 2.5
    delta_eta_max: float | None = None


def _event_level_cuts(jets: FatJets, quality: DataQuality, lumi_mask: LumiMaskFunction | None,
                      cutflow: dict[str, int]) -> NDArray[np.bool_]:
    """The events passing the data-quality cuts, each cut's count added to ``cutflow``."""
    keep = np.ones(jets.n_events, dtype=bool)
    for name, passed in event_cuts(jets.event_columns, quality, lumi_mask):
        keep &= passed
        cutflow[name] = int(keep.sum())
    return keep


def _events_with_two_jets(event: NDArray[np.int64], usable: NDArray[np.bool_], n_events: int) -> int:
    return int((np.bincount(event[usable], minlength=n_events) >= 2).sum())


def _truth_and_weight(jets: FatJets, rows: NDArray[np.int64], quality: DataQuality) -> dict[str, Any]:
    """Truth label and weight of the selected events: -1 and 1 for data (and for files without them)."""
    truth = None if quality.is_data else jets.event_columns.get("Truth_isSignal")
    weight = None if quality.is_data else jets.event_columns.get("genWeight")
    return {"is_signal": truth[rows].astype(np.int8) if truth is not None else np.int8(-1),
            "weight": weight[rows].astype(np.float64) if weight is not None else 1.0}


def _by_event_then_decreasing_pt(event: NDArray[np.int64], pt: NDArray[np.float64],
                                 index: NDArray[np.int64]) -> NDArray[np.int64]:
    """``index`` ordered by event, then by decreasing pT. NanoAOD stores each event's jets
    in decreasing pT already: checking that costs a fraction of the sort it saves."""
    same_event = event[1:] == event[:-1]
    if not np.any(same_event & (pt[1:] > pt[:-1])):
        return index
    return index[np.lexsort((-pt, event))]


def skim_jets(jets: FatJets, selection: Selection, source: str, quality: DataQuality = DataQuality(),
              lumi_mask: LumiMaskFunction | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Select dijet events and build the feature table and cutflow (flat numpy throughout):
    the data-quality cuts, then two (identified) jets within |eta|, the leading-jet pT and
    the optional |delta eta_jj| cut."""
    check_jet_values({k: jets.columns[k] for k in FATJET_FIELDS}, source, "FatJet_")
    cutflow = {"all": jets.n_events}
    keep = _event_level_cuts(jets, quality, lumi_mask, cutflow)
    event = np.repeat(np.arange(jets.n_events), jets.counts)
    usable = keep[event] & (np.abs(jets.columns["eta"]) < selection.jet_eta_max)
    cutflow["two_jets"] = _events_with_two_jets(event, usable, jets.n_events)
    if quality.fatjet_id_bit is not None:
        usable &= jet_id_passes(jets.columns["jetId"], quality.fatjet_id_bit)
        cutflow["jet_id"] = _events_with_two_jets(event, usable, jets.n_events)
    jet_index = _by_event_then_decreasing_pt(event[usable], jets.columns["pt"][usable], np.flatnonzero(usable))
    cols = {k: jets.columns[k][jet_index] for k in FATJET_FIELDS}
    counts = np.bincount(event[usable], minlength=jets.n_events)
    first = np.cumsum(counts) - counts
    dijet = counts >= 2
    lead = {k: v[first[dijet]] for k, v in cols.items()}
    sub = {k: v[first[dijet] + 1] for k, v in cols.items()}
    passed = lead["pt"] > selection.leading_pt_min
    cutflow["leading_pt"] = int(passed.sum())
    if selection.delta_eta_max is not None:
        passed &= np.abs(lead["eta"] - sub["eta"]) < selection.delta_eta_max
        cutflow["delta_eta"] = int(passed.sum())
    table = dijet_features({k: v[passed] for k, v in lead.items()}, {k: v[passed] for k, v in sub.items()})
    for name, values in _truth_and_weight(jets, np.flatnonzero(dijet)[passed], quality).items():
        table[name] = values
    check_finite(table, source)
    return table, cutflow


def _add_counts(total: dict[str, int], counts: dict[str, int]) -> None:
    for key, value in counts.items():
        total[key] = total.get(key, 0) + value


def skim_file(path: str | Path, selection: Selection, *, tree: str = "Events",
              quality: DataQuality = DataQuality(), events_per_read: int = 200_000) -> tuple[pd.DataFrame, dict]:
    """One NanoAOD file (local or a URL) through the data-quality cuts and the dijet
    selection, ``events_per_read`` events at a time: the feature table and the file's
    summary (cutflow, which optional branches it has, generator info)."""
    lumi_mask = load_lumi_mask(quality.golden_json) if quality.applies_lumi_mask and quality.golden_json else None
    optional = () if quality.is_data else OPTIONAL_BRANCHES
    tables: list[pd.DataFrame] = []
    cutflow: dict[str, int] = {}
    present: set[str] = set()
    for jets in iterate_fatjets(path, tree, required=quality.required_branches(), optional=optional,
                                step_size=events_per_read):
        table, counts = skim_jets(jets, selection, str(path), quality, lumi_mask)
        tables.append(table)
        _add_counts(cutflow, counts)
        present |= set(jets.event_columns) & set(optional)
    table = pd.concat(tables, ignore_index=True)
    log.info("%s: %d -> %d events", path, cutflow["all"], len(table))
    summary = {"file": str(path), "cutflow": cutflow, "optional_branches": sorted(present),
               "generator": None if quality.is_data else read_generator_info(path)}
    if quality.skipped():
        summary["skipped"] = quality.skipped()
    return table, summary


def _check_one_schema(parts: Sequence[dict], dataset: str) -> None:
    """Every file of a dataset with the same optional branches (truth, weights) and cutflow
    lines: a file that differs would mix weighted and unweighted events silently."""
    first = parts[0]
    for part in parts[1:]:
        for key, what in (("optional_branches", "optional branches"), ("cutflow", "cutflow lines")):
            mine, theirs = sorted(part.get(key) or []), sorted(first.get(key) or [])
            if mine != theirs:
                raise BumpfoldInputError(
                    f"dataset {dataset!r}: {part['file']} has {what} {mine or 'none'} but {first['file']} has "
                    f"{theirs or 'none'}: the files do not share one schema")


def _combined_generator(summaries: Sequence[dict]) -> dict[str, float] | None:
    """Generated events and cross section of generated samples (every file has them): what
    limits in fb need."""
    generator = [s["generator"] for s in summaries if s.get("generator")]
    if len(generator) < len(summaries):
        return None
    n = sum(g["n_generated"] for g in generator)
    return {"n_generated": n, "cross_section_pb": sum(g["cross_section_pb"] * g["n_generated"] for g in generator) / n}


def merge_parts(parts: Sequence[tuple[pd.DataFrame, dict]], dataset: str) -> tuple[pd.DataFrame, dict]:
    """The per-file skims of a dataset as one table and one summary (cutflows summed)."""
    if not parts:
        raise BumpfoldInputError(f"dataset {dataset!r}: no input files")
    summaries = [summary for _, summary in parts]
    _check_one_schema(summaries, dataset)
    total: dict[str, int] = {}
    for summary in summaries:
        _add_counts(total, summary["cutflow"])
    table = pd.concat([t for t, _ in parts], ignore_index=True)
    if len(table) == 0:
        raise BumpfoldInputError(f"dataset {dataset!r}: no events pass the selection (cutflow {total})")
    # JSON files are written key-sorted: "cuts" keeps the order in which the cuts apply
    merged: dict = {"dataset": dataset, "files": [s["file"] for s in summaries], "cutflow": total, "cuts": list(total)}
    for key in ("label", "skipped"):
        if key in summaries[0]:
            merged[key] = summaries[0][key]
    generator = _combined_generator(summaries)
    if generator is not None:
        merged["generator"] = generator
    return table, merged


def unique_paths(paths: Sequence[str | Path], dataset: str) -> list[str]:
    """``paths`` with every file kept once (local files by resolved path: a file listed
    directly and through a glob would otherwise be read twice; URLs as written), saying so
    when any repeats."""
    files = unique_files(str(p) for p in paths)
    if len(files) < len(paths):
        log.warning("dataset %r: %d file path(s) name a file listed before; each file is read once",
                    dataset, len(paths) - len(files))
    return files


def skim_files(paths: Sequence[str | Path], selection: Selection, *, tree: str = "Events",
               dataset: str = "dataset", quality: DataQuality = DataQuality(),
               events_per_read: int = 200_000) -> tuple[pd.DataFrame, dict]:
    """Skim a list of NanoAOD files into one table, file by file as the workflow's jobs do
    (each file once); the cutflow sums over files."""
    return merge_parts([skim_file(p, selection, tree=tree, quality=quality, events_per_read=events_per_read)
                        for p in unique_paths(paths, dataset)], dataset)


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



def _lhco_part(path: str | Path, selection: Selection, *, key: str | None,
               label: int | None) -> tuple[pd.DataFrame, dict]:
    from bumpfold.io.lhco import read_lhco_features

    table, cutflow = select_dijet_table(read_lhco_features(path, key=key, label=label), selection)
    log.info("%s: %d -> %d events", path, cutflow["all"], len(table))
    return table, {"file": str(path), "cutflow": cutflow, **({"label": label} if label is not None else {})}


def skim_lhco(path: str | Path, selection: Selection, *, key: str | None = None, label: int | None = None,
              dataset: str = "dataset") -> tuple[pd.DataFrame, dict]:
    """An LHC Olympics features file (R&D set or black box) as a skimmed dataset: the
    events of ``label`` if given, through the same dijet selection as NanoAOD."""
    return merge_parts([_lhco_part(path, selection, key=key, label=label)], dataset)


def skim_part(spec: dict, path: str | Path, selection: Selection, *,
              events_per_read: int = 200_000) -> tuple[pd.DataFrame, dict]:
    """One file of the config's dataset ``spec`` (the workflow's per-file job): an LHC
    Olympics features file, or a NanoAOD-like ROOT file (a generated chunk or the user's)
    with the dataset's data-quality cuts."""
    from bumpfold.settings import data_quality

    if "lhco" in spec:
        return _lhco_part(path, selection, key=spec.get("key"), label=spec.get("label"))
    return skim_file(path, selection, tree=spec.get("tree", "Events"), quality=data_quality(spec),
                     events_per_read=events_per_read)


def skim_dataset(spec: dict, inputs: Sequence[str | Path], selection: Selection, *,
                 name: str) -> tuple[pd.DataFrame, dict]:
    """Every file of the config's dataset ``spec`` through :func:`skim_part`, merged."""
    return merge_parts([skim_part(spec, p, selection) for p in unique_paths(inputs, name)], name)


def read_part(table_path: str | Path, summary_path: str | Path) -> tuple[pd.DataFrame, dict]:
    """A per-file skim as :func:`write_table` wrote it."""
    return pd.read_parquet(table_path), json.loads(Path(summary_path).read_text())


def write_table(table: pd.DataFrame, cutflow: dict, table_path: str | Path, cutflow_path: str | Path) -> None:
    """Parquet table + cutflow JSON, each written atomically."""
    with atomic_path(table_path) as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(cutflow_path) as tmp:
        tmp.write_text(json.dumps(cutflow, indent=2) + "\n")
