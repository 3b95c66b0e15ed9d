"""The data-quality selection of a CMS analysis, before the dijet selection: certified
luminosity sections (golden JSON), an OR of triggers, the event filters, and FatJet
identification. Each cut is one line of the skim's cutflow."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError, one_line

LumiMaskFunction = Callable[[NDArray, NDArray], NDArray[np.bool_]]


@dataclass(frozen=True)
class DataQuality:
    """What a dataset's events must pass before the dijet selection. ``is_data``: collision
    data, where the golden JSON applies (simulation only if ``lumi_mask_on_simulation``) and
    no truth label or generator weight is read."""

    is_data: bool = False
    golden_json: str | None = None
    lumi_mask_on_simulation: bool = False
    triggers: tuple[str, ...] = ()
    event_filters: tuple[str, ...] = ()
    fatjet_id_bit: int | None = None

    @property
    def applies_lumi_mask(self) -> bool:
        return self.golden_json is not None and (self.is_data or self.lumi_mask_on_simulation)

    def required_branches(self) -> dict[str, str]:
        """Branch -> why the cuts need it (the message when a file lacks it)."""
        branches: dict[str, str] = {}
        if self.applies_lumi_mask:
            branches |= dict.fromkeys(("run", "luminosityBlock"), f"the golden JSON {self.golden_json}")
        branches |= dict.fromkeys(self.triggers, "a trigger of quality.triggers")
        branches |= dict.fromkeys(self.event_filters, "an event filter of quality.event_filters")
        if self.fatjet_id_bit is not None:
            branches["FatJet_jetId"] = "the jet identification of quality.fatjet_id_bit"
        return branches

    def skipped(self) -> list[str]:
        """The configured cuts that do not apply to this dataset, with the reason."""
        if self.golden_json is not None and not self.applies_lumi_mask:
            return ["lumi_mask: simulation (set quality.lumi_mask_on_simulation to apply the golden JSON)"]
        return []


def read_golden_json(path: str) -> dict[int, list[list[int]]]:
    """A CMS golden JSON, {"run": [[first, last], ...]} with positive integers and first <=
    last, as {run: ranges}; anything else stops with the file and the cause."""
    if not Path(path).is_file():
        raise BumpfoldInputError(f"{path}: no such file (quality.golden_json)")
    try:
        certified = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BumpfoldInputError(f"{path}: not a golden JSON ({one_line(exc)})") from exc
    if not isinstance(certified, dict):
        raise BumpfoldInputError(f"{path}: not a golden JSON (expected an object of runs)")
    for run, ranges in certified.items():
        if not run.isdigit():
            raise BumpfoldInputError(f"{path}: not a golden JSON (run {run!r} is not a run number)")
        good = isinstance(ranges, list) and all(
            isinstance(r, list) and len(r) == 2 and all(isinstance(x, int) and x > 0 for x in r) and r[0] <= r[1]
            for r in ranges)
        if not good:
            raise BumpfoldInputError(
                f"{path}: not a golden JSON (run {run}: expected [[first, last], ...] luminosity sections)")
    return {int(run): ranges for run, ranges in certified.items()}


def load_lumi_mask(path: str) -> LumiMaskFunction:
    """A vectorised (run, luminosity section) lookup of the certified sections: a binary
    search over the sections' (run, first) keys. coffea's ``LumiMask`` gives the same answer
    (tested against it) but importing it costs ~6 s per job (numba compiles its kernel on
    import; BENCHMARKS.md), which thousands of per-file jobs would pay."""
    ranges = sorted((run << 32 | first, run << 32 | last) for run, sections in read_golden_json(path).items()
                    for first, last in sections)
    merged: list[list[int]] = []
    for start, end in ranges:  # overlapping sections merged, so the preceding start decides
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    starts = np.array([m[0] for m in merged], dtype=np.uint64)
    ends = np.array([m[1] for m in merged], dtype=np.uint64)

    def certified(runs: NDArray, lumis: NDArray) -> NDArray[np.bool_]:
        keys = runs.astype(np.uint64) << np.uint64(32) | lumis.astype(np.uint64)
        index = np.searchsorted(starts, keys, side="right") - 1
        return (index >= 0) & (keys <= ends[np.maximum(index, 0)]) if len(starts) else np.zeros(len(keys), bool)

    return certified


def event_cuts(events: dict[str, NDArray], quality: DataQuality,
               lumi_mask: LumiMaskFunction | None) -> list[tuple[str, NDArray[np.bool_]]]:
    """The event-level cuts in cutflow order (name, pass mask); each mask on its own."""
    cuts = []
    if quality.applies_lumi_mask:
        if lumi_mask is None:
            raise ValueError("a lumi mask is required when the golden JSON applies")
        cuts.append(("lumi_mask", lumi_mask(events["run"], events["luminosityBlock"])))
    if quality.triggers:
        cuts.append(("trigger", np.logical_or.reduce([events[t].astype(bool) for t in quality.triggers])))
    if quality.event_filters:
        cuts.append(("event_filters", np.logical_and.reduce([events[f].astype(bool) for f in quality.event_filters])))
    return cuts


def jet_id_passes(jet_id: NDArray, bit: int) -> NDArray[np.bool_]:
    """Jets whose FatJet_jetId has ``bit`` set."""
    return (jet_id.astype(np.int64) >> bit) & 1 == 1
