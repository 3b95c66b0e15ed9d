"""Metrics of unfolding quality: weighted histograms, the triangular discriminator, chi2/ndf
(for independent samples only).

The triangular discriminator is the OmniFold paper's figure of merit (arXiv:1911.09107,
tables reported in units of 10^-3): it is symmetric, bounded in [0, 1], and does not blow
up on bins that are empty in one histogram (unlike chi2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError


@dataclass(frozen=True)
class Histogram:
    """Weighted counts per bin, their statistical uncertainty sqrt(sum w^2), and bin edges."""

    counts: NDArray[np.float64]
    errors: NDArray[np.float64]
    edges: NDArray[np.float64]

    def normalized(self) -> Histogram:
        """Unit total (fractions per bin), uncertainties scaled alike (total treated as exact)."""
        total = self.counts.sum()
        if total == 0:
            raise BumpfoldInputError("histogram: cannot normalise, total weight is 0")
        return Histogram(self.counts / total, self.errors / abs(total), self.edges)


BIN_QUANTILES = (0.005, 0.995)
INTEGER_OBSERVABLES = ("multiplicity",)


def observable_edges(values: NDArray[np.float64], name: str, n_bins: int) -> NDArray[np.float64]:
    """``n_bins`` equal bins between the 0.5% and 99.5% quantiles (outside: clipped into the
    edge bins); integer observables get half-integer edges so no bin straddles a value."""
    low, high = np.quantile(values, BIN_QUANTILES)
    if name in INTEGER_OBSERVABLES:
        step = max(1, int(np.ceil((high - low) / n_bins)))
        return np.arange(np.floor(low) - 0.5, np.ceil(high) + 0.5 + step, step, dtype=np.float64)
    if not high > low:
        raise BumpfoldInputError(f"unfold: observable {name!r} takes a single value in the simulation ({low:g})")
    return np.linspace(low, high, n_bins + 1)


def bin_index(values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.int64]:
    """Bin of each value; values below (above) the range go to the first (last) bin, so that
    no event is lost (under/overflow are clipped into the edge bins). NaN -> last bin, so
    callers pass only finite values."""
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or not (np.diff(edges) > 0).all():
        raise BumpfoldInputError(f"bins: need at least two strictly increasing edges, got {edges.tolist()}")
    index = np.searchsorted(edges, values, side="right") - 1
    return np.clip(index, 0, len(edges) - 2)


def weighted_histogram(values: NDArray[np.float64], *, bins: NDArray[np.float64],
                       weights: NDArray[np.float64] | None = None, clip: bool = True) -> Histogram:
    """Histogram of ``values`` with ``weights`` (default 1) on the edges ``bins``.

    ``clip=True`` puts under/overflow into the edge bins (the IBU convention here, so the
    two agree); ``clip=False`` drops them as ``numpy.histogram`` does.
    """
    values = np.asarray(values, dtype=np.float64)
    w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != values.shape:
        raise BumpfoldInputError(f"weighted_histogram: {len(values)} values but weights of shape {w.shape}")
    edges = np.asarray(bins, dtype=np.float64)
    index = bin_index(values, edges)
    if not clip:
        inside = (values >= edges[0]) & (values <= edges[-1])
        index, w = index[inside], w[inside]
    nb = len(edges) - 1
    counts = np.asarray(np.bincount(index, weights=w, minlength=nb), dtype=np.float64)
    sumw2 = np.asarray(np.bincount(index, weights=w * w, minlength=nb), dtype=np.float64)
    return Histogram(counts, np.sqrt(sumw2), edges)


def _normalize(name: str, h: NDArray[np.float64]) -> NDArray[np.float64]:
    h = np.asarray(h, dtype=np.float64)
    total = h.sum()
    if not np.isfinite(h).all() or (h < 0).any() or total <= 0:
        raise BumpfoldInputError(f"triangular_discriminator: {name} must be finite, >= 0 and not all 0")
    return h / total


def triangular_discriminator(p: NDArray[np.float64], q: NDArray[np.float64], *, scale: float = 1e3) -> float:
    """Delta(p, q) = 1/2 sum_i (p_i - q_i)^2 / (p_i + q_i), times ``scale``.

    Both histograms are first normalised to unit sum (bin fractions); on equal bins this
    equals the integral of the normalised densities' formula. Bins empty in both are
    skipped. Default ``scale=1e3`` gives the value in units of 10^-3, as the OmniFold paper
    reports it (0 = identical shapes, 1000 = disjoint).
    """
    pn, qn = _normalize("p", p), _normalize("q", q)
    if pn.shape != qn.shape:
        raise BumpfoldInputError(f"triangular_discriminator: p has {pn.size} bins, q has {qn.size}")
    total = pn + qn
    used = total > 0
    return float(scale * 0.5 * np.sum((pn[used] - qn[used]) ** 2 / total[used]))


@dataclass(frozen=True)
class Chi2Result:
    chi2: float
    ndf: int

    @property
    def per_ndf(self) -> float:
        return self.chi2 / self.ndf if self.ndf else float("nan")


def chi2_ndf(a: NDArray[np.float64], b: NDArray[np.float64], *, sigma_a: NDArray[np.float64],
             sigma_b: NDArray[np.float64] | None = None, normalised: bool = False) -> Chi2Result:
    """chi2 = sum_i (a_i - b_i)^2 / (sigma_a_i^2 + sigma_b_i^2) over bins with non-zero
    uncertainty (empty bins are skipped); ndf = number of bins used, less one for
    ``normalised`` histograms (shapes: the totals are fixed). Bins are taken as independent,
    and ``a`` and ``b`` as statistically independent samples."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    var = np.asarray(sigma_a, dtype=np.float64) ** 2
    if sigma_b is not None:
        var = var + np.asarray(sigma_b, dtype=np.float64) ** 2
    if not (a.shape == b.shape == var.shape):
        raise BumpfoldInputError(f"chi2_ndf: shapes differ (a {a.shape}, b {b.shape}, sigma {var.shape})")
    used = var > 0
    return Chi2Result(float(np.sum((a[used] - b[used]) ** 2 / var[used])), int(used.sum()) - int(normalised))
