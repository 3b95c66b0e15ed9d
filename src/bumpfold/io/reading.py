"""Reading NanoAOD (ours or CMS's) through coffea NanoEvents, with clear errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import awkward as ak

from bumpfold.errors import BumpfoldInputError, one_line

REQUIRED_FATJET_BRANCHES = ("nFatJet", "FatJet_pt", "FatJet_eta", "FatJet_phi", "FatJet_mass",
                            "FatJet_tau1", "FatJet_tau2", "FatJet_tau3")


def open_events(path: str | Path, tree: str = "Events") -> ak.Array:
    """NanoEvents (NanoAODSchema, virtual: branches are read when first touched)."""
    import uproot
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    path = Path(path)
    if not path.is_file():
        raise BumpfoldInputError(f"{path}: no such file")
    try:
        with uproot.open(path) as f:
            if tree not in f:
                raise BumpfoldInputError(f"{path}: no TTree {tree!r} (found: {', '.join(f.keys(cycle=False)) or 'nothing'})")
            branches = set(f[tree].keys())
    except BumpfoldInputError:
        raise
    except Exception as exc:  # uproot raises several types for non-ROOT or truncated files
        raise BumpfoldInputError(f"{path}: not a readable ROOT file ({one_line(exc)})") from exc
    missing = [b for b in REQUIRED_FATJET_BRANCHES if b not in branches]
    if missing:
        raise BumpfoldInputError(f"{path}: tree {tree!r} lacks FatJet branches {', '.join(missing)}")
    with warnings.catch_warnings():
        # harmless on real CMS files: absent optional collections, photon mass/charge zeroed
        warnings.filterwarnings("ignore", message="Missing cross-reference index")
        warnings.filterwarnings("ignore", message="Branch .* already exists but its values will be replaced")
        try:
            return NanoEventsFactory.from_root({str(path): tree}, schemaclass=NanoAODSchema, mode="virtual").events()
        except Exception as exc:
            raise BumpfoldInputError(f"{path}: tree {tree!r} is not NanoAOD-like ({one_line(exc)})") from exc
