"""Score thresholds of the bump hunt's selections: a fixed cut, or one that keeps the same
background efficiency at every m_jj (CASE's quantile regression).

A fixed cut on a classifier score keeps a background efficiency that changes with m_jj
wherever the score depends on m_jj (jet masses and substructure scale with it): the selected
spectrum then has a shape the dijet function may not follow, and an SR-trained classifier
can sculpt a local step into the window. The quantile-regression threshold is the
(1 - e) quantile of the score as a smooth function of m_jj, fitted to the data events
*outside* the window (so that a signal in the window does not move it) and interpolated
into it. Where the fit describes the background, the selected background spectrum is e
times the inclusive one, and the dijet fit needs no simulation.

The fit is linear quantile regression (the pinball loss, solved exactly as a linear
programme with HiGHS, in its dual form) of logit(score) on a polynomial in ln(m_jj / window centre);
``degree`` 1 is a straight line in that space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError

THRESHOLD_KINDS = ("fixed", "quantile_regression")
MIN_ABOVE = 20  # fewest fit events above the quantile: below, the tail is not measured


def _logit(score: NDArray[np.float64]) -> NDArray[np.float64]:
    p = np.clip(np.asarray(score, dtype=np.float64), 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class FixedThreshold:
    """One score cut everywhere (from the SR data, the ``select`` step)."""

    cut: float

    def __call__(self, mjj: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.full(len(mjj), self.cut)

    def summary(self) -> dict[str, Any]:
        return {"kind": "fixed", "cut": self.cut}


@dataclass(frozen=True)
class QuantileThreshold:
    """logit(cut) = sum_k coefficients[k] * ln(m_jj / centre)^k."""

    efficiency: float
    centre: float
    coefficients: tuple[float, ...]
    n_fit: int

    def __call__(self, mjj: NDArray[np.float64]) -> NDArray[np.float64]:
        x = np.log(np.asarray(mjj, dtype=np.float64) / self.centre)
        return 1.0 / (1.0 + np.exp(-np.polynomial.polynomial.polyval(x, self.coefficients)))

    def summary(self) -> dict[str, Any]:
        return {"kind": "quantile_regression", "efficiency": self.efficiency, "centre_gev": self.centre,
                "logit_coefficients": list(self.coefficients), "n_fit_events": self.n_fit,
                "cut_at_centre": float(self(np.array([self.centre]))[0])}


Threshold = FixedThreshold | QuantileThreshold


def fit_quantile_threshold(mjj: NDArray[np.float64], score: NDArray[np.float64], *, efficiency: float,
                           centre: float, degree: int, name: str) -> QuantileThreshold:
    """The threshold keeping the fraction ``efficiency`` of these events at every m_jj
    (the events the fit may see: outside the window). Raises BumpfoldInputError with the
    reason when the tail is too thin to fit or the programme does not solve."""
    from scipy import optimize

    if not 0 < efficiency < 1:
        raise BumpfoldInputError(f"{name}: efficiency {efficiency} must be in (0, 1)")
    mjj, y = np.asarray(mjj, dtype=np.float64), _logit(score)
    n, n_coef = len(y), degree + 1
    if n * efficiency < MIN_ABOVE:
        raise BumpfoldInputError(f"{name}: {n} events outside the window keep {n * efficiency:.1f} above the "
                                 f"efficiency-{efficiency:g} quantile (< {MIN_ABOVE}): too few to fit its m_jj "
                                 "dependence")
    design = np.vander(np.log(mjj / centre), n_coef, increasing=True)
    tau = 1.0 - efficiency  # the cut is the tau quantile: a fraction efficiency lies above it
    # Koenker's dual of the pinball-loss programme (n bounded variables, degree + 1 equality
    # constraints; tens of times faster than the primal): max y.a s.t. X'a = (1 - tau) X'1,
    # 0 <= a <= 1; the coefficients are the duals of the equality constraints
    result = optimize.linprog(-y, A_eq=design.T, b_eq=(1.0 - tau) * design.sum(axis=0), bounds=(0.0, 1.0),
                              method="highs")
    if result.status != 0:
        raise BumpfoldInputError(f"{name}: the quantile regression of the score on m_jj did not converge "
                                 f"({result.message})")
    coefficients = -np.asarray(result.eqlin.marginals, dtype=np.float64)
    return QuantileThreshold(efficiency=efficiency, centre=centre, coefficients=tuple(float(c) for c in coefficients),
                             n_fit=n)


def efficiency_by_bin(mjj: NDArray[np.float64], passed: NDArray[np.bool_],
                      edges: NDArray[np.float64]) -> NDArray[np.float64]:
    """Fraction of events passing per m_jj bin (NaN where a bin is empty)."""
    total = np.histogram(mjj, edges)[0].astype(np.float64)
    kept = np.histogram(mjj[passed], edges)[0].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, kept / total, np.nan)
