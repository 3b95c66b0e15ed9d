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
        parts.append(_signal_roles(signal, n_injected, split.signal_test_fraction, rng))
    return _concat(parts)


def _signal_roles(signal: pd.DataFrame, n_injected: int, test_fraction: float, rng: np.random.Generator,
                  ) -> pd.DataFrame:
    """Signal events shuffled into ``test``, ``data`` (the injected ones) and ``signal_mc``."""
    sig = signal.iloc[rng.permutation(len(signal))].reset_index(drop=True)
    n_sig_test = int(test_fraction * len(sig))
    available = len(sig) - n_sig_test
    if n_injected > available:
        raise BumpfoldInputError(
            f"injection of {n_injected} signal events is larger than the {available} signal events available "
            f"(of {len(sig)}, {n_sig_test} are kept for the test set): generate more signal or inject less")
    return sig.assign(role=np.array(["test"] * n_sig_test + ["data"] * n_injected
                                    + ["signal_mc"] * (available - n_injected)), is_signal=1)


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    table = pd.concat(parts, ignore_index=True)
    table["is_signal"] = table["is_signal"].astype(np.int8)
    return table


def toy_slice(n_events: int, toy: int, n_toys: int, seed: int) -> np.ndarray:
    """Row indices of toy ``toy``'s background: the toy-th of ``n_toys`` equal, disjoint
    slices of one seeded permutation (the same ``seed`` for every toy, so that no event is
    in two toys and the toys are independent samples)."""
    if not 0 <= toy < n_toys:
        raise BumpfoldInputError(f"toy {toy}: toys.n_toys is {n_toys}")
    size = n_events // n_toys
    if size == 0:
        raise BumpfoldInputError(f"toys: {n_events} background events cannot fill {n_toys} toys")
    return np.sort(np.random.default_rng(seed).permutation(n_events)[toy * size:(toy + 1) * size])


def build_toy_datasets(background: pd.DataFrame, signal: pd.DataFrame | None, *, toy: int, n_toys: int,
                       n_injected: int, signal_test_fraction: float, partition_seed: int, seed: int) -> pd.DataFrame:
    """A pseudo-experiment's data: its disjoint slice of the background sample (see
    :func:`toy_slice`) with ``n_injected`` signal events, truth kept for the calibration;
    the signal's other events are its labelled test (templates) and signal MC. No background
    test or idealised sample: toys repeat the methods that learn from data alone."""
    if n_injected < 0:
        raise BumpfoldInputError(f"injection must be >= 0 signal events, got {n_injected}")
    if n_injected and signal is None:
        raise BumpfoldInputError(f"toy with {n_injected} signal events injected but no signal simulation "
                                 "(search.signal)")
    rows = toy_slice(len(background), toy, n_toys, partition_seed)
    parts = [background.iloc[rows].reset_index(drop=True).assign(role="data", is_signal=0)]
    if signal is not None:
        parts.append(_signal_roles(signal, n_injected, signal_test_fraction, np.random.default_rng(seed)))
    return _concat(parts)


def has_truth(test: pd.DataFrame) -> bool:
    """Whether a labelled set can judge a method: both signal and background events."""
    labels = set(np.unique(test.is_signal.to_numpy()))
    return {0, 1} <= labels
