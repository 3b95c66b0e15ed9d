"""The selection's background efficiency in the window, measured on background simulation.

A classifier trained in the signal region (CATHODE, LaCATHODE) learns where the SR
background differs from what it was contrasted with (the flow's interpolation), so a fixed
cut keeps a slightly larger share of *background* inside the window than outside. A fit to
the sidebands cannot see that step. At LHC Olympics statistics a 5 % step made a 4.2 sigma
local excess with no signal (former generation; `git show 58123f7:BENCHMARKS.md`, "Bump
hunt sculpting correction").

The correction, the spurious-signal treatment of resonance searches: select an independent
background simulation, which none of these classifiers trained on, with the same
classifiers and cut. Fit its spectrum outside the window with the function chosen for the
data (same number of parameters: how far a fit undershoots the window depends as much on
the function as on the selection, 1.02 to 1.13 for one spectrum with 4 or 2 parameters), and
take the ratio of its selected counts to that fit, summed over the window (per bin, the ratio
at tight selections rests on a handful of events). The data's fitted background in the
window is multiplied by this ratio. The ratio's Poisson and fit uncertainties enter the
pyhf model as one constrained normalisation (``normsys``). With a second simulation made
with other generator settings (``bumphunt.sculpting_alternative``, e.g. ``qcd_alt``), the
ratio measured on it differs from the nominal one by what the simulation does not know; that
difference, relative, is added in quadrature as the correction's systematic uncertainty. This costs sensitivity in
proportion to the simulation's statistics: with as many simulated as data events, the
window's background is known about 1.7 times less well (Poisson and fit terms both add).

What it assumes: the selection treats the data and the simulation alike, i.e. no scored
data event was a training event of the classifier that scored it. That holds for SR data
(out of fold) and for sideband data of the flow-based methods; it does not for CWoLa, whose
sideband strips are its training data (their efficiency at a 10 % cut came out 3 % below the
simulation's at benchmark scale, 1.5 sigma).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from bumpfold.bumphunt.spectrum import MIN_FIT_EVENTS, Binning, FitError, fit_background


@dataclass(frozen=True)
class Sculpting:
    """Selected simulated background in the window over its sideband fit."""

    selected: NDArray[np.float64]  # per window bin: simulated background events passing the cut
    predicted: NDArray[np.float64]  # per window bin: the sideband fit's prediction for them
    fit_variance: float  # of the predicted window sum, from the fit's eigen-variations
    # the same ratio measured on a second simulation (other generator settings), if any
    alternative: Sculpting | None = None

    @property
    def ratio(self) -> float:
        return float(self.selected.sum() / self.predicted.sum())

    @property
    def statistical_uncertainty(self) -> float:
        """Relative, of the ratio: Poisson of the selected events and the fit's uncertainty."""
        return float(np.sqrt(1.0 / self.selected.sum() + self.fit_variance / self.predicted.sum() ** 2))

    @property
    def systematic_uncertainty(self) -> float:
        """Relative: how far the second simulation's ratio lies from this one's (0 without)."""
        return 0.0 if self.alternative is None else abs(self.alternative.ratio / self.ratio - 1.0)

    @property
    def relative_uncertainty(self) -> float:
        """Of the ratio: statistical and, with a second simulation, systematic in quadrature."""
        return float(np.hypot(self.statistical_uncertainty, self.systematic_uncertainty))

    def summary(self) -> dict:
        out = {"ratio_window": self.ratio, "ratio_window_uncertainty": self.ratio * self.relative_uncertainty,
               "ratio_window_statistical": self.ratio * self.statistical_uncertainty,
               "ratio_per_bin": (self.selected / self.predicted).tolist(),
               "selected_reference_window": float(self.selected.sum())}
        if self.alternative is not None:
            out.update(ratio_window_alternative=self.alternative.ratio,
                       ratio_window_alternative_statistical=self.alternative.ratio
                       * self.alternative.statistical_uncertainty,
                       ratio_window_systematic=self.ratio * self.systematic_uncertainty)
        return out


def with_alternative(nominal: Sculpting, alternative: Sculpting) -> Sculpting:
    """The nominal correction with the second simulation's as its systematic."""
    return replace(nominal, alternative=alternative)


def measure_sculpting(mjj: NDArray[np.float64], passed: NDArray[np.bool_], binning: Binning,
                      in_window: NDArray[np.bool_], *, sqrt_s: float, n_params: int, name: str) -> Sculpting:
    """The ratio of the selected reference events to their own sideband fit with the data
    fit's ``n_params``, in the window. Raises FitError (a BumpfoldInputError) when the
    reference cannot measure it."""
    counts = binning.histogram(mjj[passed])
    reference_fit = fit_background(counts, binning.edges, ~in_window, sqrt_s=sqrt_s, min_params=n_params,
                                   max_params=n_params, name=f"{name}, background simulation")
    selected = counts[in_window]
    if selected.sum() < MIN_FIT_EVENTS:  # the ratio would be noise, its log-normal a poor model
        raise FitError(f"{name}: {selected.sum():.0f} selected background-simulation events in the window "
                       f"(need >= {MIN_FIT_EVENTS}); the sculpting correction needs more simulated background "
                       "or a looser selection")
    return Sculpting(selected=selected, predicted=reference_fit.predict(binning.edges)[in_window],
                     fit_variance=reference_fit.variance_of_sum(binning.edges, in_window))
