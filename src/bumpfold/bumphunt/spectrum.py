"""Binned m_jj spectra and the dijet-function background fit.

The background is the dijet function family of CMS/ATLAS dijet searches (used by CASE),

    f(x) = p0 (1 - x)^p1 / x^(p2 + p3 ln x + p4 ln^2 x),   x = m_jj / sqrt(s),

with 2 to 5 parameters. It is fitted to the bins outside the signal window (the window is
blinded, so a signal there cannot pull the fit), by a binned Poisson likelihood with the
function integrated over each bin, minimised by MINUIT (iminuit: MIGRAD, then HESSE for the
covariance) in linearly decorrelated coordinates. The number of parameters is chosen by an
F-test: add one while it improves the fit significantly (p < threshold). The covariance of
the chosen fit (inverse Hessian of the negative log-likelihood) gives the eigen-variations
that the pyhf model carries as nuisance parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from iminuit import Minuit
from numpy.typing import NDArray
from scipy import stats

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


def _log_basis(x: NDArray[np.float64], n_params: int) -> NDArray[np.float64]:
    """ln f(x) is linear in the parameters: the functions they multiply, on a last axis."""
    lx = np.log(x)
    return np.stack([np.ones_like(x), np.log1p(-x)] + [-lx**k for k in range(1, n_params - 1)], axis=-1)


def dijet_density(m: NDArray[np.float64], params: NDArray[np.float64], sqrt_s: float) -> NDArray[np.float64]:
    """dN/dm of the dijet function; params[0] is ln p0 (a log keeps the fit well scaled)."""
    return np.exp(_log_basis(m / sqrt_s, len(params)) @ params)


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


def _decorrelating_map(x: NDArray[np.float64], counts: NDArray[np.float64], n_params: int) -> NDArray[np.float64]:
    """T such that the fit in q, params = T q, has a Fisher information near the identity.

    The dijet parameters are correlated up to 0.9999 (condition numbers to 1e11 for five):
    MINUIT's numerical second derivatives fail there (a covariance forced positive
    definite, a premature stop). The Poisson information is about sum_b mu_b B_b B_b^T over
    the bins, B the basis of ln f; with mu ~ counts, T = R^-1 of the QR decomposition of
    sqrt(mu) B makes it the identity."""
    weighted = _log_basis(x, n_params) * np.sqrt(np.maximum(counts, 1.0))[:, None]
    return np.linalg.inv(np.linalg.qr(weighted, mode="r"))


def _migrad_hesse(deviance: Callable[[NDArray[np.float64]], float], start: NDArray[np.float64],
                  transform: NDArray[np.float64]) -> tuple[NDArray[np.float64], float, NDArray[np.float64]] | None:
    """MIGRAD, then HESSE, on the deviance in the coordinates q of params = transform q:
    (params, deviance, covariance of params), or None unless MIGRAD found a valid minimum
    and HESSE an accurate, positive-definite covariance.

    The deviance is 2 (-ln L) up to a constant, so errordef 1 (a chi2's) puts the one-sigma
    contour at +1 and Minuit's covariance is the inverse Hessian of -ln L."""
    minuit = Minuit(lambda q: deviance(transform @ q), np.linalg.solve(transform, start))
    minuit.errordef = Minuit.LEAST_SQUARES
    minuit.errors = 1.0  # the one-sigma errors in q, by construction of the transform
    minuit.tol = 0.001  # EDM below 2e-6: the F-test compares deviances of nested fits
    with np.errstate(all="ignore"):
        minuit.migrad()
        if not minuit.valid:
            return None
        minuit.hesse()
    cov = np.array(minuit.covariance, dtype=np.float64)
    if not (minuit.valid and minuit.accurate and np.isfinite(cov).all() and np.all(np.linalg.eigvalsh(cov) > 0)):
        return None
    return transform @ np.array(minuit.values), float(minuit.fval), transform @ cov @ transform.T


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
        fitted = _migrad_hesse(deviance, p0, _decorrelating_map(centres / sqrt_s, y, n))
        if fitted is None or not np.all(np.isfinite(bin_integrals(fitted[0], edges, sqrt_s))):
            # a runaway or flat-direction fit (e.g. on a handful of events): the F-test
            # chooses among the smaller fits that did converge
            log.info("%s: the %d-parameter fit did not converge; F-test over %s", name, n, sorted(fits) or "none")
            break
        fits[n] = fitted
        start = fitted[0]
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
