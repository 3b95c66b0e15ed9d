"""Settings of the search's steps as frozen dataclasses, free of torch and pandas
(bumpfold.settings builds them from the ``search`` config section).

The workflow gives each step only the search keys it reads (so that a new oversampling, say,
does not retrain the flows): what a step was not given is None, and a step that needs it
stops with an error naming the config key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeVar

from bumpfold.errors import BumpfoldInputError
from bumpfold.ml.settings import AutoencoderSettings, FlowSettings, KFoldSettings

T = TypeVar("T")


@dataclass(frozen=True)
class SplitSettings:
    """How the background and signal simulation are shared among the roles (search.datasets)."""

    data_fraction: float = 0.45
    test_fraction: float = 0.1  # the rest of the background is the ideal sample, as large as the data
    signal_test_fraction: float = 0.5


def given(value: T | None, key: str) -> T:
    """``value``, or an error naming the config key ``search.<key>`` that this step lacks."""
    if value is None:
        raise BumpfoldInputError(f"config key 'search.{key}': not among the search settings this step was given")
    return value


@dataclass(frozen=True)
class SearchSettings:
    """The search's settings; None: not given to this step. The flow's and the k-fold
    classifiers' seeds are set per step (:meth:`flow_with_seed`, :meth:`folds_with_seed`)."""

    features: tuple[str, ...]
    split: SplitSettings | None = None
    min_events: int | None = None  # SB and SR data events a window needs to train
    closure_fraction: float | None = None  # of the SB data, held out for the flow's closure test
    oversampling: float | None = None  # SR background samples per SR data event
    cwola_sideband_width: float | None = None  # GeV
    flow: FlowSettings | None = None
    folds: KFoldSettings | None = None  # n_folds and the classifier ensemble of every fold
    autoencoder: AutoencoderSettings | None = None

    @property
    def n_folds(self) -> int:
        return given(self.folds, "n_folds").n_folds

    def flow_with_seed(self, seed: int) -> FlowSettings:
        return replace(given(self.flow, "flow"), seed=seed)

    def folds_with_seed(self, seed: int) -> KFoldSettings:
        return replace(given(self.folds, "classifier"), seed=seed)

    def autoencoder_settings(self) -> AutoencoderSettings:
        return given(self.autoencoder, "autoencoder")
