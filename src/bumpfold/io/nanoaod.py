"""NanoAOD-style ROOT writing (flat ``nFatJet`` / ``FatJet_pt`` naming) with uproot."""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np


def _nanoaod_field_name(outer: str, inner: str) -> str:
    return inner if outer == "" else f"{outer}_{inner}"


def write_tree(file: Any, name: str, data: dict[str, ak.Array | np.ndarray]) -> None:
    """Write ``data`` as TTree ``name``: a jagged record array ``X`` becomes a counter
    ``nX`` and branches ``X_field``, as in CMS NanoAOD."""
    types = {k: (v.layout.form.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()}
    file.mktree(name, types, field_name=_nanoaod_field_name)
    file[name].extend(data)
