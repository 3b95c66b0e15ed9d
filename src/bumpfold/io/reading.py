"""Reading the jet branches of NanoAOD files (ours or CMS's) with uproot + awkward.

The skim needs eight FatJet columns and two optional event columns; reading exactly those
with one ``TTree.arrays`` call reads real CMS NanoAOD the same way, and building coffea
NanoEvents for the same columns takes 1.5x as long as the whole skim (BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError, one_line

FATJET_FIELDS = ("pt", "eta", "phi", "mass", "tau1", "tau2", "tau3")
REQUIRED_BRANCHES = ("nFatJet",) + tuple(f"FatJet_{f}" for f in FATJET_FIELDS)


@dataclass
class FatJets:
    """The FatJet columns of a file, flat over all jets, with the jet count per event."""

    counts: NDArray[np.int64]
    columns: dict[str, NDArray[np.float64]]  # FATJET_FIELDS, GeV
    event_columns: dict[str, NDArray]  # optional event-level branches that were present

    @property
    def n_events(self) -> int:
        return len(self.counts)


def read_branches(path: str | Path, tree: str, required: Mapping[str, str], *,
                  optional: Sequence[str] = ()) -> dict[str, ak.Array]:
    """The ``required`` branches (branch -> why it is needed, for the message) and those
    ``optional`` ones the tree has, in one ``TTree.arrays`` call: the one ROOT reader of
    the skim and the unfolding, with one set of messages naming the file and the cause."""
    import uproot

    path = Path(path)
    if not path.is_file():
        raise BumpfoldInputError(f"{path}: no such file")
    try:
        with uproot.open(path) as file:
            if tree not in file:
                raise BumpfoldInputError(
                    f"{path}: no TTree {tree!r} (found: {', '.join(file.keys(cycle=False)) or 'nothing'})")
            events = file[tree]
            branches = set(events.keys())
            missing = [b for b in required if b not in branches]
            if missing:
                reasons = sorted({required[b] for b in missing})
                raise BumpfoldInputError(f"{path}: tree {tree!r} lacks branch {', '.join(missing)} "
                                         f"({'; '.join(reasons)})")
            present = [b for b in optional if b in branches and b not in required]
            return events.arrays([*required, *present], how=dict)
    except BumpfoldInputError:
        raise
    except Exception as exc:  # uproot raises several types for non-ROOT or truncated files
        raise BumpfoldInputError(f"{path}: not a readable ROOT file ({one_line(exc)})") from exc


def read_fatjets(path: str | Path, tree: str = "Events", *, optional: Sequence[str] = ()) -> FatJets:
    """``nFatJet``, ``FatJet_{pt,eta,phi,mass,tau1,tau2,tau3}`` and those ``optional``
    event-level branches the file has."""
    arrays = read_branches(path, tree, dict.fromkeys(REQUIRED_BRANCHES, "the FatJet collection"), optional=optional)
    present = [b for b in optional if b in arrays]
    counts = ak.to_numpy(arrays["nFatJet"]).astype(np.int64)
    columns = {}
    for field in FATJET_FIELDS:
        branch = arrays[f"FatJet_{field}"]
        if branch.ndim != 2 or not np.array_equal(ak.to_numpy(ak.num(branch)), counts):
            raise BumpfoldInputError(
                f"{path}: tree {tree!r} is not NanoAOD-like (FatJet_{field} is not one list of nFatJet jets per event)")
        columns[field] = ak.to_numpy(ak.flatten(branch)).astype(np.float64)
    return FatJets(counts, columns, {b: ak.to_numpy(arrays[b]) for b in present})


def read_generator_info(path: str | Path) -> dict[str, float] | None:
    """Generated-event count and cross section from the ``Runs`` tree of a bumpfold
    sample (``genEventCount``, ``crossSection_pb``), or None when the file has none (data)."""
    import uproot

    try:
        with uproot.open(path) as file:
            if "Runs" not in file:
                return None
            runs = file["Runs"]
            if not {"genEventCount", "crossSection_pb"} <= set(runs.keys()):
                return None
            arrays = runs.arrays(["genEventCount", "crossSection_pb"], library="np")
    except Exception as exc:
        raise BumpfoldInputError(f"{path}: unreadable Runs tree ({one_line(exc)})") from exc
    n = float(arrays["genEventCount"].sum())
    sigma = float((arrays["crossSection_pb"] * arrays["genEventCount"]).sum() / n) if n > 0 else float("nan")
    return {"n_generated": n, "cross_section_pb": sigma}
