"""The dijet background fit with MINUIT (MIGRAD + HESSE): pulls over toys, the covariance
against the curvature of the likelihood, and fits that fail the documented way."""

from __future__ import annotations

import numpy as np
import pytest

from bumpfold.bumphunt.spectrum import Binning, FitError, bin_integrals, fit_background, poisson_deviance
from bumpfold.errors import BumpfoldInputError

SQRT_S = 13000.0
BINNING = Binning(2800.0, 5500.0, 100.0)
EDGES = BINNING.edges
IN_WINDOW = BINNING.window_mask(3300.0, 3700.0)
TRUE_PARAMS = np.array([0.0, 10.0, 6.0])  # ~25k events, as the default pseudo-data
TRUE_PARAMS[0] = np.log(25000.0 / bin_integrals(TRUE_PARAMS, EDGES, SQRT_S).sum())


def _toy(rng: np.random.Generator) -> np.ndarray:
    return rng.poisson(bin_integrals(TRUE_PARAMS, EDGES, SQRT_S)).astype(float)


def test_fitted_parameters_scatter_by_their_hesse_uncertainties():
    """Pulls (fitted - true) / HESSE sigma over 100 toys: mean ~0, width ~1 (its statistical
    spread is ~0.07). An errordef of 0.5 on the deviance (= 2 NLL) would make the width ~1.4,
    a biased minimum would shift the mean."""
    rng = np.random.default_rng(5)
    fits = [fit_background(_toy(rng), EDGES, ~IN_WINDOW, sqrt_s=SQRT_S, min_params=3, max_params=3)
            for _ in range(100)]
    pulls = np.array([(fit.params - TRUE_PARAMS) / np.sqrt(np.diag(fit.covariance)) for fit in fits])
    assert np.all(np.abs(pulls.mean(axis=0)) < 0.5), pulls.mean(axis=0)
    width = pulls.std(axis=0, ddof=1)
    assert np.all((width > 0.75) & (width < 1.25)), width


def _whitened_derivatives(observed, fit) -> tuple[np.ndarray, np.ndarray]:
    """Central finite differences of -ln L = deviance / 2 at the fit, in z with params =
    fit.params + L z, L L^T = fit.covariance (the dijet parameters are correlated up to
    0.9999: steps along the parameter axes would leave the quadratic region): (gradient, Hessian)."""
    n, h = fit.n_params, 0.01
    chol = np.linalg.cholesky(fit.covariance)

    def nll(z):
        return 0.5 * poisson_deviance(observed[~IN_WINDOW], fit.predict(EDGES, fit.params + chol @ z)[~IN_WINDOW])

    steps = np.eye(n) * h
    grad = np.array([(nll(s) - nll(-s)) / (2 * h) for s in steps])
    hess = np.array([[(nll(a + b) - nll(a - b) - nll(b - a) + nll(-a - b)) / (4 * h * h) for b in steps]
                     for a in steps])
    return grad, hess


@pytest.mark.parametrize("n_params", [2, 3, 4, 5])
def test_covariance_is_the_inverse_hessian_of_the_likelihood_at_its_minimum(n_params):
    observed = _toy(np.random.default_rng(6))
    fit = fit_background(observed, EDGES, ~IN_WINDOW, sqrt_s=SQRT_S, min_params=n_params, max_params=n_params)
    grad, hess = _whitened_derivatives(observed, fit)
    # in the coordinates whitened by the covariance, the finite-difference Hessian of -ln L is
    # the identity (within 5 %) where the covariance is its inverse
    assert np.abs(hess - np.eye(n_params)).max() < 0.05, hess
    chol = np.linalg.cholesky(fit.covariance)
    finite_difference_cov = chol @ np.linalg.inv(hess) @ chol.T
    ratio = np.sqrt(np.diag(fit.covariance) / np.diag(finite_difference_cov))
    assert np.all(np.abs(ratio - 1.0) < 0.05), ratio
    # and MIGRAD stopped at the minimum: within 0.02 sigma in every direction
    assert np.abs(grad).max() < 0.02, grad


def test_a_spectrum_the_function_cannot_fit_is_a_fit_error():
    """12 events, all in the last bin: the likelihood grows without bound as the function
    runs to zero below it, so MIGRAD finds no valid minimum. That is a FitError (a
    BumpfoldInputError, which the pipeline reports as a failed efficiency), not a crash."""
    lone = np.zeros(len(EDGES) - 1)
    lone[-1] = 12.0
    with pytest.raises(FitError, match="the 2-parameter background fit did not converge"):
        fit_background(lone, EDGES, ~IN_WINDOW, sqrt_s=SQRT_S)
    assert issubclass(FitError, BumpfoldInputError)
    window_only = np.where(IN_WINDOW, 100.0, 0.0)  # nothing outside the window to fit
    with pytest.raises(FitError, match="no selected events outside the signal window"):
        fit_background(window_only, EDGES, ~IN_WINDOW, sqrt_s=SQRT_S)


def test_a_larger_fit_that_fails_leaves_the_ftest_to_the_smaller_ones():
    """Events only at both ends: the 3-parameter function runs away between them. The
    F-test then chooses among the fits that converged (here the 2-parameter one); with
    min_params 3 there is none, and that is the FitError."""
    ends = np.zeros(len(EDGES) - 1)
    ends[[0, -1]] = 6.0
    fit = fit_background(ends, EDGES, ~IN_WINDOW, sqrt_s=SQRT_S)
    assert fit.n_params == 2 and fit.ftest_pvalues == {}
    assert np.all(np.linalg.eigvalsh(fit.covariance) > 0)
    with pytest.raises(FitError, match="the 3-parameter background fit did not converge"):
        fit_background(ends, EDGES, ~IN_WINDOW, sqrt_s=SQRT_S, min_params=3)
