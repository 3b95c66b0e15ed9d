"""The anomaly-detection methods on one SR window, side by side on the same data.

Every method gives scores for the SR data events (out-of-fold where a classifier saw
data) and for the labelled SR test events. The classifier methods return a
``ClassifierTask`` whose k folds train independently (one workflow job each) and are then
combined; ANODE returns its scores directly:

* ``cathode``: SR data vs. background samples from the sideband flow (k-fold);
* ``lacathode``: the same in the flow's latent space (SR data mapped through the flow
  vs. standard-normal samples), designed to depend less on m_jj outside the SR; it does
  not remove sculpting: in the benchmark-scale run of 2026-11-26 its selected background
  simulation in the window was +2 to +9 % above the sideband fit at 10 %, 0 to +23 % at
  1 % (BENCHMARKS.md, sculpting correction);
* ``cwola``: SR data vs. data in the adjacent sidebands (CWoLa Hunting, k-fold);
* ``anode``: log p_SR(x|m) - log p_bkg(x|m), a second flow trained on SR data;
* ``iad``: SR data vs. an independent true-background sample in the SR (the idealised
  anomaly detector, the upper bound of weak supervision);
* ``supervised``: signal simulation vs. background simulation in the SR;
* ``autoencoder``: unsupervised, the reconstruction loss of each jet's substructure under an
  autoencoder trained on the SR data of the other folds (bumpfold.ml.autoencoder; k-fold
  like the classifiers, so the SR data are scored by a model that never saw them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError
from bumpfold.ml.autoencoder import JET_COLUMNS
from bumpfold.ml.classifier import FoldResult, check_folds, combine_folds, train_fold
from bumpfold.ml.settings import AutoencoderSettings, FlowSettings, KFoldSettings
from bumpfold.regions import Window, assign_folds

if TYPE_CHECKING:  # torch only where a flow is trained
    from bumpfold.ml.flow import ConditionalFlow



@dataclass
class MethodScores:
    data: NDArray[np.float64]  # SR data events, in the order of WindowData.sr("data")
    test: NDArray[np.float64]  # SR test events, in the order of WindowData.sr("test")
    models: object = None  # what scores new events: fold classifiers, or ANODE's SR flow


@dataclass
class WindowData:
    """The data sets of one window: ``table`` has the features, mjj, is_signal and role."""

    table: pd.DataFrame
    window: Window
    features: Sequence[str]

    def _rows(self, role: str, region) -> pd.DataFrame:
        return self.table[(self.table.role == role).to_numpy() & region(self.table.mjj.to_numpy())]

    def sr(self, role: str) -> pd.DataFrame:
        return self._rows(role, self.window.in_sr)

    def sb(self, role: str) -> pd.DataFrame:
        return self._rows(role, self.window.in_sb)

    def x(self, rows: pd.DataFrame) -> NDArray[np.float64]:
        return rows[list(self.features)].to_numpy(dtype=np.float64)


@dataclass
class ClassifierTask:
    """One method's "data vs. reference" problem in a window, split into k seeded folds.

    The SR data get out-of-fold scores, unless the data class is something else (the
    supervised classifier's signal simulation): then ``sr_data`` is scored by all folds,
    like the test set."""

    data: NDArray[np.float64]
    reference: NDArray[np.float64]
    data_folds: NDArray[np.int64]
    reference_folds: NDArray[np.int64]
    test: NDArray[np.float64]
    settings: KFoldSettings
    sr_data: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        check_folds(self.data, self.reference, self.data_folds, self.reference_folds, self.settings.n_folds)

    def train_fold(self, fold: int) -> FoldResult:
        extra = (self.test,) if self.sr_data is None else (self.test, self.sr_data)
        return train_fold(self.data, self.reference, data_folds=self.data_folds, reference_folds=self.reference_folds,
                          fold=fold, settings=self.settings, score_also=extra)

    def combine(self, results: list[FoldResult]) -> MethodScores:
        scores = combine_folds(results, data_folds=self.data_folds, reference_folds=self.reference_folds)
        data = scores.data if self.sr_data is None else scores.others[1]
        return MethodScores(data=data, test=scores.others[0], models=scores.models)

    def run(self) -> MethodScores:
        """All folds in this process."""
        return self.combine([self.train_fold(fold) for fold in range(self.settings.n_folds)])


def _task(wd: WindowData, data: pd.DataFrame | NDArray, reference: pd.DataFrame | NDArray,
          settings: KFoldSettings, seed: int, *, data_is_sr_data: bool = True,
          encode: Callable[[pd.DataFrame], NDArray[np.float64]] | None = None) -> ClassifierTask:
    """``encode`` turns events into classifier inputs (default: the window's features)."""
    encode = encode or wd.x
    x_data = encode(data) if isinstance(data, pd.DataFrame) else data
    x_ref = encode(reference) if isinstance(reference, pd.DataFrame) else reference
    k = settings.n_folds
    return ClassifierTask(data=x_data, reference=x_ref, data_folds=assign_folds(len(x_data), k, seed),
                          reference_folds=assign_folds(len(x_ref), k, seed + 1), test=encode(wd.sr("test")),
                          settings=settings, sr_data=None if data_is_sr_data else encode(wd.sr("data")))


def cathode(wd: WindowData, samples: NDArray[np.float64], settings: KFoldSettings, seed: int) -> ClassifierTask:
    return _task(wd, wd.sr("data"), samples, settings, seed)


def cwola(wd: WindowData, settings: KFoldSettings, seed: int, *, sideband_width: float) -> ClassifierTask:
    w = wd.window
    mjj = wd.table.mjj.to_numpy()
    near = ((mjj >= w.low - sideband_width) & (mjj < w.low)) | ((mjj >= w.high) & (mjj < w.high + sideband_width))
    reference = wd.table[(wd.table.role == "data").to_numpy() & near & w.in_range(mjj)]
    return _task(wd, wd.sr("data"), reference, settings, seed)


def iad(wd: WindowData, settings: KFoldSettings, seed: int) -> ClassifierTask:
    return _task(wd, wd.sr("data"), wd.sr("ideal"), settings, seed)


def latent_encoder(features: Sequence[str], flow: ConditionalFlow) -> Callable[[pd.DataFrame], NDArray[np.float64]]:
    """Events -> their latent image under the sideband flow, each at its own m_jj (LaCATHODE's
    classifier inputs, in the search and in the bump hunt)."""
    return lambda rows: flow.latent(rows[list(features)].to_numpy(np.float64), rows.mjj.to_numpy())


def lacathode(wd: WindowData, flow: ConditionalFlow, settings: KFoldSettings, seed: int, *,
              oversampling: float) -> ClassifierTask:
    """LaCATHODE (Hallin et al., PRD 107, 114012): SR data mapped into the sideband flow's
    latent space vs. standard-normal samples there. For background the latent space barely
    depends on m_jj, so the score, unlike CATHODE's, can be applied beyond the SR without
    sculpting a bump into the m_jj spectrum (the bump hunt's selection)."""
    n_data = len(wd.sr("data"))
    reference = np.random.default_rng(seed + 2).standard_normal((int(round(oversampling * n_data)), len(wd.features)))
    return _task(wd, wd.sr("data"), reference, settings, seed, encode=latent_encoder(wd.features, flow))


def supervised(wd: WindowData, settings: KFoldSettings, seed: int) -> ClassifierTask:
    signal = wd.sr("signal_mc")
    if len(signal) < 5 * settings.n_folds:
        raise BumpfoldInputError(
            f"window {wd.window.name}: {len(signal)} signal simulation events in the SR, too few for the "
            "supervised classifier (generate more signal or inject less)")
    return _task(wd, signal, wd.sr("ideal"), settings, seed, data_is_sr_data=False)


@dataclass
class AutoencoderTask:
    """The autoencoder's k folds on the SR data: fold i trains on the other folds' data and
    scores fold i; the test set gets the mean over the folds (as a classifier method's). The
    fold jobs and their combination are those of the classifier methods."""

    data: NDArray[np.float64]  # SR data, columns JET_COLUMNS
    data_folds: NDArray[np.int64]
    test: NDArray[np.float64]
    settings: AutoencoderSettings
    n_folds: int
    seed: int

    def __post_init__(self) -> None:
        counts = np.bincount(self.data_folds, minlength=self.n_folds)
        if len(self.data) != len(self.data_folds) or counts.min() < 5:
            raise BumpfoldInputError(f"autoencoder: {len(self.data)} SR data events are too few for "
                                     f"{self.n_folds} folds")

    def train_fold(self, fold: int) -> FoldResult:
        from bumpfold.ml.autoencoder import JetAutoencoder

        if not 0 <= fold < self.n_folds:
            raise BumpfoldInputError(f"fold {fold}: must be in 0..{self.n_folds - 1} (search.n_folds)")
        seed = int(np.random.SeedSequence([self.seed, fold]).generate_state(1)[0])
        model = JetAutoencoder(self.settings, seed).fit(self.data[self.data_folds != fold])
        return FoldResult(fold=fold, model=model, data=model.score(self.data[self.data_folds == fold]),
                          reference=np.empty(0), others=[model.score(self.test)])

    def combine(self, results: list[FoldResult]) -> MethodScores:
        """As a classifier method's folds, with no reference events."""
        scores = combine_folds(results, data_folds=self.data_folds, reference_folds=np.empty(0, dtype=np.int64))
        return MethodScores(data=scores.data, test=scores.others[0], models=scores.models)

    def run(self) -> MethodScores:
        return self.combine([self.train_fold(fold) for fold in range(self.n_folds)])


def jet_inputs(rows: pd.DataFrame) -> NDArray[np.float64]:
    """The autoencoder's inputs of each event (bumpfold.ml.autoencoder.JET_COLUMNS)."""
    return rows[list(JET_COLUMNS)].to_numpy(np.float64)


def autoencoder(wd: WindowData, settings: AutoencoderSettings, n_folds: int, seed: int) -> AutoencoderTask:
    data = jet_inputs(wd.sr("data"))
    return AutoencoderTask(data=data, data_folds=assign_folds(len(data), n_folds, seed),
                           test=jet_inputs(wd.sr("test")), settings=settings, n_folds=n_folds, seed=seed)


def anode(wd: WindowData, background_flow: ConditionalFlow, flow_settings: FlowSettings) -> MethodScores:
    from bumpfold.ml.flow import ConditionalFlow

    data = wd.sr("data")
    sr_flow = ConditionalFlow(flow_settings).fit(wd.x(data), data.mjj.to_numpy())

    def ratio(rows: pd.DataFrame) -> NDArray[np.float64]:
        x, m = wd.x(rows), rows.mjj.to_numpy()
        return sr_flow.log_prob(x, m) - background_flow.log_prob(x, m)

    return MethodScores(data=ratio(data), test=ratio(wd.sr("test")), models=sr_flow)
