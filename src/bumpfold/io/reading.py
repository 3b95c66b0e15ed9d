"""Reading the jet branches of NanoAOD files (ours or CMS's) with uproot + awkward.

The skim needs eight FatJet columns, the event-level branches of its data-quality cuts and
two optional event columns; reading exactly those with ``TTree.iterate`` (a bounded number
of events at a time) reads real CMS NanoAOD the same way, locally or over XRootD. Building
coffea NanoEvents for the same columns is slower (BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError, one_line
from bumpfold.io.filelists import is_remote

FATJET_FIELDS = ("pt", "eta", "phi", "mass", "tau1", "tau2", "tau3")
REQUIRED_BRANCHES = ("nFatJet",) + tuple(f"FatJet_{f}" for f in FATJET_FIELDS)


@dataclass
class FatJets:
    """The FatJet columns of a file, flat over all jets, with the jet count per event."""

    counts: NDArray[np.int64]
    columns: dict[str, NDArray]  # FATJET_FIELDS as float64 (GeV), and any other FatJet_ branch read (jetId)
    event_columns: dict[str, NDArray]  # the event-level branches read (optional ones only where present)

    @property
    def n_events(self) -> int:
        return len(self.counts)


def _location(path: str | Path) -> str | Path:
    """The path as uproot gets it: a URL unchanged (``Path`` would fold ``//`` into ``/``),
    a local file checked to exist."""
    if is_remote(path):
        return str(path)
    if not Path(path).is_file():
        raise BumpfoldInputError(f"{path}: no such file")
    return Path(path)


def _open_error(path: str | Path, exc: Exception) -> BumpfoldInputError:
    """One message naming the file (a URL as given) and the cause of an open/read failure."""
    if is_remote(path) and isinstance(exc, ModuleNotFoundError):
        return BumpfoldInputError(f"{path}: reading remote files needs the XRootD client "
                                  f"(pip install 'bumpfold[xrootd]'; {one_line(exc)})")
    what = "cannot read the remote file" if is_remote(path) else "not a readable ROOT file"
    return BumpfoldInputError(f"{path}: {what} ({one_line(exc)})")


def _checked_branches(events, path: str | Path, tree: str, required: Mapping[str, str],
                      optional: Sequence[str]) -> list[str]:
    """``required`` + the ``optional`` branches the tree has, or an error naming the missing
    required ones and why each is needed."""
    branches = set(events.keys())
    missing = [b for b in required if b not in branches]
    if missing:
        reasons = sorted({required[b] for b in missing})
        raise BumpfoldInputError(f"{path}: tree {tree!r} lacks branch {', '.join(missing)} "
                                 f"({'; '.join(reasons)})")
    return [*required, *(b for b in optional if b in branches and b not in required)]


def _tree(file, path: str | Path, tree: str):
    if tree not in file:
        raise BumpfoldInputError(
            f"{path}: no TTree {tree!r} (found: {', '.join(file.keys(cycle=False)) or 'nothing'})")
    return file[tree]


def iterate_branches(path: str | Path, tree: str, required: Mapping[str, str], *,
                     optional: Sequence[str] = (), step_size: int = 200_000) -> Iterator[dict[str, ak.Array]]:
    """The ``required`` branches (branch -> why it is needed, for the message) and those
    ``optional`` ones the tree has, ``step_size`` events at a time, so that memory is bounded
    by the step, not by the file: the one ROOT reader of the skim and the unfolding, with one
    set of messages naming the file (a URL unchanged) and the cause."""
    import uproot

    if step_size <= 0:
        raise BumpfoldInputError(f"{path}: events per read must be positive, got {step_size}")
    location = _location(path)
    try:
        with uproot.open(location) as file:
            events = _tree(file, path, tree)
            names = _checked_branches(events, path, tree, required, optional)
            if events.num_entries == 0:  # iterate yields nothing for an empty tree; keep the columns
                yield events.arrays(names, how=dict)
                return
            yield from events.iterate(names, step_size=step_size, how=dict)
    except BumpfoldInputError:
        raise
    except Exception as exc:  # uproot raises several types for non-ROOT, truncated or unreachable files
        raise _open_error(path, exc) from exc


def read_branches(path: str | Path, tree: str, required: Mapping[str, str], *,
                  optional: Sequence[str] = ()) -> dict[str, ak.Array]:
    """:func:`iterate_branches` in one piece (the unfolding's inputs are small)."""
    chunks = list(iterate_branches(path, tree, required, optional=optional, step_size=2**62))
    return chunks[0]


def _fatjets(arrays: dict[str, ak.Array], path: str | Path, tree: str) -> FatJets:
    """Flat FatJet columns (every ``FatJet_*`` branch read; the kinematic ones as float64)
    and the event-level branches, checking that each jet branch has nFatJet jets per event."""
    counts = ak.to_numpy(arrays["nFatJet"]).astype(np.int64)
    columns: dict[str, NDArray] = {}
    events: dict[str, NDArray] = {}
    for name, branch in arrays.items():
        if not name.startswith("FatJet_"):
            if name != "nFatJet":
                events[name] = ak.to_numpy(branch)
            continue
        if branch.ndim != 2 or not np.array_equal(ak.to_numpy(ak.num(branch)), counts):
            raise BumpfoldInputError(
                f"{path}: tree {tree!r} is not NanoAOD-like ({name} is not one list of nFatJet jets per event)")
        field = name.removeprefix("FatJet_")
        flat = ak.to_numpy(ak.flatten(branch))
        columns[field] = flat.astype(np.float64) if field in FATJET_FIELDS else flat
    return FatJets(counts, columns, events)


def _fatjet_branches(required: Mapping[str, str]) -> dict[str, str]:
    return {**dict.fromkeys(REQUIRED_BRANCHES, "the FatJet collection"), **required}


def iterate_fatjets(path: str | Path, tree: str = "Events", *, required: Mapping[str, str] | None = None,
                    optional: Sequence[str] = (), step_size: int = 200_000) -> Iterator[FatJets]:
    """``nFatJet``, ``FatJet_{pt,eta,phi,mass,tau1,tau2,tau3}``, the further ``required``
    branches (name -> why, e.g. a trigger) and those ``optional`` ones the file has,
    ``step_size`` events at a time."""
    for arrays in iterate_branches(path, tree, _fatjet_branches(required or {}), optional=optional,
                                   step_size=step_size):
        yield _fatjets(arrays, path, tree)


def read_fatjets(path: str | Path, tree: str = "Events", *, optional: Sequence[str] = ()) -> FatJets:
    """The FatJet collection and those ``optional`` event-level branches the file has, in one piece."""
    return _fatjets(read_branches(path, tree, _fatjet_branches({}), optional=optional), path, tree)


def read_generator_info(path: str | Path) -> dict[str, float] | None:
    """Generated-event count and cross section from the ``Runs`` tree of a bumpfold
    sample (``genEventCount``, ``crossSection_pb``), or None when the file has none (data)."""
    import uproot

    try:
        with uproot.open(_location(path)) as file:
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
