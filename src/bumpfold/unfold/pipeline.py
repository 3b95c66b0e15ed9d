"""The unfolding stage as workflow steps, each usable without Snakemake:

``prepare_inputs`` (simulation and pseudo-data jets, binning) -> ``iteration_job`` (one
OmniFold iteration of one ensemble member; members run in parallel, iterations chain) and
``ibu_job`` (binned baseline) and ``generative_job`` (conditional flow p(gen | reco)) ->
``summarize`` (unfolded distributions, their uncertainties,
and the metrics against the pseudo-data's particle level).

Ensemble: member 0 unfolds the data as they are; member m > 0 a Poisson bootstrap replica of
the data with its own classifier seeds. The OmniFold result is the mean of the members'
normalised histograms; their spread (data statistics + training) combined with the
simulation's statistical uncertainty is its uncertainty. IBU unfolds the same bootstrap
replicas, so its uncertainty is measured the same way.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError, one_line
from bumpfold.io.atomic import atomic_path, write_json
from bumpfold.seeds import step_seed
from bumpfold.unfold.ibu import ibu_observable
from bumpfold.unfold.inputs import DataInputs, UnfoldingInputs, read_detector_observables, read_jet_observables
from bumpfold.unfold.metrics import observable_edges, triangular_discriminator, weighted_histogram
from bumpfold.unfold.omnifold import (
    bootstrap_data_weights,
    initial_state,
    load_state,
    omnifold_iteration,
    save_state,
)
from bumpfold.unfold.settings import UnfoldSettings

log = logging.getLogger(__name__)

# quantiles of the simulation's particle level that bound the bins of each observable


@dataclass
class UnfoldingJob:
    """What every unfolding step reads: the simulation, the detector-level data, the data's
    particle level (truth, for evaluation only) and the bin edges per observable."""

    sim: UnfoldingInputs
    data: DataInputs
    truth: NDArray[np.float64]  # (n, k) particle-level observables of the data events passing gen (n = 0: real data)
    truth_weights: NDArray[np.float64]
    edges: dict[str, NDArray[np.float64]]

    @property
    def observables(self) -> list[str]:
        return list(self.sim.observables)

    @property
    def has_truth(self) -> bool:
        return len(self.truth) > 0


def prepare_inputs(sim_paths: list[str | Path], data_paths: list[str | Path], *, unfold: UnfoldSettings,
                   output: str | Path, data_has_truth: bool = True) -> UnfoldingJob:
    """Read both samples' leading jets, fix the binning, write one ``.npz``. Pseudo-data
    (``data_has_truth``) bring their particle level as the truth; real data only FatJets."""
    observables, pt_min = list(unfold.observables), unfold.pt_min
    sim = read_jet_observables(sim_paths, observables=observables, pt_min=pt_min)
    edges = {name: observable_edges(sim.gen[sim.pass_gen, j], name, unfold.bins)
             for j, name in enumerate(observables)}
    if data_has_truth:
        pseudo = read_jet_observables(data_paths, observables=observables, pt_min=pt_min)
        data = DataInputs(pseudo.reco[pseudo.pass_reco], pseudo.weights[pseudo.pass_reco], observables)
        truth, truth_weights = pseudo.gen[pseudo.pass_gen], pseudo.weights[pseudo.pass_gen]
    else:
        data = read_detector_observables(data_paths, observables=observables, pt_min=pt_min)
        truth, truth_weights = np.empty((0, len(observables))), np.empty(0)
    job = UnfoldingJob(sim=sim, data=data, truth=truth, truth_weights=truth_weights, edges=edges)
    log.info("simulation: %d events (%d pass gen, %d pass reco); data: %d at detector level, truth: %d",
             sim.n_events, sim.pass_gen.sum(), sim.pass_reco.sum(), job.data.n_events, len(job.truth))
    with atomic_path(output) as tmp, open(tmp, "wb") as f:
        arrays: dict[str, Any] = {
            "observables": np.array(observables), "sim_gen": sim.gen, "sim_reco": sim.reco,
            "sim_pass_gen": sim.pass_gen, "sim_pass_reco": sim.pass_reco, "sim_weights": sim.weights,
            "data_reco": job.data.reco, "data_weights": job.data.weights, "truth": job.truth,
            "truth_weights": job.truth_weights, **{f"edges_{name}": e for name, e in edges.items()}}
        np.savez(f, **arrays)
    return job


def load_inputs(path: str | Path) -> UnfoldingJob:
    path = Path(path)
    if not path.is_file():
        raise BumpfoldInputError(f"{path}: no such file (unfolding inputs)")
    try:
        with np.load(path) as f:
            observables = [str(o) for o in f["observables"]]
            sim = UnfoldingInputs(f["sim_gen"], f["sim_reco"], f["sim_pass_gen"], f["sim_pass_reco"], f["sim_weights"],
                                  observables)
            return UnfoldingJob(sim=sim, data=DataInputs(f["data_reco"], f["data_weights"], observables),
                                truth=f["truth"], truth_weights=f["truth_weights"],
                                edges={o: f[f"edges_{o}"] for o in observables})
    except BumpfoldInputError:
        raise
    except Exception as exc:  # a corrupt or foreign file
        raise BumpfoldInputError(f"{path}: not readable unfolding inputs ({one_line(exc)})") from exc


def member_seed(seed: int, member: int) -> int:
    return step_seed(seed, "omnifold member", member)


def member_data(data: DataInputs, member: int, seed: int) -> DataInputs:
    """The data ensemble member ``member`` unfolds (0: as they are; others: a bootstrap
    replica drawn from the member's seed, the same for OmniFold and IBU)."""
    weights = data.weights * bootstrap_data_weights(data.n_events, member_seed(seed, member), member=member)
    return DataInputs(data.reco, weights, list(data.observables))


def iteration_job(inputs: str | Path, previous: str | Path | None, *, member: int, iteration: int,
                  unfold: UnfoldSettings, seed: int, output: str | Path) -> None:
    """OmniFold iteration ``iteration`` of ensemble member ``member`` from the previous state
    (``None``: iteration 1 starts from the prior)."""
    job = load_inputs(inputs)
    state = initial_state(job.sim) if previous is None else load_state(previous)
    if state.iteration != iteration - 1:
        raise BumpfoldInputError(f"{previous}: holds iteration {state.iteration}, expected {iteration - 1}")
    data = member_data(job.data, member, seed)
    save_state(omnifold_iteration(job.sim, data, state, settings=unfold.omnifold,
                                  seed=member_seed(seed, member)), output)


def ibu_job(inputs: str | Path, *, unfold: UnfoldSettings, seed: int, output: str | Path) -> dict[str, Any]:
    """IBU per observable of the data and of the members' bootstrap replicas: unfolded counts
    and the histogram of every iteration (JSON)."""
    job = load_inputs(inputs)
    replicas = [member_data(job.data, m, seed) for m in range(unfold.members)]
    result = {}
    for name in job.observables:
        runs = [ibu_observable(job.sim, data, name, bins=job.edges[name], iterations=unfold.iterations,
                               reco_bins=unfold.ibu_reco_bins) for data in replicas]
        result[name] = {"edges": runs[0].edges.tolist(), "unfolded": runs[0].unfolded.tolist(),
                        "replicas": [r.unfolded.tolist() for r in runs], "history": runs[0].history.tolist()}
    write_json(result, output)
    return result


def generative_job(inputs: str | Path, *, unfold: UnfoldSettings, seed: int, output: str | Path) -> None:
    """Generative unfolding: one particle-level sample per data event (``.npz``)."""
    from bumpfold.unfold.generative import generative_unfold

    job = load_inputs(inputs)
    samples, _ = generative_unfold(job.sim, job.data, settings=unfold.generative,
                                   seed=seed)
    with atomic_path(output) as tmp, open(tmp, "wb") as f:
        np.savez(f, samples=samples, weights=job.data.weights, observables=np.array(job.observables))


def _normalised(counts: NDArray[np.float64]) -> NDArray[np.float64]:
    return counts / counts.sum()


def summarize(inputs: str | Path, members: list[list[str | Path]], ibu: str | Path, *,
              output: str | Path, generative: str | Path | None = None) -> dict[str, Any]:
    """Per observable: normalised truth, prior, OmniFold and IBU, each the mean over the same
    ensemble members (member 0: the data, the others bootstrap replicas; uncertainty: the
    members' spread, (+) the simulation's statistics for OmniFold), with the triangular
    discriminator (x 10^3) of each against the truth, and the convergence over iterations.
    ``members[m]`` lists member m's iteration files in order;
    ``generative`` (optional) the generative unfolding's samples (statistical errors only)."""
    job = load_inputs(inputs)
    ibu_result = json.loads(Path(ibu).read_text())
    states = [[load_state(p) for p in paths] for paths in members]
    gen_samples = None
    if generative is not None:
        with np.load(generative) as f:
            gen_samples, gen_weights = f["samples"], f["weights"]
    sim = job.sim
    gen = sim.pass_gen
    summary: dict[str, Any] = {"n_simulation": sim.n_events, "n_data": job.data.n_events, "n_truth": len(job.truth),
                               "members": len(states), "iterations": len(states[0]), "observables": {}}
    for j, name in enumerate(job.observables):
        edges = job.edges[name]
        truth = (weighted_histogram(job.truth[:, j], bins=edges, weights=job.truth_weights).normalized()
                 if job.has_truth else None)
        prior = weighted_histogram(sim.gen[gen, j], bins=edges, weights=sim.weights[gen]).normalized()

        def unfolded(state):
            return weighted_histogram(sim.gen[gen, j], bins=edges, weights=state.pull_weights[gen]).normalized()

        finals = [unfolded(s[-1]) for s in states]
        mean = np.mean([h.counts for h in finals], axis=0)
        spread = np.std([h.counts for h in finals], axis=0, ddof=1) if len(finals) > 1 else np.zeros_like(mean)
        omni_sigma = np.hypot(spread, finals[0].errors)
        replicas = [_normalised(np.asarray(r)) for r in ibu_result[name]["replicas"]]
        ibu_counts = np.mean(replicas, axis=0)  # the same estimator as OmniFold's
        ibu_sigma = np.std(replicas, axis=0, ddof=1) if len(replicas) > 1 else np.zeros_like(ibu_counts)
        methods = {"prior": (prior.counts, prior.errors), "omnifold": (mean, omni_sigma),
                   "ibu": (ibu_counts, ibu_sigma)}
        if gen_samples is not None:
            flow_hist = weighted_histogram(gen_samples[:, j], bins=edges, weights=gen_weights).normalized()
            methods["generative"] = (flow_hist.counts, flow_hist.errors)
        entry = summary["observables"][name] = {
            "edges": edges.tolist(),
            "prior": prior.counts.tolist(), "omnifold": mean.tolist(), "omnifold_error": omni_sigma.tolist(),
            "ibu": ibu_counts.tolist(), "ibu_error": ibu_sigma.tolist(),
            **({"generative": methods["generative"][0].tolist()} if "generative" in methods else {}),
        }
        if truth is None:  # real data: the unfolded distributions, nothing to compare them with
            continue
        entry.update({
            "truth": truth.counts.tolist(), "truth_error": truth.errors.tolist(),
            # no chi2 against the truth: the pseudo-data's truth and detector level are the same
            # events, so their fluctuations are correlated and independent errors would mislead
            "metrics": {method: {"triangular_discriminator_1e3": triangular_discriminator(h, truth.counts)}
                        for method, (h, _) in methods.items()},
            "convergence": {
                "omnifold": [triangular_discriminator(np.mean([unfolded(s[i]).counts for s in states], axis=0),
                                                      truth.counts) for i in range(len(states[0]))],
                "ibu": [triangular_discriminator(_normalised(np.asarray(h)), truth.counts)
                        for h in ibu_result[name]["history"][1:]]},
        })
    summary["has_truth"] = job.has_truth
    if job.has_truth:
        _count_wins(summary)
    write_json(summary, output)
    return summary


def _count_wins(summary: dict[str, Any]) -> None:
    per = summary["observables"].values()
    td = "triangular_discriminator_1e3"
    summary["omnifold_closer_than_prior"] = sum(o["metrics"]["omnifold"][td] < o["metrics"]["prior"][td] for o in per)
    summary["omnifold_closer_than_ibu"] = sum(o["metrics"]["omnifold"][td] < o["metrics"]["ibu"][td] for o in per)
