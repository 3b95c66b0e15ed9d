"""Background templates in the SR: m_jj from a KDE of the SR data, features from the
sideband flow conditioned on it (CATHODE's "realistic conditional")."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError
from bumpfold.regions import Window

if TYPE_CHECKING:
    from bumpfold.ml.flow import ConditionalFlow


def sample_mjj(sr_mjj: NDArray[np.float64], n: int, window: Window, seed: int) -> NDArray[np.float64]:
    """``n`` m_jj values from a Gaussian KDE of the SR data in logit space (as CATHODE).

    The window maps onto the whole real line, so the KDE needs no boundary correction: a
    KDE in m_jj itself, cut to the window, leaks over the edges and left samples/data at
    0.62 in the first and last 5 GeV of the SR.
    """
    # here, not at the top: every search job imports this module; those without scikit-learn
    # (which imports scipy.stats itself), e.g. select, then skip scipy.stats (0.6 s)
    from scipy.special import expit, logit
    from scipy.stats import gaussian_kde

    if len(sr_mjj) < 10:
        raise BumpfoldInputError(f"window {window.name}: {len(sr_mjj)} SR data events, too few for the m_jj KDE")
    width = window.high - window.low
    eps = 1e-6  # an event exactly on the lower edge stays finite
    kde = gaussian_kde(logit(np.clip((sr_mjj - window.low) / width, eps, 1 - eps)))
    draw = kde.resample(n, seed=np.random.default_rng(seed)).ravel()
    return np.minimum(window.low + width * expit(draw), np.nextafter(window.high, window.low))  # [low, high)


def sample_sr(flow: ConditionalFlow, sr_mjj: NDArray[np.float64], window: Window, *, oversampling: float,
              seed: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(features, m_jj) of ``oversampling`` x (number of SR data events) background samples."""
    m = sample_mjj(sr_mjj, int(round(oversampling * len(sr_mjj))), window, seed)
    return flow.sample(m, seed=seed + 1), m
