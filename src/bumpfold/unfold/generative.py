"""Generative unfolding: a conditional flow p(particle level | detector level) learnt on the
simulation's pairs and sampled once per data event (the cINN approach of Bellagente et al.,
SciPost Phys. 9, 074 (2020), arXiv:2006.06685, with the search's flow code).

What it does not do, and OmniFold does: it learns p(gen | reco) under the simulation's prior,
so where the data's truth differs from the prior the samples lean towards the prior; and it
only sees events passing both levels, so neither the efficiency nor the fakes are corrected
(a fake data event gets a particle level it never had). It is the baseline that shows what
iterating and reweighting buy.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError
from bumpfold.ml.flow import ConditionalFlow, FlowSettings
from bumpfold.unfold.inputs import DataInputs, UnfoldingInputs

log = logging.getLogger(__name__)


def generative_unfold(sim: UnfoldingInputs, data: DataInputs, *, settings: FlowSettings,
                      seed: int) -> tuple[NDArray[np.float64], ConditionalFlow]:
    """One particle-level sample (m, k) per data event, and the trained flow."""
    if list(sim.observables) != list(data.observables):
        raise BumpfoldInputError(f"generative unfolding: simulation observables {sim.observables} differ from "
                                 f"the data's {data.observables}")
    both = sim.pass_gen & sim.pass_reco
    if both.sum() < 50:
        raise BumpfoldInputError(f"generative unfolding: {int(both.sum())} simulated events pass both levels "
                                 "(need at least 50 pairs to train)")
    # unweighted training: the flow takes no event weights, so the prior must be unweighted
    if not np.allclose(sim.weights[both], sim.weights[both][0]):
        raise BumpfoldInputError("generative unfolding needs an unweighted simulation (all weights equal)")
    flow = ConditionalFlow(replace(settings, seed=seed)).fit(sim.gen[both], sim.reco[both])
    log.info("flow p(gen | reco) trained on %d pairs: best epochs %s", int(both.sum()), flow.history.best_epochs)
    return flow.sample(data.reco, seed=seed + 1), flow
