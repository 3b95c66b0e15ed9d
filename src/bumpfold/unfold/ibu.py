"""Iterative Bayesian unfolding (D'Agostini, NIM A 362 (1995) 487), binned, per observable.

The classical baseline that OmniFold is compared with (its unbinned, multi-dimensional
generalisation). From the simulation:

- the detector level has its own binning: its own range (quantiles of the simulation's
  detector level, which can sit far from the particle level: the reco constituent
  multiplicity is about half the particle-level one) and twice as many bins by default,
  so that the response has more rows than columns;
- response ``R[j, i]`` = P(reco bin j and pass reco | gen bin i, pass gen), from events
  passing both levels, divided by all gen-passing events of gen bin i, so the column sums
  are the efficiencies ``eff[i]``;
- fake fraction ``fake[j]`` = weight of reco-passing, not gen-passing events in reco bin j
  over all reco-passing events in j.

The data are corrected for fakes, ``d'_j = d_j (1 - fake_j)``, then iterated from the prior
``t0`` = the simulation's gen histogram (scaled to the data's expected total)::

    P(i | j) = R[j, i] t_i / sum_k R[j, k] t_k
    t_i     <- (1 / eff_i) sum_j P(i | j) d'_j

Under/overflow: values outside the edges are clipped into the first/last bin at both levels
(no event is lost; make the range wide enough that the edge bins stay small). Gen bins
with zero efficiency cannot be unfolded and are set to 0 (with a warning).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError
from bumpfold.unfold.inputs import DataInputs, UnfoldingInputs
from bumpfold.unfold.metrics import bin_index, observable_edges

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IBUResult:
    """Unfolded gen-level histogram (event counts per bin, data normalisation) and the
    ingredients: ``history[0]`` is the prior, ``history[n]`` iteration n."""

    edges: NDArray[np.float64]  # particle level
    reco_edges: NDArray[np.float64]  # detector level
    unfolded: NDArray[np.float64]
    history: NDArray[np.float64]  # (iterations + 1, bins)
    prior: NDArray[np.float64]
    response: NDArray[np.float64]  # (reco bins, gen bins), columns sum to efficiency
    efficiency: NDArray[np.float64]  # per gen bin
    fake_fraction: NDArray[np.float64]  # per reco bin
    data: NDArray[np.float64]  # data histogram before the fake correction


def _flags(name: str, values: NDArray, n: int) -> NDArray[np.bool_]:
    flags = np.asarray(values)
    if flags.shape != (n,):
        raise BumpfoldInputError(f"ibu: {name} has {flags.size} entries but sim_gen has {n} events")
    return flags.astype(bool)


def _safe_divide(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.divide(num, den, out=np.zeros(np.broadcast_shapes(num.shape, den.shape)), where=den != 0)


def ibu(data_reco: NDArray[np.float64], sim_gen: NDArray[np.float64], sim_reco: NDArray[np.float64],
        pass_gen: NDArray[np.bool_], pass_reco: NDArray[np.bool_], *, bins: NDArray[np.float64],
        iterations: int, weights: NDArray[np.float64] | None = None,
        data_weights: NDArray[np.float64] | None = None, reco_bins: NDArray[np.float64] | None = None) -> IBUResult:
    """Unfold the 1-D data ``data_reco`` with the simulation (``sim_gen``, ``sim_reco`` per
    event, ``weights`` default 1) onto the particle-level edges ``bins``; the detector level
    is binned with ``reco_bins`` (default: the same edges)."""
    if iterations < 1:
        raise BumpfoldInputError(f"ibu: iterations must be >= 1, got {iterations}")
    sim_gen, sim_reco = np.asarray(sim_gen, dtype=np.float64), np.asarray(sim_reco, dtype=np.float64)
    data_reco = np.asarray(data_reco, dtype=np.float64)
    n = len(sim_gen)
    if sim_reco.shape != (n,) or sim_gen.shape != (n,):
        raise BumpfoldInputError(f"ibu: sim_gen has shape {sim_gen.shape} but sim_reco {sim_reco.shape}")
    pg, pr = _flags("pass_gen", pass_gen, n), _flags("pass_reco", pass_reco, n)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    dw = np.ones(len(data_reco)) if data_weights is None else np.asarray(data_weights, dtype=np.float64)
    if w.shape != (n,) or dw.shape != data_reco.shape:
        raise BumpfoldInputError(f"ibu: weights shape {w.shape} / data_weights shape {dw.shape} "
                                 f"do not match {n} simulated / {len(data_reco)} data events")
    edges = np.asarray(bins, dtype=np.float64)
    reco_edges = edges if reco_bins is None else np.asarray(reco_bins, dtype=np.float64)
    nb, nr = len(edges) - 1, len(reco_edges) - 1
    gi, ri = bin_index(sim_gen, edges), bin_index(sim_reco, reco_edges)

    gen_all = np.asarray(np.bincount(gi[pg], weights=w[pg], minlength=nb), dtype=np.float64)
    both = pg & pr
    migration = np.zeros((nr, nb))
    np.add.at(migration, (ri[both], gi[both]), w[both])
    response = _safe_divide(migration, gen_all[None, :])
    efficiency = response.sum(axis=0)
    reco_all = np.asarray(np.bincount(ri[pr], weights=w[pr], minlength=nr), dtype=np.float64)
    fakes = np.asarray(np.bincount(ri[pr & ~pg], weights=w[pr & ~pg], minlength=nr), dtype=np.float64)
    fake_fraction = _safe_divide(fakes, reco_all)

    data = np.asarray(np.bincount(bin_index(data_reco, reco_edges), weights=dw, minlength=nr), dtype=np.float64)
    corrected = data * (1.0 - fake_fraction)
    if (efficiency == 0).any():
        log.warning("ibu: %d gen bins have zero efficiency and are unfolded to 0", int((efficiency == 0).sum()))

    folded_prior = (response @ gen_all).sum()
    if folded_prior <= 0:
        raise BumpfoldInputError("ibu: no simulated event passes both levels inside the bins")
    prior = gen_all * corrected.sum() / folded_prior
    history = [prior]
    t = prior
    for _ in range(iterations):
        folded = response @ t  # expected reco histogram (fakes removed) for truth t
        posterior = _safe_divide(response * t[None, :], folded[:, None])  # P(i | j), [j, i]
        t = _safe_divide(posterior.T @ corrected, efficiency)
        history.append(t)
    return IBUResult(edges, reco_edges, t, np.array(history), prior, response, efficiency, fake_fraction, data)


def ibu_observable(sim: UnfoldingInputs, data: DataInputs, observable: str, *, bins: NDArray[np.float64],
                   iterations: int, reco_bins: int) -> IBUResult:
    """:func:`ibu` for one named observable of the unfolding inputs, with ``reco_bins``
    detector-level bins over the simulation's own detector-level range."""
    if observable not in sim.observables or observable not in data.observables:
        raise BumpfoldInputError(f"ibu: observable {observable!r} not in simulation {sim.observables} "
                                 f"and data {data.observables}")
    j, k = sim.observables.index(observable), data.observables.index(observable)
    return ibu(data.reco[:, k], sim.gen[:, j], sim.reco[:, j], sim.pass_gen, sim.pass_reco, bins=bins,
               iterations=iterations, weights=sim.weights, data_weights=data.weights,
               reco_bins=observable_edges(sim.reco[sim.pass_reco, j], observable, reco_bins))
