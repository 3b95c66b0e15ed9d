"""Anomaly-detection figures of merit on a labelled test set: ROC, SIC, AUC.

SIC = eps_S / sqrt(eps_B), the factor by which a cut on the score improves S/sqrt(B).
Following the CATHODE paper, the maximum SIC only counts working points that keep at
least ``min_background`` test background events, so that it is not a fluctuation of a
handful of events; SIC at eps_S = 0.2 floors eps_B at one test background event.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError


@dataclass(frozen=True)
class Performance:
    auc: float
    max_sic: float
    sic_at_0p2: float
    n_signal: int
    n_background: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def roc_curve(scores: NDArray[np.float64], labels: NDArray[np.integer]) -> tuple[NDArray, NDArray, NDArray]:
    """Signal and background efficiencies for every cut ``score >= t``, tightest last, and
    the number of background events kept at each cut."""
    labels = np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        raise BumpfoldInputError("test set needs both signal and background events to evaluate a classifier")
    if not np.isfinite(scores).all():
        raise BumpfoldInputError("classifier scores contain NaN/inf")
    order = np.argsort(-scores, kind="stable")
    sig_kept = np.cumsum(labels[order])
    bkg_kept = np.cumsum(~labels[order])
    # one point per distinct score: the last index of each run of equal scores
    last = np.r_[np.flatnonzero(np.diff(scores[order])), len(scores) - 1]
    eps_s = sig_kept[last] / labels.sum()
    eps_b = bkg_kept[last] / (~labels).sum()
    return eps_s[::-1], eps_b[::-1], bkg_kept[last][::-1]


def performance(scores: NDArray[np.float64], labels: NDArray[np.integer], *, min_background: int = 25) -> Performance:
    eps_s, eps_b, n_bkg = roc_curve(scores, labels)
    # integrate from the tightest cut, (0, 0), to the loosest, (1, 1)
    auc = float(np.trapezoid(np.r_[0.0, eps_s[::-1]], np.r_[0.0, eps_b[::-1]]))
    ok = (n_bkg >= min_background) & (eps_b > 0)
    sic = np.zeros_like(eps_s)
    sic[ok] = eps_s[ok] / np.sqrt(eps_b[ok])
    labels = np.asarray(labels).astype(bool)
    # eps_B where eps_S = 0.2, floored at one background event (no division by zero)
    eps_b_at = max(float(np.interp(0.2, eps_s[::-1], eps_b[::-1])), 1.0 / (~labels).sum())
    at_0p2 = float(0.2 / np.sqrt(eps_b_at))
    return Performance(auc=auc, max_sic=float(sic.max()) if ok.any() else 0.0, sic_at_0p2=at_0p2,
                       n_signal=int(labels.sum()), n_background=int((~labels).sum()))
