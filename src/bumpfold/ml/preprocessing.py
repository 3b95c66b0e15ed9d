"""Invertible preprocessing for density estimation: min-max to (0, 1), logit, standardise.

Bounded features (jet masses, tau ratios) have sharp edges that flows model poorly; the
logit maps them onto the real line (as in CATHODE). The log-Jacobian is returned so that
densities can be reported in the original feature space (ANODE needs them there).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError


@dataclass
class LogitScaler:
    """``margin`` widens the fitted [min, max] range on each side (as a fraction of it),
    so that values somewhat outside the training data stay inside (0, 1)."""

    margin: float = 0.05
    low: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    width: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    mean: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    std: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def fit(self, x: NDArray[np.float64]) -> LogitScaler:
        if len(x) == 0 or not np.isfinite(x).all():
            raise BumpfoldInputError("preprocessing needs at least one event and finite features")
        lo, hi = x.min(axis=0), x.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        self.low, self.width = lo - self.margin * span, span * (1 + 2 * self.margin)
        z = self._logit(x)
        self.mean, self.std = z.mean(axis=0), np.where(z.std(axis=0) > 0, z.std(axis=0), 1.0)
        return self

    def _unit(self, x):
        return np.clip((x - self.low) / self.width, 1e-6, 1 - 1e-6)

    def _logit(self, x):
        u = self._unit(x)
        return np.log(u) - np.log1p(-u)

    def transform(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        return (self._logit(x) - self.mean) / self.std

    def inverse(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        u = 1.0 / (1.0 + np.exp(-(z * self.std + self.mean)))
        return self.low + u * self.width

    def log_abs_det_jacobian(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """log |dz/dx| summed over features, per event."""
        u = self._unit(x)
        return np.sum(-np.log(u) - np.log1p(-u) - np.log(self.width) - np.log(self.std), axis=1)

    def state(self) -> dict[str, list[float] | float]:
        return {"margin": self.margin, "low": self.low.tolist(), "width": self.width.tolist(),
                "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_state(cls, state: dict) -> LogitScaler:
        return cls(margin=float(state["margin"]), **{k: np.asarray(state[k]) for k in ("low", "width", "mean", "std")})


@dataclass
class QuantileGaussianizer:
    """Each feature mapped through its training-set quantiles onto a standard normal (rank
    Gaussianisation). Tree ensembles are blind to monotone transformations of a feature; an
    MLP is not: on plain standardisation a skewed or heavy-tailed feature (jet masses, a
    sentinel value) squeezes most events into a small input range. Ties (e.g. tau21 = 0 for
    one-particle jets) map to the middle of their quantile range; values beyond the training
    range to the nearest end (+-5.2 sigma)."""

    n_quantiles: int = 1000
    levels: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    knots: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))

    def fit(self, x: NDArray[np.float64]) -> QuantileGaussianizer:
        if len(x) == 0 or not np.isfinite(x).all():
            raise BumpfoldInputError("preprocessing needs at least one event and finite features")
        self.levels = np.linspace(0.0, 1.0, min(self.n_quantiles, len(x)))
        self.knots = np.quantile(x, self.levels, axis=0)
        return self

    def transform(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        from scipy.special import ndtri

        u = np.empty(x.shape, dtype=np.float64)
        for j in range(x.shape[1]):
            knots = self.knots[:, j]
            # interpolating up and down the knots and averaging puts a tie in its range's middle
            up = np.interp(x[:, j], knots, self.levels)
            down = -np.interp(-x[:, j], -knots[::-1], -self.levels[::-1])
            u[:, j] = 0.5 * (up + down)
        return ndtri(np.clip(u, 1e-7, 1.0 - 1e-7))
