"""Signal region (SR) / sideband (SB) split in m_jj, and seeded k-fold assignment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError


@dataclass(frozen=True)
class Window:
    """An SR window [low, high) in m_jj inside the analysis range [range_low, range_high)
    [GeV]; the SB is the rest of the range."""

    low: float
    high: float
    range_low: float
    range_high: float

    def __post_init__(self) -> None:
        if not (self.range_low < self.low < self.high < self.range_high):
            raise BumpfoldInputError(
                f"SR window [{self.low}, {self.high}] must lie strictly inside the m_jj range "
                f"[{self.range_low}, {self.range_high}]")

    @property
    def name(self) -> str:
        """Wildcard-friendly name, e.g. ``sr3300_3700``."""
        return f"sr{self.low:.0f}_{self.high:.0f}"

    def in_range(self, mjj: NDArray[np.float64]) -> NDArray[np.bool_]:
        return (mjj >= self.range_low) & (mjj < self.range_high)

    def in_sr(self, mjj: NDArray[np.float64]) -> NDArray[np.bool_]:
        return (mjj >= self.low) & (mjj < self.high)

    def in_sb(self, mjj: NDArray[np.float64]) -> NDArray[np.bool_]:
        return self.in_range(mjj) & ~self.in_sr(mjj)


def windows_from_config(regions: dict) -> list[Window]:
    """The ``regions`` config section as a list of windows."""
    low, high = regions["mjj_range"]
    return [Window(float(a), float(b), float(low), float(high)) for a, b in regions["signal_regions"]]


def window_for_mass(windows: Sequence[Window], mass: float) -> Window | None:
    """The window that contains ``mass`` [GeV], the one with the nearest centre if several
    do; None if none does. A CASE-like search quotes each
    signal model in this window."""
    inside = [w for w in windows if w.low <= mass < w.high]
    return min(inside, key=lambda w: abs(0.5 * (w.low + w.high) - mass)) if inside else None


def assign_folds(n: int, k: int, seed: int) -> NDArray[np.int64]:
    """Fold index 0..k-1 for n events, balanced and shuffled with ``seed``."""
    if k < 2:
        raise BumpfoldInputError(f"number of folds must be >= 2, got {k}")
    folds = np.arange(n) % k
    np.random.default_rng(seed).shuffle(folds)
    return folds
