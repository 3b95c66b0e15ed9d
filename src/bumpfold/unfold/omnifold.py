"""OmniFold: unbinned, multi-dimensional unfolding by iterated classifier reweighting.

Andreassen, Komiske, Metodiev, Nachman, Thaler, PRL 124 (2020) 182001, arXiv:1911.09107.
Each iteration n has two steps, with nu_0 = the simulation's prior weights:

Step 1 (detector level): a classifier separates data (its weights) from the simulation's
reco-passing events weighted by nu_{n-1} (the "push-forward" of the particle-level weights);
its likelihood ratio r = f / (1 - f) gives omega_n = nu_{n-1} * r(reco).
Step 2 (particle level): a classifier separates the simulation's gen-passing events weighted
by omega_n from the same events weighted by nu_{n-1}; nu_n = nu_{n-1} * r(gen), i.e. the
reco-level weights "pulled" back to a function of the particle level.

Our naming: ``push_weights`` are omega_n (after step 1), ``pull_weights`` are nu_n (after
step 2, the unfolded result: histogram the simulation's gen with them).

Efficiency and fakes (events passing only one level), exactly:

- Step 1 trains and evaluates on reco-passing events only (fakes included: data contain
  fakes too). Events that fail reco keep omega_n = nu_{n-1} (ratio 1; the paper's
  "prior" choice for them: their weight is not updated by step 1).
- Step 2 trains and evaluates on gen-passing events only (events failing reco take part
  with omega_n = nu_{n-1}). Fakes (reco only) have no particle level: they get
  nu_n = omega_n, so in the next step 1 they are pushed forward with their reco-level
  weight, i.e. the fake contribution follows the data at detector level (as IBU's fake
  fraction per reco bin does).
- Both classifiers are trained on classes of equal total weight, so r is the ratio of
  normalised densities: the weights change shapes and keep the simulation's total
  (compare normalised histograms, or scale by data/sim totals for a cross section).
- r is clipped to [1/max_ratio, max_ratio] so that a few over-confident classifier outputs
  cannot produce huge weights.

Classifier: scikit-learn HistGradientBoosting with sample weights (fast and strong on CPU),
or a PyTorch MLP (``classifier: mlp``, the GPU when present); evaluated on its own training
events, with early stopping (trees) or the best epochs (MLP) on a held-out fraction against
overfitting. Inputs are standardised (irrelevant to trees, needed by the MLP).
Every iteration is a pure function of (inputs, state, settings, seed): one workflow job.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError, one_line
from bumpfold.io.atomic import atomic_path
from bumpfold.ml.classifier import make_classifier
from bumpfold.ml.settings import ClassifierSettings
from bumpfold.seeds import step_seed
from bumpfold.unfold.inputs import DataInputs, UnfoldingInputs

log = logging.getLogger(__name__)

def _omnifold_classifier() -> ClassifierSettings:
    # OmniFold balances its event weights itself (the class totals carry the physics)
    return ClassifierSettings(balance_classes=False, mlp_epochs=20, mlp_batch_size=512, mlp_best_epochs=3)


@dataclass(frozen=True)
class OmniFoldSettings:
    """Iterations, likelihood-ratio clip and the classifier (the ML core's settings type)."""

    iterations: int = 4
    max_ratio: float = 100.0  # r = f/(1-f) clipped to [1/max_ratio, max_ratio]
    classifier: ClassifierSettings = field(default_factory=_omnifold_classifier)

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise BumpfoldInputError(f"omnifold iterations must be >= 1, got {self.iterations}")
        if not self.max_ratio > 1:
            raise BumpfoldInputError(f"omnifold max_ratio must be > 1, got {self.max_ratio}")
        if self.classifier.balance_classes:
            raise BumpfoldInputError("omnifold's classifier must not re-balance its classes by event counts "
                                     "(balance_classes=False): OmniFold normalises the weights itself")


@dataclass
class IterationState:
    """Per simulated event: ``push_weights`` (omega, reco level, after step 1) and
    ``pull_weights`` (nu, particle level, after step 2) of iteration ``iteration``."""

    iteration: int
    push_weights: NDArray[np.float64]
    pull_weights: NDArray[np.float64]

    def __post_init__(self) -> None:
        self.push_weights = np.asarray(self.push_weights, dtype=np.float64)
        self.pull_weights = np.asarray(self.pull_weights, dtype=np.float64)
        if self.push_weights.ndim != 1 or self.push_weights.shape != self.pull_weights.shape:
            raise BumpfoldInputError(f"omnifold state: push weights {self.push_weights.shape} and pull weights "
                                     f"{self.pull_weights.shape} must be equal-length 1-D arrays")


@dataclass(frozen=True)
class OmniFoldResult:
    """All states, ``states[0]`` the prior; ``weights`` are the final nu (unfolded)."""

    states: list[IterationState] = field(default_factory=list)

    @property
    def weights(self) -> NDArray[np.float64]:
        return self.states[-1].pull_weights


def initial_state(sim: UnfoldingInputs) -> IterationState:
    """Iteration 0: both weights are the simulation's prior weights."""
    return IterationState(0, sim.weights.copy(), sim.weights.copy())


def save_state(state: IterationState, path: str | os.PathLike[str]) -> None:
    """Write the state as ``.npz`` atomically (no partial file on failure)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz"
        np.savez(fh, iteration=np.int64(state.iteration), push_weights=state.push_weights,
                 pull_weights=state.pull_weights)


def load_state(path: str | os.PathLike[str]) -> IterationState:
    """Read a state written by :func:`save_state`."""
    path = Path(path)
    if not path.is_file():
        raise BumpfoldInputError(f"{path}: no such file (omnifold state)")
    try:
        with np.load(path) as f:
            missing = [k for k in ("iteration", "push_weights", "pull_weights") if k not in f.files]
            if missing:
                raise BumpfoldInputError(f"{path}: omnifold state lacks {', '.join(missing)}")
            return IterationState(int(f["iteration"]), f["push_weights"], f["pull_weights"])
    except BumpfoldInputError:
        raise
    except Exception as exc:  # zip/pickle errors of a corrupt file
        raise BumpfoldInputError(f"{path}: not a readable omnifold state ({one_line(exc)})") from exc


def bootstrap_data_weights(n: int, seed: int, *, member: int = 1) -> NDArray[np.float64]:
    """Poisson(1) weights for a bootstrap replica of ``n`` data events (multiply the data
    weights by them); ``member`` 0 is the nominal result: all ones, no bootstrap."""
    if member == 0:
        return np.ones(n)
    rng = np.random.default_rng(step_seed(seed, "bootstrap", member))
    return rng.poisson(1.0, size=n).astype(np.float64)


def _balanced(w: NDArray[np.float64], total: float) -> NDArray[np.float64]:
    return w * (total / w.sum())


def likelihood_ratio(x0: NDArray[np.float64], w0: NDArray[np.float64], x1: NDArray[np.float64],
                     w1: NDArray[np.float64], x_eval: NDArray[np.float64], *, settings: OmniFoldSettings,
                     seed: int) -> NDArray[np.float64]:
    """r(x) ~ p1(x) / p0(x) of the weight-normalised densities of class 1 over class 0,
    from a classifier f trained with classes of equal total weight: r = f / (1 - f),
    clipped to [1/max_ratio, max_ratio]. NaN stays NaN (the caller checks)."""
    x = np.concatenate([x0, x1])
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    y = np.concatenate([np.zeros(len(x0)), np.ones(len(x1))])
    half = 0.5 * len(x)  # mean weight ~1 keeps the trees' min-hessian thresholds meaningful
    w = np.concatenate([_balanced(w0, half), _balanced(w1, half)])
    model = make_classifier(settings.classifier, seed)
    model.fit((x - mean) / std, y, sample_weight=w)
    f = model.predict_proba((x_eval - mean) / std)[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = f / (1.0 - f)
    return np.clip(r, 1.0 / settings.max_ratio, settings.max_ratio)


def _check_weights(w: NDArray[np.float64], iteration: int, step: int) -> None:
    bad = ~np.isfinite(w)
    if bad.any():
        raise BumpfoldInputError(f"iteration {iteration}, step {step}: NaN or infinite weights for "
                                 f"{int(bad.sum())} of {len(w)} events (classifier output not finite)")
    if not (w > 0).any():
        raise BumpfoldInputError(f"iteration {iteration}, step {step}: all {len(w)} weights are <= 0")


def _check_compatible(sim: UnfoldingInputs, data: DataInputs, state: IterationState) -> None:
    if sim.observables != data.observables:
        raise BumpfoldInputError(f"omnifold: simulation observables {sim.observables} differ from "
                                 f"data observables {data.observables}")
    if len(state.pull_weights) != sim.n_events:
        raise BumpfoldInputError(f"omnifold state of iteration {state.iteration} has {len(state.pull_weights)} "
                                 f"weights but the simulation has {sim.n_events} events")


def omnifold_iteration(sim: UnfoldingInputs, data: DataInputs, state: IterationState, *,
                       settings: OmniFoldSettings, seed: int) -> IterationState:
    """Iteration ``state.iteration + 1`` (steps 1 and 2, see the module docstring)."""
    _check_compatible(sim, data, state)
    n = state.iteration + 1
    prev = state.pull_weights
    reco, gen = sim.pass_reco, sim.pass_gen

    # step 1: data vs. simulation pushed forward with nu_{n-1}, at detector level
    r1 = likelihood_ratio(sim.reco[reco], prev[reco], data.reco, data.weights, sim.reco[reco],
                          settings=settings, seed=step_seed(seed, "omnifold", n, 1))
    push = prev.copy()
    push[reco] = prev[reco] * r1
    _check_weights(push, n, 1)

    # step 2: simulation weighted by omega_n vs. by nu_{n-1}, at particle level
    r2 = likelihood_ratio(sim.gen[gen], prev[gen], sim.gen[gen], push[gen], sim.gen[gen],
                          settings=settings, seed=step_seed(seed, "omnifold", n, 2))
    pull = push.copy()  # fakes (no particle level) keep omega_n
    pull[gen] = prev[gen] * r2
    _check_weights(pull, n, 2)
    log.info("omnifold iteration %d: step-1 ratio in [%.3g, %.3g], step-2 ratio in [%.3g, %.3g]",
             n, r1.min(), r1.max(), r2.min(), r2.max())
    return IterationState(n, push, pull)


def run_omnifold(sim: UnfoldingInputs, data: DataInputs, *, settings: OmniFoldSettings,
                 seed: int) -> OmniFoldResult:
    """All ``settings.iterations`` iterations in one go (the workflow runs them as jobs)."""
    if settings.iterations < 1:
        raise BumpfoldInputError(f"omnifold iterations must be >= 1, got {settings.iterations}")
    states = [initial_state(sim)]
    for _ in range(settings.iterations):
        states.append(omnifold_iteration(sim, data, states[-1], settings=settings, seed=seed))
    return OmniFoldResult(states)
