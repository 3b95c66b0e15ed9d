"""Binned m_jj spectra and the dijet-function background fit.

The background is the dijet function family of CMS/ATLAS dijet searches (used by CASE),

    f(x) = p0 (1 - x)^p1 / x^(p2 + p3 ln x + p4 ln^2 x),   x = m_jj / sqrt(s),

with 2 to 5 parameters. It is fitted to the bins outside the signal window (the window is
blinded, so a signal there cannot pull the fit), by a binned Poisson likelihood with the
function integrated over each bin. The number of parameters is chosen by an F-test: add
one while it improves the fit significantly (p < threshold). The covariance of the chosen
fit (inverse Hessian of the negative log-likelihood) gives the eigen-variations that the
pyhf model carries as nuisance parameters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from bumpfold.errors import BumpfoldInputError

log = logging.getLogger(__name__)

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(6)
MIN_FIT_EVENTS = 10  # fewer selected events outside the window than this: no background fit


class FitError(BumpfoldInputError):
    """A background fit that does not converge or has no usable uncertainty."""


@dataclass(frozen=True)
class Binning:
    """Equal-width m_jj bins over the analysis range [GeV]."""

    low: float
    high: float
    width: float

    def __post_init__(self) -> None:
        n = (self.high - self.low) / self.width
        if self.width <= 0 or abs(n - round(n)) > 1e-6 or round(n) < 4:
            raise BumpfoldInputError(
                f"bumphunt.bin_width {self.width}: must divide the m_jj range [{self.low}, {self.high}] "
                "into at least 4 equal bins")

    @property
    def edges(self) -> NDArray[np.float64]:
        return np.linspace(self.low, self.high, round((self.high - self.low) / self.width) + 1)

    def window_mask(self, low: float, high: float, name: str = "window") -> NDArray[np.bool_]:
        """Bins inside [low, high); the window edges must be bin edges."""
        edges = self.edges
        for edge in (low, high):
            if np.min(np.abs(edges - edge)) > 1e-6:
                raise BumpfoldInputError(
                    f"{name}: edge {edge:g} GeV is not a bin edge of bumphunt.bin_width {self.width:g} "
                    f"from {self.low:g} GeV")
        centres = 0.5 * (edges[1:] + edges[:-1])
        return (centres > low) & (centres < high)

    def histogram(self, mjj: NDArray[np.float64], weights: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        return np.histogram(mjj, bins=self.edges, weights=weights)[0].astype(np.float64)


def dijet_density(m: NDArray[np.float64], params: NDArray[np.float64], sqrt_s: float) -> NDArray[np.float64]:
    """dN/dm of the dijet function; params[0] is ln p0 (a log keeps the fit well scaled)."""
    x = m / sqrt_s
    lx = np.log(x)
    power = sum(p * lx**i for i, p in enumerate(params[2:]))
    return np.exp(params[0] + params[1] * np.log1p(-x) - power * lx)


def bin_integrals(params: NDArray[np.float64], edges: NDArray[np.float64], sqrt_s: float) -> NDArray[np.float64]:
    """Expected events per bin: the density integrated over each bin (Gauss-Legendre)."""
    half, mid = 0.5 * np.diff(edges), 0.5 * (edges[1:] + edges[:-1])
    points = mid[:, None] + half[:, None] * _NODES[None, :]
    return half * (dijet_density(points, params, sqrt_s) * _WEIGHTS).sum(axis=1)


def poisson_deviance(observed: NDArray[np.float64], expected: NDArray[np.float64]) -> float:
    """-2 ln(L / L_saturated) of Poisson counts: a chi2 that stays valid for small counts."""
    expected = np.maximum(expected, 1e-300)
    ratio = np.where(observed > 0, observed * np.log(np.where(observed > 0, observed, 1.0) / expected), 0.0)
    return float(2.0 * np.sum(expected - observed + ratio))


@dataclass
class DijetFit:
    params: NDArray[np.float64]
    covariance: NDArray[np.float64]
    deviance: float  # over the fitted bins
    n_fit_bins: int
    sqrt_s: float
    ftest_pvalues: dict[int, float] = field(default_factory=dict)  # p-value of adding parameter n

    @property
    def n_params(self) -> int:
        return len(self.params)

    @property
    def ndf(self) -> int:
        return self.n_fit_bins - self.n_params

    def predict(self, edges: NDArray[np.float64], params: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        return bin_integrals(self.params if params is None else params, edges, self.sqrt_s)

    def eigen_variations(self, edges: NDArray[np.float64]) -> list[tuple[NDArray[np.float64], NDArray[np.float64]]]:
        """(up, down) predictions at params +- sqrt(lambda) v for each eigenvector v of the
        covariance: independent one-sigma shifts that together carry the fit uncertainty."""
        values, vectors = np.linalg.eigh(self.covariance)
        shifts = vectors * np.sqrt(np.clip(values, 0.0, None))
        return [(self.predict(edges, self.params + s), self.predict(edges, self.params - s)) for s in shifts.T]

    def variance_of_sum(self, edges: NDArray[np.float64], mask: NDArray[np.bool_]) -> float:
        """Variance of the predicted events summed over the bins of ``mask`` (the eigen-shifts
        move all bins together, so they are summed before squaring)."""
        shifts = [0.5 * (up[mask] - down[mask]).sum() for up, down in self.eigen_variations(edges)]
        return float(np.sum(np.square(shifts)))

    def summary(self) -> dict:
        return {"n_params": self.n_params, "params": self.params.tolist(), "deviance": self.deviance,
                "ndf": self.ndf, "ftest_pvalues": {str(k): v for k, v in self.ftest_pvalues.items()}}


def _numerical_hessian(f, x: NDArray[np.float64]) -> NDArray[np.float64]:
    n = len(x)
    h = 1e-4 * np.maximum(np.abs(x), 1.0)
    hess = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * h[i], np.eye(n)[j] * h[j]
            hess[i, j] = hess[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                4 * h[i] * h[j])
    return hess


def _covariance(deviance, params: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """Inverse Hessian of -ln L = deviance / 2 at the minimum; None unless it is a proper
    covariance (finite, positive definite), i.e. unless the fit converged to a minimum."""
    with np.errstate(all="ignore"):
        hess = _numerical_hessian(lambda p: 0.5 * deviance(p), params)
    try:
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return None
    cov = 0.5 * (cov + cov.T)
    if not (np.isfinite(cov).all() and np.all(np.linalg.eigvalsh(cov) > 0)):
        return None
    return cov


def _minimise(nll, start: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
    """BFGS, then Nelder-Mead from its result: the dijet likelihood has long curved valleys."""
    best = optimize.minimize(nll, start, method="BFGS", options={"maxiter": 2000})
    polished = optimize.minimize(nll, best.x, method="Nelder-Mead",
                                 options={"maxiter": 20000, "xatol": 1e-8, "fatol": 1e-10})
    if polished.fun < best.fun:
        best = polished
    return best.x, float(best.fun)


def fit_background(counts: NDArray[np.float64], edges: NDArray[np.float64], fit_mask: NDArray[np.bool_], *,
                   sqrt_s: float, min_params: int = 2, max_params: int = 5, ftest_threshold: float = 0.05,
                   name: str = "spectrum") -> DijetFit:
    """Fit the bins of ``fit_mask``; choose the number of parameters by the F-test."""
    if not 2 <= min_params <= max_params <= 5:
        raise BumpfoldInputError(
            f"bumphunt.fit: need 2 <= min_params <= max_params <= 5, got {min_params}, {max_params}")
    if not np.isfinite(counts).all() or (counts < 0).any():
        raise BumpfoldInputError(f"{name}: bin counts must be finite and >= 0")
    y = counts[fit_mask]
    n_bins = int(fit_mask.sum())
    if y.sum() <= 0:
        raise FitError(f"{name}: no selected events outside the signal window to fit the background")
    if y.sum() < MIN_FIT_EVENTS:
        raise FitError(f"{name}: {y.sum():.0f} selected events outside the signal window, too few to fit the "
                       f"background (need >= {MIN_FIT_EVENTS})")
    if n_bins <= max_params + 1:
        raise FitError(f"{name}: {n_bins} fit bins for up to {max_params} parameters; use narrower bins")

    def deviance(p: NDArray[np.float64]) -> float:
        with np.errstate(all="ignore"):
            value = poisson_deviance(y, bin_integrals(p, edges, sqrt_s)[fit_mask])
        return value if np.isfinite(value) else 1e300

    # start: a power law through the fitted bins; then each fit seeds the next
    centres = (0.5 * (edges[1:] + edges[:-1]))[fit_mask]
    slope = -np.polyfit(np.log(centres / sqrt_s), np.log(np.maximum(y, 0.5) / np.diff(edges)[fit_mask]), 1)[0]
    start = np.array([0.0, 0.0, slope])
    fits: dict[int, tuple[NDArray[np.float64], float, NDArray[np.float64]]] = {}
    for n in range(2, max_params + 1):
        p0 = np.r_[start, np.zeros(5)][:n].copy() if n > len(start) else start[:n].copy()
        with np.errstate(all="ignore"):
            p0[0] += np.log(y.sum() / max(bin_integrals(p0, edges, sqrt_s)[fit_mask].sum(), 1e-300))
        params, dev = _minimise(deviance, p0)
        cov = _covariance(deviance, params) if dev < 1e299 else None
        if cov is None or not np.all(np.isfinite(bin_integrals(params, edges, sqrt_s))):
            # a runaway or flat-direction fit (e.g. on a handful of events): the F-test
            # chooses among the smaller fits that did converge
            log.info("%s: the %d-parameter fit did not converge; F-test over %s", name, n, sorted(fits) or "none")
            break
        fits[n] = (params, dev, cov)
        start = params
    if max(fits, default=0) < min_params:
        raise FitError(f"{name}: the {min_params}-parameter background fit did not converge "
                       "(no minimum with a positive-definite covariance)")
    max_params = max(fits)
    chosen, pvalues = min_params, {}
    for n in range(min_params + 1, max_params + 1):
        d_small, d_big = fits[n - 1][1], fits[n][1]
        ndf = n_bins - n
        f_stat = max(d_small - d_big, 0.0) / max(d_big / ndf, 1e-12)
        pvalues[n] = float(stats.f.sf(f_stat, 1, ndf))
        if pvalues[n] >= ftest_threshold:
            break
        chosen = n
    params, dev, cov = fits[chosen]
    return DijetFit(params=params, covariance=cov, deviance=dev, n_fit_bins=n_bins, sqrt_s=sqrt_s,
                    ftest_pvalues=pvalues)
