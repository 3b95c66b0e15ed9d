"""pyhf model of one signal window: signal template x mu on the fitted background.

Channel: the m_jj bins of the signal window. Samples:
* ``signal``: the selected signal template for a cross section x branching ratio of 1 fb,
  so the POI ``mu`` *is* sigma x B in fb (its MC statistical uncertainty is left out: the
  analysis asks for >= ``min_signal_mc`` template events, and per-bin gammas would double
  the fit time); with ``bumphunt.signal_systematics`` one ``histosys`` per detector
  variation (the signal reprocessed and selected again), with
  ``bumphunt.luminosity_uncertainty`` a ``normsys``;
* ``background``: the dijet fit to the bins outside the window, with one ``histosys`` per
  eigenvector of the fit covariance (constrained to N(0, 1): the sideband data enter
  once, through the fit, and not again through the likelihood), and with
  ``bumphunt.spurious_signal`` a ``histosys`` adding +-S_spur events shaped like the signal
  (the fit function's bias, measured on a high-statistics spectrum). With
  ``bumphunt.selection_bias`` b (the selection's excess background efficiency inside the
  window, measured by whole-chain toys) the background is multiplied by 1 + b and a
  ``normsys`` of width b (the correction's own size) carries its uncertainty. With the sculpting
  correction (bumpfold.bumphunt.sculpting) the fit is multiplied by the measured ratio,
  and a ``normsys`` carries the ratio's uncertainty.
Data: the selected counts in the window. Local significance from q0 (asymptotic), with
mu allowed below zero so deficits give negative significances; CLs upper limits from
qtilde (asymptotic, or toys on request) on a grid of mu sized from the fit's uncertainty.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from bumpfold.errors import BumpfoldInputError

logging.getLogger("pyhf").setLevel(logging.WARNING)  # one INFO line per modifier per model otherwise


@dataclass
class WindowCounts:
    name: str
    data: NDArray[np.float64]
    background: NDArray[np.float64]
    variations: list[tuple[NDArray[np.float64], NDArray[np.float64]]]  # (up, down) per eigenvector
    signal: NDArray[np.float64]  # expected events for sigma x B = 1 fb
    # relative uncertainty of the background normalisation beyond the fit's (sculpting correction)
    background_norm_uncertainty: float | None = None
    # the fit function's bias in the window [events]: a signal-shaped background term, N(0, 1)
    # constrained (bumphunt.spurious_signal)
    spurious_signal: float = 0.0
    # the selection's excess background efficiency inside the window, relative (already in
    # ``background``); its uncertainty, a log-normal of this width (bumphunt.selection_bias)
    selection_bias: float = 0.0
    # the signal's detector systematics: (name, up, down) templates for sigma x B = 1 fb, the
    # model reprocessed through varied detectors (bumphunt.signal_systematics)
    signal_variations: list[tuple[str, NDArray[np.float64], NDArray[np.float64]]] = field(default_factory=list)
    # relative uncertainty of the signal's normalisation: the luminosity's
    signal_norm_uncertainty: float = 0.0


def _linear_mu_estimate(c: WindowCounts) -> float:
    """mu_hat of the Gaussian approximation, sum t (d - b) / b / sum t^2 / b, inside the bounds
    (pyhf's default 1 where the bins disagree: its validation then names the problem)."""
    if not len(c.data) == len(c.background) == len(c.signal):
        return 1.0
    weight = c.signal / c.background
    estimate = float(np.sum(weight * (c.data - c.background)) / np.sum(weight * c.signal))
    low, high = _mu_bounds(c)
    return float(np.clip(estimate, 0.5 * low, 0.5 * high))


def workspace_spec(c: WindowCounts) -> dict:
    """A pyhf workspace (JSON-serialisable dict), validated against pyhf's schema."""
    import pyhf

    if c.signal.sum() <= 0:
        raise BumpfoldInputError(f"{c.name}: the signal template has no events in the window")
    if (c.background <= 0).any():
        raise BumpfoldInputError(f"{c.name}: the background fit predicts <= 0 events in a window bin")
    bkg_modifiers = [{"name": f"bkg_fit_eig{i}", "type": "histosys",
                      "data": {"hi_data": up.tolist(), "lo_data": np.maximum(down, 1e-6).tolist()}}
                     for i, (up, down) in enumerate(c.variations)]
    if c.spurious_signal > 0:  # +-S_spur events distributed like the signal
        shape = c.spurious_signal * c.signal / c.signal.sum()
        bkg_modifiers.append({"name": "spurious_signal", "type": "histosys",
                              "data": {"hi_data": (c.background + shape).tolist(),
                                       "lo_data": np.maximum(c.background - shape, 1e-6).tolist()}})
    if c.selection_bias > 0:
        bkg_modifiers.append({"name": "selection_bias", "type": "normsys",
                              "data": {"hi": float(np.exp(c.selection_bias)), "lo": float(np.exp(-c.selection_bias))}})
    if c.background_norm_uncertainty is not None:  # log-normal of width u: the factor stays positive
        u = c.background_norm_uncertainty
        bkg_modifiers.append({"name": "sculpting_correction", "type": "normsys",
                              "data": {"hi": float(np.exp(u)), "lo": float(np.exp(-u))}})
    spec = {
        "channels": [{"name": "window", "samples": [
            {"name": "signal", "data": c.signal.tolist(), "modifiers": _signal_modifiers(c)},
            {"name": "background", "data": c.background.tolist(), "modifiers": bkg_modifiers}]}],
        "observations": [{"name": "window", "data": c.data.tolist()}],
        # mu starts at its linearised estimate: from the default start (1) scipy's optimiser
        # stops short at high statistics (mu_hat 1.0 instead of 35 events over 27k background)
        "measurements": [{"name": "bumphunt", "config": {"poi": "mu", "parameters": [
            {"name": "mu", "inits": [_linear_mu_estimate(c)]}]}}],
        "version": "1.0.0",
    }
    try:  # the schema, and that a model builds from it (bin counts agree across samples)
        pyhf.Workspace(spec).model()
    except Exception as exc:
        raise BumpfoldInputError(f"{c.name}: the pyhf workspace fails validation ({exc})") from exc
    return spec


def _signal_modifiers(c: WindowCounts) -> list[dict]:
    """mu, and each detector systematic as a histosys (its own shape and normalisation), the
    luminosity as a log-normal normsys; all N(0, 1) constrained."""
    modifiers: list[dict] = [{"name": "mu", "type": "normfactor", "data": None}]
    for name, up, down in c.signal_variations:
        modifiers.append({"name": f"signal_{name}", "type": "histosys",
                          "data": {"hi_data": np.maximum(up, 0.0).tolist(), "lo_data": np.maximum(down, 0.0).tolist()}})
    if c.signal_norm_uncertainty > 0:
        u = c.signal_norm_uncertainty
        modifiers.append({"name": "luminosity", "type": "normsys",
                          "data": {"hi": float(np.exp(u)), "lo": float(np.exp(-u))}})
    return modifiers


@dataclass
class Inference:
    mu_hat: float  # sigma x B [fb] at the best fit
    local_significance: float  # signed: negative for a deficit
    p_value: float  # one-sided local p-value of the background-only hypothesis
    limit_obs: float  # 95% CL upper limit on sigma x B [fb]
    limit_exp: list[float]  # expected limit at -2, -1, 0, +1, +2 sigma [fb]
    pulls: dict[str, float] = field(default_factory=dict)  # nuisance parameter -> best fit (N(0, 1) prior)

    def as_dict(self, signal_events_per_fb: float | None) -> dict:
        """Also in signal events in the window (the template's total for 1 fb). Without a
        luminosity (``None``) the template held one signal event in the window: mu and the
        limits are in events, and the fb columns are None."""
        to_events = 1.0 if signal_events_per_fb is None else signal_events_per_fb
        in_fb = signal_events_per_fb is not None
        return {"mu_hat_fb": self.mu_hat if in_fb else None, "mu_hat_events": self.mu_hat * to_events,
                "local_significance": self.local_significance, "p_value": self.p_value,
                "limit_obs_fb": self.limit_obs if in_fb else None, "limit_exp_fb": self.limit_exp if in_fb else None,
                "limit_obs_events": self.limit_obs * to_events,
                "limit_exp_events": [v * to_events for v in self.limit_exp], "pulls": self.pulls}


def _mu_bounds(c: WindowCounts) -> tuple[float, float]:
    """mu may go negative (a deficit) while every bin keeps a positive expectation."""
    low = -0.95 * float(np.min(c.background[c.signal > 0] / c.signal[c.signal > 0]))
    high = 20.0 * (c.data.sum() + 10.0 * np.sqrt(c.data.sum() + 1.0)) / c.signal.sum()
    return low, high


def signed_significance(spec: dict, c: WindowCounts) -> tuple[float, float]:
    """(mu_hat, Z) with Z = sign(mu_hat) sqrt(q0), q0 = -2 ln L(0)/L(mu_hat)."""
    mu_hat, z, _ = _significance_and_pulls(spec, c)
    return mu_hat, z


def _significance_and_pulls(spec: dict, c: WindowCounts) -> tuple[float, float, dict[str, float]]:
    """mu_hat, the signed Z, and the best-fit value of each constrained nuisance parameter
    (its pull: each is constrained to N(0, 1), so a pull beyond +-1 is a tension between the
    window's data and the sideband fit)."""
    import pyhf

    ws = pyhf.Workspace(spec)
    model, data = ws.model(), ws.data(ws.model())
    bounds = model.config.suggested_bounds()
    bounds[model.config.poi_index] = _mu_bounds(c)
    free, twice_nll_free = pyhf.infer.mle.fit(data, model, par_bounds=bounds, return_fitted_val=True)
    _, twice_nll_zero = pyhf.infer.mle.fixed_poi_fit(0.0, data, model, par_bounds=bounds, return_fitted_val=True)
    mu_hat = float(free[model.config.poi_index])
    q0 = max(float(twice_nll_zero - twice_nll_free), 0.0)
    pulls = {name: float(free[model.config.par_slice(name)][0]) for name in model.config.par_order
             if name != model.config.poi_name}
    return mu_hat, float(np.sign(mu_hat) * np.sqrt(q0)), pulls


def _mu_hat(data, model, bounds, init) -> float:
    import pyhf

    return float(pyhf.infer.mle.fit(data, model, init_pars=init, par_bounds=bounds)[model.config.poi_index])


def _mu_uncertainty(data, model, bounds, init, c: WindowCounts, mu_hat: float) -> float:
    """sigma_mu from the profile likelihood: q at ``mu_hat`` (the free fit's, here >= 0) + a
    generous step, assuming a parabola."""
    import pyhf

    step = float(np.sqrt(c.background.sum() + 1.0) / c.signal.sum())
    _, at_hat = pyhf.infer.mle.fixed_poi_fit(mu_hat, data, model, init_pars=init, par_bounds=bounds,
                                             return_fitted_val=True)
    _, at_step = pyhf.infer.mle.fixed_poi_fit(mu_hat + step, data, model, init_pars=init, par_bounds=bounds,
                                              return_fitted_val=True)
    q = float(at_step - at_hat)
    return step / np.sqrt(q) if q > 1e-6 else step


def asymptotic_calculator(data, model, *, init, bounds):
    """pyhf's asymptotic qtilde calculator, except that the three fits which do not depend on
    the tested mu (the free fit to the data, the Asimov data's background-only fit, the free
    fit to the Asimov data) run once, when it is built: pyhf's ``teststatistic`` redoes all five fits
    at every point. Each remaining call is pyhf's own (``fixed_poi_fit`` with the same start
    and bounds), so the CLs values equal ``pyhf.infer.hypotest``'s (a test checks it)."""
    import pyhf
    from pyhf.infer.calculators import AsymptoticCalculator, generate_asimov_data
    from pyhf.infer.mle import fit, fixed_poi_fit

    fixed = model.config.suggested_fixed()
    poi = model.config.poi_index

    class CachedFitsCalculator(AsymptoticCalculator):
        def __init__(self) -> None:
            super().__init__(data, model, init, bounds, fixed, test_stat="qtilde")
            self.free_to_data = fit(data, model, init, bounds, fixed, return_fitted_val=True)
            self.asimov = generate_asimov_data(0.0, data, model, init, bounds, fixed)
            self.free_to_asimov = fit(self.asimov, model, init, bounds, fixed, return_fitted_val=True)

        @staticmethod
        def _qtilde(mu: float, observed, free) -> float:
            """pyhf's qmu_tilde: -2 ln lambda(mu), clipped at 0, and 0 where mu_hat > mu."""
            free_pars, free_twice_nll = free
            _, fixed_twice_nll = fixed_poi_fit(mu, observed, model, init, bounds, fixed, return_fitted_val=True)
            return 0.0 if free_pars[poi] > mu else max(float(fixed_twice_nll - free_twice_nll), 0.0)

        def teststatistic(self, poi_test):
            qmu = self._qtilde(poi_test, data, self.free_to_data)
            qmu_asimov = self._qtilde(poi_test, self.asimov, self.free_to_asimov)
            sqrt_qmu, self.sqrtqmuA_v = np.sqrt(qmu), np.sqrt(qmu_asimov)
            if sqrt_qmu <= self.sqrtqmuA_v:  # the same branch as pyhf's (its issue 1992)
                return pyhf.tensorlib.astensor(sqrt_qmu - self.sqrtqmuA_v)
            return pyhf.tensorlib.astensor((qmu - qmu_asimov) / (2 * self.sqrtqmuA_v))

    return CachedFitsCalculator()


def cls_scan(calc, scan: NDArray[np.float64]) -> NDArray[np.float64]:
    """Observed and expected (-2..+2 sigma) asymptotic CLs (qtilde) at each mu of ``scan``,
    from an ``asymptotic_calculator``: shape (6, len(scan)), as
    ``pyhf.infer.hypotest(mu, ..., return_expected_set=True)``."""
    rows = []
    for mu in scan:
        teststat = calc.teststatistic(float(mu))
        sb, b = calc.distributions(float(mu))
        observed = calc.pvalues(teststat, sb, b)[2]
        expected = calc.expected_pvalues(sb, b)[2]
        rows.append([float(observed)] + [float(v) for v in expected])
    return np.array(rows).T


def upper_limits(spec: dict, c: WindowCounts, *, cl: float = 0.95, calctype: str = "asymptotics",
                 ntoys: int = 1000, points: int = 15) -> tuple[float, list[float]]:
    """Observed and expected (-2..+2 sigma) CLs upper limits on mu, interpolated linearly (as
    pyhf's grid scan) on a grid from 0 to mu_hat + 4.5 sigma_mu (widened until it brackets
    every limit). Asymptotic CLs come from ``cls_scan`` with one calculator for every grid, so
    the mu-independent fits run once per limit; toys from pyhf's ``upper_limit``."""
    import pyhf

    ws = pyhf.Workspace(spec)
    model, data = ws.model(), ws.data(ws.model())
    bounds = model.config.suggested_bounds()
    bounds[model.config.poi_index] = (0.0, _mu_bounds(c)[1])
    init = model.config.suggested_init()  # mu at its linearised estimate, here kept >= 0
    init[model.config.poi_index] = max(init[model.config.poi_index], 0.0)
    calc = asymptotic_calculator(data, model, init=init, bounds=bounds) if calctype == "asymptotics" else None
    # the free fit to the data: the calculator's own where there is one
    mu_hat = (float(calc.free_to_data[0][model.config.poi_index]) if calc is not None
              else _mu_hat(data, model, bounds, init))
    mu_hat = max(mu_hat, 0.0)
    top = mu_hat + 4.5 * _mu_uncertainty(data, model, bounds, init, c, mu_hat)
    for _ in range(4):
        scan = np.linspace(0.0, top, points + 1)[1:]
        if calc is not None:
            cls = cls_scan(calc, scan)
            limits = [float(np.interp(1.0 - cl, row[::-1], scan[::-1])) for row in cls]
        else:
            obs, exp = pyhf.infer.intervals.upper_limits.upper_limit(
                data, model, scan=scan, level=1.0 - cl, test_stat="qtilde", par_bounds=bounds, init_pars=init,
                calctype=calctype, ntoys=ntoys)
            limits = [float(obs)] + [float(v) for v in exp]
        if all(np.isfinite(v) and v < 0.98 * top for v in limits):
            return limits[0], limits[1:]
        top *= 2.0
    raise BumpfoldInputError(f"{c.name}: no CLs upper limit below mu = {top:g} fb (limit scan did not converge)")


def infer(c: WindowCounts, *, cl: float = 0.95) -> tuple[dict, Inference]:
    """Workspace, then best fit, signed local significance and the CLs limits."""
    import pyhf

    pyhf.set_backend("numpy", "scipy")
    spec = workspace_spec(c)
    mu_hat, z, pulls = _significance_and_pulls(spec, c)
    obs, exp = upper_limits(spec, c, cl=cl)
    return spec, Inference(mu_hat=mu_hat, local_significance=z, p_value=float(stats.norm.sf(z)),
                           limit_obs=obs, limit_exp=exp, pulls=pulls)
