"""Settings of the bump hunt as frozen dataclasses (bumpfold.settings builds them from the
``bumphunt`` config section and the two keys of ``search`` it reads)."""

from __future__ import annotations

from dataclasses import dataclass

from bumpfold.errors import BumpfoldInputError

THRESHOLD_KINDS = ("quantile_regression", "fixed")


@dataclass(frozen=True)
class FitSettings:
    """The dijet function's parameter counts tried in turn, and the F-test's p-value below
    which one more parameter is kept."""

    min_params: int
    max_params: int
    ftest_threshold: float


@dataclass(frozen=True)
class BumpHuntSettings:
    """One window's bump hunt: binning [GeV], fit, thresholds, signal models and the data's
    luminosity inputs."""

    bin_width: float
    cl: float
    min_signal_mc: int  # signal MC events a template needs in the window
    fit: FitSettings
    threshold: str  # "quantile_regression" (at every m_jj) or "fixed" (one cut)
    quantile_degree: int
    sculpting_correction: bool
    sculpting_alternative: str | None  # a second simulation for the correction's systematic
    spurious_signal: float  # the fit function's bias in a window, as a fraction of its background
    # per selection, efficiency -> its excess background efficiency inside a window (toys)
    selection_bias: dict[str, dict[str, float]]
    signal_models: tuple[str, ...]
    data_fraction: float  # the pseudo-data's share of the background sample (search.split)
    observed_data: bool  # search.data is set: collision data, not pseudo-data
    # names of the signal's detector systematics: each model's "<model>__<name>_up|down" samples
    signal_systematics: tuple[str, ...] = ()
    luminosity_uncertainty: float = 0.0  # relative, on the signal where limits are in fb

    def __post_init__(self) -> None:
        if self.threshold not in THRESHOLD_KINDS:
            raise BumpfoldInputError(f"bumphunt threshold {self.threshold!r}: use one of {', '.join(THRESHOLD_KINDS)}")
