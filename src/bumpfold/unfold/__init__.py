"""Unfolding of jet observables: OmniFold (iterated classifier reweighting), its binned
baseline IBU, and the metrics to compare them. Never imports ``search``, snakemake or
plotting (DESIGN.md); computation returns dataclasses and arrays."""

from __future__ import annotations

from bumpfold.unfold.ibu import IBUResult, ibu, ibu_observable
from bumpfold.unfold.inputs import (
    JET_OBSERVABLE_FIELDS,
    DataInputs,
    UnfoldingInputs,
    as_pseudo_data,
    read_jet_observables,
)
from bumpfold.unfold.metrics import (
    Chi2Result,
    Histogram,
    chi2_ndf,
    triangular_discriminator,
    weighted_histogram,
)
from bumpfold.unfold.omnifold import (
    IterationState,
    OmniFoldResult,
    OmniFoldSettings,
    bootstrap_data_weights,
    initial_state,
    load_state,
    omnifold_iteration,
    run_omnifold,
    save_state,
)

__all__ = [
    "JET_OBSERVABLE_FIELDS", "Chi2Result", "DataInputs", "Histogram", "IBUResult", "IterationState",
    "OmniFoldResult", "OmniFoldSettings", "UnfoldingInputs", "as_pseudo_data", "bootstrap_data_weights",
    "chi2_ndf", "ibu", "ibu_observable", "initial_state", "load_state", "omnifold_iteration",
    "read_jet_observables", "run_omnifold", "save_state", "triangular_discriminator", "weighted_histogram",
]
