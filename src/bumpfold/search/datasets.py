"""The analysed data set, with any injected signal, and the labelled sets that judge it.

Pseudo-data (``observed`` None), from a background (QCD) and a signal feature table, seeded:

* background events are split into ``data`` (the pseudo-data), ``test`` (labelled test
  background) and ``ideal`` (an independent background sample, for the idealised anomaly
  detector and the supervised classifier), by the configured fractions;
* signal events are split into ``test`` (labelled test signal), ``data`` (the
  ``n_injected`` events added to the pseudo-data) and ``signal_mc`` (the rest: signal
  simulation for the supervised classifier).

Observed data: every event of ``observed`` is ``data`` and its truth is set to -1 (unknown)
before anything else, so no step can read it; the background simulation, if any, is split
into ``test`` and ``ideal`` in the pseudo-data's proportions, and the signal simulation, if
any, as above (injected events are added to the data and keep their label).

Truth labels travel along in ``is_signal`` for evaluation only; the methods that use
data (CATHODE, CWoLa, ANODE) never read them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bumpfold.errors import BumpfoldInputError
from bumpfold.search.settings import SplitSettings

ROLES = ("data", "test", "ideal", "signal_mc")


def build_datasets(background: pd.DataFrame | None, signal: pd.DataFrame | None, *, n_injected: int,
                   split: SplitSettings, seed: int, observed: pd.DataFrame | None = None) -> pd.DataFrame:
    """One table of all events with a ``role`` column (see the module docstring)."""
    if n_injected < 0:
        raise BumpfoldInputError(f"injection must be >= 0 signal events, got {n_injected}")
    if not (0 < split.data_fraction and split.data_fraction + split.test_fraction < 1):
        raise BumpfoldInputError("search split: data_fraction + test_fraction must be below 1")
    if n_injected and signal is None:
        raise BumpfoldInputError(f"injection of {n_injected} signal events but no signal simulation to take them from")
    rng = np.random.default_rng(seed)
    parts = []
    if observed is not None:
        parts.append(observed.assign(role="data", is_signal=-1))  # the truth of data is never read
    if background is not None:
        bkg = background.iloc[rng.permutation(len(background))].reset_index(drop=True)
        if observed is None:
            n_data, n_test = int(split.data_fraction * len(bkg)), int(split.test_fraction * len(bkg))
        else:  # simulation only: test and ideal in the pseudo-data's proportions
            n_data, n_test = 0, int(split.test_fraction / (1 - split.data_fraction) * len(bkg))
        parts.append(bkg.assign(role=np.array(["data"] * n_data + ["test"] * n_test
                                              + ["ideal"] * (len(bkg) - n_data - n_test)), is_signal=0))
    if signal is not None:
        sig = signal.iloc[rng.permutation(len(signal))].reset_index(drop=True)
        n_sig_test = int(split.signal_test_fraction * len(sig))
        available = len(sig) - n_sig_test
        if n_injected > available:
            raise BumpfoldInputError(
                f"injection of {n_injected} signal events is larger than the {available} signal events available "
                f"(of {len(sig)}, {n_sig_test} are kept for the test set): generate more signal or inject less")
        parts.append(sig.assign(role=np.array(["test"] * n_sig_test + ["data"] * n_injected
                                              + ["signal_mc"] * (available - n_injected)), is_signal=1))
    table = pd.concat(parts, ignore_index=True)
    table["is_signal"] = table["is_signal"].astype(np.int8)
    return table


def has_truth(test: pd.DataFrame) -> bool:
    """Whether a labelled set can judge a method: both signal and background events."""
    labels = set(np.unique(test.is_signal.to_numpy()))
    return {0, 1} <= labels
