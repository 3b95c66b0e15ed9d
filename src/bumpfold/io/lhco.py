"""Reading the LHC Olympics 2020 features files into the dijet feature table.

The LHCO features files (the R&D set ``events_anomalydetection_v2.features.h5`` and the
black boxes ``events_LHCO2020_BlackBox{1,2,3}.features.h5``) are pandas HDF5 files (written
with ``DataFrame.to_hdf``) with, per event, the two leading large-R jets as
``px, py, pz, m, tau1, tau2, tau3`` (columns ``pxj1 ... tau3j1``, ``pxj2 ... tau3j2``, GeV);
the R&D set adds a truth ``label`` (1 = signal, 0 = background), the black boxes have none.
Each jet is converted to (pt, eta, phi, mass, tau1, tau2, tau3) and the table is built by
:func:`bumpfold.features.dijet_features`, so it has exactly the columns of
:data:`bumpfold.features.COLUMNS`, like a table skimmed from NanoAOD (``is_signal`` -1 where
the file has no label).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import tables

from bumpfold.errors import BumpfoldInputError, one_line
from bumpfold.features import COLUMNS, check_finite, check_jet_values, dijet_features

log = logging.getLogger(__name__)

JET_FIELDS = ("px", "py", "pz", "m", "tau1", "tau2", "tau3")
REQUIRED_COLUMNS = tuple(f"{f}j{i}" for i in (1, 2) for f in JET_FIELDS)
LABEL = "label"  # the R&D set's truth; absent from the black boxes


def _read_frame(path: Path, key: str | None) -> pd.DataFrame:
    """The stored DataFrame, or BumpfoldInputError naming the file and the cause."""
    try:
        is_hdf5 = tables.is_hdf5_file(str(path))
    except Exception as exc:  # unreadable file (permissions, I/O error)
        raise BumpfoldInputError(f"{path}: cannot read file ({one_line(exc, last_line=True)})") from exc
    if not is_hdf5:
        raise BumpfoldInputError(f"{path}: not an HDF5 file")
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = store.keys()
            if not keys:
                raise BumpfoldInputError(f"{path}: HDF5 file holds no pandas object (not written by to_hdf?)")
            if key is None:
                if len(keys) != 1:
                    found = ", ".join(keys) or "nothing"
                    raise BumpfoldInputError(
                        f"{path}: expected one pandas object, found {len(keys)} ({found}); name one with "
                        "--key (bumpfold lhco) or key= (read_lhco_features)")
                key = keys[0]
            elif key not in store:
                raise BumpfoldInputError(f"{path}: no key {key!r} (found: {', '.join(keys) or 'nothing'})")
            frame = store.select(key)
    except BumpfoldInputError:
        raise
    except Exception as exc:  # pytables / pandas raise several types for HDF5 files not written by pandas
        raise BumpfoldInputError(f"{path}: not a readable pandas HDF5 file ({one_line(exc, last_line=True)})") from exc
    if not isinstance(frame, pd.DataFrame):
        raise BumpfoldInputError(f"{path}: key {key!r} holds a {type(frame).__name__}, not a DataFrame")
    return frame


def _column(frame: pd.DataFrame, name: str, path: Path) -> np.ndarray:
    """One column as float64, or BumpfoldInputError if it is not numeric."""
    try:
        return frame[name].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BumpfoldInputError(f"{path}: column {name!r} is not numeric ({exc})") from exc


def _jet(frame: pd.DataFrame, index: int, path: Path) -> dict[str, np.ndarray]:
    """Jet ``index`` (1 or 2) as pt, eta, phi, mass, tau1, tau2, tau3 arrays (float64)."""
    col = {f: _column(frame, f"{f}j{index}", path) for f in JET_FIELDS}
    px, py, pz = col["px"], col["py"], col["pz"]
    pt = np.hypot(px, py)
    zero = ~(pt > 0)  # also catches NaN px/py
    if zero.any():
        raise BumpfoldInputError(
            f"{path}: jet {index} has pt = 0 or NaN in {int(zero.sum())} event(s) (first row {int(np.argmax(zero))})")
    jet = {"pt": pt, "eta": np.arcsinh(pz / pt), "phi": np.arctan2(py, px), "mass": col["m"],
           "tau1": col["tau1"], "tau2": col["tau2"], "tau3": col["tau3"]}
    check_jet_values(jet, str(path), f"jet {index} ")
    return jet


def read_lhco_features(path: str | Path, *, key: str | None = None, label: int | None = None) -> pd.DataFrame:
    """The feature table (columns :data:`bumpfold.features.COLUMNS`) from an LHCO features file.

    ``key`` is the HDF5 key; None reads the file's only object. ``is_signal`` is the
    file's label (int8), or -1 for a file without one (a black box); ``label`` keeps only
    the events with that label (the R&D set's background, 0, or its signal, 1). ``weight``
    is 1.0. Raises :class:`BumpfoldInputError` for a missing or unreadable file, missing or
    unexpected columns, no rows, bad labels, a label asked of an unlabelled file, or jet
    values no detector gives.
    """
    path = Path(path)
    if not path.is_file():
        raise BumpfoldInputError(f"{path}: no such file")
    frame = _read_frame(path, key)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise BumpfoldInputError(f"{path}: missing LHCO column(s) {', '.join(missing)} (a features file has "
                                 f"{', '.join(REQUIRED_COLUMNS[:7])}, ... for j1 and j2)")
    unexpected = [str(c) for c in frame.columns if c not in REQUIRED_COLUMNS and c != LABEL]
    if unexpected:
        raise BumpfoldInputError(
            f"{path}: {len(unexpected)} column(s) that an LHCO features file does not have "
            f"({', '.join(unexpected[:5])}{', ...' if len(unexpected) > 5 else ''}); the particle-level "
            "events file is not the features file")
    if len(frame) == 0:
        raise BumpfoldInputError(f"{path}: no events (zero rows)")

    if LABEL in frame.columns:
        truth = _column(frame, LABEL, path)
        bad = ~np.isin(truth, (0.0, 1.0))
        if bad.any():
            raise BumpfoldInputError(
                f"{path}: column 'label' has {int(bad.sum())} value(s) other than 0 or 1")
        truth = truth.astype(np.int8)
    elif label is not None:
        raise BumpfoldInputError(f"{path}: no 'label' column (a black box), so no events of label {label} to keep")
    else:
        truth = np.full(len(frame), -1, dtype=np.int8)

    table = dijet_features(_jet(frame, 1, path), _jet(frame, 2, path))
    table["is_signal"] = truth
    table["weight"] = np.ones(len(table), dtype=np.float64)
    table = table[list(COLUMNS)]
    check_finite(table, str(path))
    if label is not None:
        table = table[table.is_signal == label].reset_index(drop=True)
        if len(table) == 0:
            raise BumpfoldInputError(f"{path}: no events of label {label}")
    log.info("%s: %d events (label: %s)", path, len(table),
             "none" if LABEL not in frame.columns else f"{int((table.is_signal == 1).sum())} signal")
    return table


def lhco_frame_from_nanoaod(files: list[str | Path], tree: str = "Events") -> pd.DataFrame:
    """NanoAOD-like files (e.g. bumpfold's generated events) as an LHCO features table: per
    event with >= 2 FatJets the two leading ones as ``pxj1 ... tau3j2`` (the files' jet
    order), and ``label`` from ``Truth_isSignal`` where the files carry it. What the tests
    and benchmarks write to run the LHC Olympics configs without the LHC Olympics files."""
    from bumpfold.io.reading import read_fatjets

    frames = []
    for path in files:
        jets = read_fatjets(path, tree, optional=("Truth_isSignal",))
        first = np.concatenate([[0], np.cumsum(jets.counts)[:-1]])[jets.counts >= 2]
        columns: dict[str, np.ndarray] = {}
        for i in (0, 1):
            pt, eta, phi = (jets.columns[k][first + i] for k in ("pt", "eta", "phi"))
            columns.update({f"pxj{i + 1}": pt * np.cos(phi), f"pyj{i + 1}": pt * np.sin(phi),
                            f"pzj{i + 1}": pt * np.sinh(eta), f"mj{i + 1}": jets.columns["mass"][first + i],
                            **{f"tau{n}j{i + 1}": jets.columns[f"tau{n}"][first + i] for n in (1, 2, 3)}})
        if "Truth_isSignal" in jets.event_columns:
            columns[LABEL] = jets.event_columns["Truth_isSignal"][jets.counts >= 2].astype(np.float64)
        frames.append(pd.DataFrame(columns))
    if not frames:
        raise BumpfoldInputError("lhco_frame_from_nanoaod: no files given")
    return pd.concat(frames, ignore_index=True)
