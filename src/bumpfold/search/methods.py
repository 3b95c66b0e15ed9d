"""The anomaly-detection methods on one SR window, side by side on the same data.

Every method returns scores for the SR data events (out-of-fold where a classifier saw
data) and for the labelled SR test events:

* ``cathode``: SR data vs. background samples from the sideband flow (k-fold);
* ``cwola``: SR data vs. data in the adjacent sidebands (CWoLa Hunting, k-fold);
* ``anode``: log p_SR(x|m) - log p_bkg(x|m), a second flow trained on SR data;
* ``iad``: SR data vs. an independent true-background sample in the SR (the idealised
  anomaly detector, the upper bound of weak supervision);
* ``supervised``: signal simulation vs. background simulation in the SR.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError
from bumpfold.ml.classifier import ClassifierSettings, kfold_scores
from bumpfold.search.regions import Window, assign_folds

if TYPE_CHECKING:  # torch only where a flow is trained
    from bumpfold.ml.flow import ConditionalFlow, FlowSettings

METHODS = ("cathode", "cwola", "anode", "iad", "supervised")


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


def _classify(wd: WindowData, data: pd.DataFrame | NDArray, reference: pd.DataFrame | NDArray,
              settings: ClassifierSettings, seed: int, *, score_data_directly: bool = False) -> MethodScores:
    x_data = wd.x(data) if isinstance(data, pd.DataFrame) else data
    x_ref = wd.x(reference) if isinstance(reference, pd.DataFrame) else reference
    k = settings.n_folds
    sr_data, test = wd.x(wd.sr("data")), wd.x(wd.sr("test"))
    extra = (test, sr_data) if score_data_directly else (test,)
    result = kfold_scores(x_data, x_ref, data_folds=assign_folds(len(x_data), k, seed),
                          reference_folds=assign_folds(len(x_ref), k, seed + 1), settings=settings,
                          score_also=extra)
    return MethodScores(data=result.others[1] if score_data_directly else result.data, test=result.others[0],
                        models=result.models)


def cathode(wd: WindowData, samples: NDArray[np.float64], settings: ClassifierSettings, seed: int) -> MethodScores:
    return _classify(wd, wd.sr("data"), samples, settings, seed)


def cwola(wd: WindowData, settings: ClassifierSettings, seed: int, *, sideband_width: float) -> MethodScores:
    w = wd.window
    mjj = wd.table.mjj.to_numpy()
    near = ((mjj >= w.low - sideband_width) & (mjj < w.low)) | ((mjj >= w.high) & (mjj < w.high + sideband_width))
    reference = wd.table[(wd.table.role == "data").to_numpy() & near & w.in_range(mjj)]
    return _classify(wd, wd.sr("data"), reference, settings, seed)


def iad(wd: WindowData, settings: ClassifierSettings, seed: int) -> MethodScores:
    return _classify(wd, wd.sr("data"), wd.sr("ideal"), settings, seed)


def supervised(wd: WindowData, settings: ClassifierSettings, seed: int) -> MethodScores:
    signal = wd.sr("signal_mc")
    if len(signal) < 5 * settings.n_folds:
        raise BumpfoldInputError(
            f"window {wd.window.name}: {len(signal)} signal simulation events in the SR, too few for the "
            "supervised classifier (generate more signal or inject less)")
    return _classify(wd, signal, wd.sr("ideal"), settings, seed, score_data_directly=True)


def anode(wd: WindowData, background_flow: ConditionalFlow, flow_settings: FlowSettings) -> MethodScores:
    from bumpfold.ml.flow import ConditionalFlow

    data = wd.sr("data")
    sr_flow = ConditionalFlow(flow_settings).fit(wd.x(data), data.mjj.to_numpy())

    def ratio(rows: pd.DataFrame) -> NDArray[np.float64]:
        x, m = wd.x(rows), rows.mjj.to_numpy()
        return sr_flow.log_prob(x, m) - background_flow.log_prob(x, m)

    return MethodScores(data=ratio(data), test=ratio(wd.sr("test")), models=sr_flow)
