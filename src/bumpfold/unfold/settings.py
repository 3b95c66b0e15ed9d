"""Settings of the unfolding steps as a frozen dataclass (bumpfold.settings builds it from the
``unfold`` config section)."""

from __future__ import annotations

from dataclasses import dataclass

from bumpfold.ml.settings import FlowSettings
from bumpfold.unfold.omnifold import OmniFoldSettings


@dataclass(frozen=True)
class UnfoldSettings:
    """Observables and binning, the ensemble, OmniFold (whose iterations IBU runs too) and the
    generative unfolding's flow."""

    observables: tuple[str, ...]
    pt_min: float  # GeV, leading jet at either level
    bins: int  # per observable, from the simulation's particle level
    ibu_reco_bins: int
    members: int  # ensemble members: the data and members - 1 bootstrap replicas
    omnifold: OmniFoldSettings
    generative: FlowSettings

    @property
    def iterations(self) -> int:
        return self.omnifold.iterations
