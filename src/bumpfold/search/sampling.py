"""Background templates in the SR: m_jj from a KDE of the SR data, features from the
sideband flow conditioned on it (CATHODE's "realistic conditional")."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.stats import gaussian_kde

from bumpfold.errors import BumpfoldInputError
from bumpfold.search.regions import Window

if TYPE_CHECKING:
    from bumpfold.ml.flow import ConditionalFlow


def sample_mjj(sr_mjj: NDArray[np.float64], n: int, window: Window, seed: int) -> NDArray[np.float64]:
    """``n`` m_jj values from a Gaussian KDE of the SR data, kept inside the window."""
    if len(sr_mjj) < 10:
        raise BumpfoldInputError(f"window {window.name}: {len(sr_mjj)} SR data events, too few for the m_jj KDE")
    kde = gaussian_kde(sr_mjj)
    rng = np.random.default_rng(seed)
    out = np.empty(0)
    while len(out) < n:
        draw = kde.resample(2 * n, seed=rng).ravel()
        out = np.r_[out, draw[window.in_sr(draw)]]
    return out[:n]


def sample_sr(flow: ConditionalFlow, sr_mjj: NDArray[np.float64], window: Window, *, oversampling: float,
              seed: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(features, m_jj) of ``oversampling`` x (number of SR data events) background samples."""
    m = sample_mjj(sr_mjj, int(round(oversampling * len(sr_mjj))), window, seed)
    return flow.sample(m, seed=seed + 1), m
