"""The bump hunt of one window and one selection, CASE-like, from scored events.

Reads the table of ``bumpfold.search.range_scores`` (every data event in the m_jj range, the
unseen background simulation and each signal model's events, one score each) and the
selection's thresholds; needs no classifier (numpy, scipy, pyhf only).

1. For each efficiency e: keep the events above a score threshold. ``bumphunt.threshold:
   quantile_regression`` (default): the threshold keeping e of the data outside the window
   at every m_jj, fitted there and interpolated into the window (CASE's approach; see
   bumpfold.bumphunt.thresholds), so the selected background keeps the inclusive shape
   without simulation. ``fixed``: the one cut that selects e of the SR data (the ``select``
   step). ``inclusive`` keeps everything.
2. Fit the dijet function to the selected spectrum outside the window (F-test). With
   ``bumphunt.sculpting_correction``, correct it in the window by the selection's
   efficiency step measured on the independent background simulation (the ``reference``
   sample); see bumpfold.bumphunt.sculpting.
3. For each signal model: the template of its events passing the same cut, normalised to
   sigma x B = 1 fb in the data's luminosity (or to one event without one); pyhf gives
   mu_hat, the local significance and the CLs limits (bumpfold.bumphunt.model). Where fewer
   than ``bumphunt.min_signal_mc`` signal MC events pass in the window (a classifier trained
   without that signal need not select it), the selection's efficiency for it is unknown:
   the template is the model's unselected m_jj shape (``template: unselected shape``), and
   mu_hat and the limits are in events in the window only.
A failed fit or an empty template is reported in the result with its reason, never as a
number.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bumpfold.bumphunt.model import WindowCounts, infer
from bumpfold.bumphunt.sculpting import Sculpting, measure_sculpting, with_alternative
from bumpfold.bumphunt.settings import BumpHuntSettings, FitSettings
from bumpfold.bumphunt.spectrum import Binning, DijetFit, fit_background
from bumpfold.bumphunt.thresholds import FixedThreshold, Threshold, fit_quantile_threshold
from bumpfold.errors import BumpfoldInputError, required_path
from bumpfold.io.atomic import write_json
from bumpfold.regions import Window
from bumpfold.registry import INCLUSIVE, RANGE_ALTERNATIVE, RANGE_DATA, RANGE_REFERENCE, variation_dataset
from bumpfold.runs import Run

log = logging.getLogger(__name__)


@dataclass
class SignalSample:
    """Events of one signal model and the generated-event count they stand for."""

    name: str
    table: pd.DataFrame
    n_generated: float


def luminosity_fb(background_cutflow: str | Path, data_fraction: float) -> float | None:
    """Equivalent luminosity of pseudo-data built from generated background: its share of the
    generated QCD events over the generator cross section; None for a background without a
    generator cross section (then limits are in events)."""
    info = json.loads(Path(background_cutflow).read_text()).get("generator")
    if not info or not info.get("cross_section_pb", 0) > 0:
        return None
    return data_fraction * info["n_generated"] / (info["cross_section_pb"] * 1000.0)


def data_luminosity_fb(*, declared_fb: float | None, background_cutflow: str | Path | None,
                       data_fraction: float, observed: bool) -> float | None:
    """The data's integrated luminosity [fb^-1]: what the config declares (observed data: its
    own; pseudo-data: the background sample's, times the data fraction), else for pseudo-data
    from generated background the generator's; None when neither is known."""
    if declared_fb is not None:
        return declared_fb if observed else data_fraction * declared_fb
    if observed or background_cutflow is None:
        return None
    return luminosity_fb(background_cutflow, data_fraction)


def _window_counts(name: str, counts: NDArray, fit: DijetFit, edges: NDArray, window: NDArray[np.bool_],
                   signal: NDArray, correction: NDArray, sculpting: Sculpting | None,
                   spurious_fraction: float = 0.0, bias_fraction: float = 0.0) -> WindowCounts:
    """The pyhf model's inputs: the fit (and its variations) times the per-bin correction and
    1 + the selection bias, with a sculpting correction the ratio's uncertainty, and the
    spurious signal: the configured fraction of the window's background, in events."""
    ratio = correction[window] * (1.0 + bias_fraction)
    background = fit.predict(edges)[window] * ratio
    return WindowCounts(name=name, data=counts[window], background=background,
                        variations=[(u[window] * ratio, d[window] * ratio) for u, d in fit.eigen_variations(edges)],
                        signal=signal[window],
                        background_norm_uncertainty=None if sculpting is None else sculpting.relative_uncertainty,
                        spurious_signal=spurious_fraction * float(background.sum()),
                        selection_bias=bias_fraction)


def _selected_per_fb(sample: SignalSample, threshold: Threshold, binning: Binning, lumi_fb: float) -> NDArray:
    """A (varied) signal sample's selected m_jj histogram for sigma x B = 1 fb."""
    mjj = sample.table.mjj.to_numpy()
    keep = sample.table.score.to_numpy() >= threshold(mjj)
    return binning.histogram(mjj[keep]) * lumi_fb / sample.n_generated


def _sculpting(reference: pd.DataFrame, threshold: Threshold, binning: Binning, in_window: NDArray[np.bool_], *,
               sqrt_s: float, n_params: int, name: str) -> Sculpting:
    mjj = reference.mjj.to_numpy()
    return measure_sculpting(mjj, reference.score.to_numpy() >= threshold(mjj), binning, in_window, sqrt_s=sqrt_s,
                             n_params=n_params, name=name)


def hunt(data: pd.DataFrame, cuts: dict[str, float], signals: dict[str, tuple[SignalSample, NDArray[np.float64]]],
         *, window: Window, binning: Binning, lumi_fb: float | None, fit: FitSettings, sqrt_s: float, cl: float,
         min_signal_mc: int, label: str, reference: pd.DataFrame | None = None, quantile_degree: int | None = None,
         spurious_fraction: float = 0.0, alternative: pd.DataFrame | None = None,
         selection_bias: dict[str, float] | None = None,
         systematics: dict[str, dict[str, tuple[SignalSample, SignalSample]]] | None = None,
         lumi_uncertainty: float = 0.0) -> tuple[list[dict], dict[str, dict], dict]:
    """Every (efficiency, signal model) of one window and selection: result rows, pyhf
    workspaces by name, and the spectra for the plot. ``cuts``: efficiency -> the fixed
    score cut; with ``quantile_degree`` the threshold is instead fitted to keep that
    efficiency of the data outside the window at every m_jj (bumpfold.bumphunt.thresholds).
    ``reference`` (mjj, score of background simulation): correct each selection's
    background for sculpting; ``alternative``, a second simulation's: the correction's
    systematic uncertainty (bumpfold.bumphunt.sculpting). ``spurious_fraction``: the fit
    function's bias in the window as a fraction of its background, a signal-shaped nuisance
    in the model; ``selection_bias`` (efficiency -> fraction): the selection's excess
    background efficiency inside the window, corrected for with a 100 % uncertainty. Without a luminosity
    (``lumi_fb`` None) the limits are in signal events only. ``systematics`` (model -> name ->
    (up, down) samples: the model reprocessed through varied detectors, scored like it) and
    ``lumi_uncertainty`` add signal modifiers where the limits are in fb."""
    edges = binning.edges
    in_window = binning.window_mask(window.low, window.high, f"window {window.name}")
    rows: list[dict[str, Any]] = []
    workspaces: dict[str, Any] = {}
    spectra: dict[str, dict[str, Any]] = {}
    observed = bool((data.is_signal < 0).any())  # observed data: its true signal content is unknown
    mjj, score = data.mjj.to_numpy(), data.score.to_numpy()
    outside = (mjj < window.low) | (mjj > window.high)
    n_data_window = int(binning.histogram(mjj)[in_window].sum())  # before any selection
    for eff, cut in cuts.items():
        name = f"{label}, {window.name}, efficiency {eff}"
        base: dict[str, Any] = {"window": window.name, "selection": label, "efficiency": eff, "threshold": cut,
                                "n_data_window": n_data_window}
        try:
            threshold: Threshold = FixedThreshold(cut) if quantile_degree is None else fit_quantile_threshold(
                mjj[outside], score[outside], efficiency=float(eff), centre=0.5 * (window.low + window.high),
                degree=quantile_degree, name=name)
        except BumpfoldInputError as exc:  # e.g. too few events above a 0.1 % quantile
            log.warning("%s", exc)
            base.update(n_selected=None, n_selected_window=None, n_signal_true_window=None)  # nothing selected
            rows += [{**base, "signal_model": model, "status": f"failed: {exc}"} for model in signals]
            continue
        passed = score >= threshold(mjj)
        counts = binning.histogram(mjj[passed])
        base.update({"threshold_fit": threshold.summary(), "n_selected": int(passed.sum()),
                     "n_selected_window": int(counts[in_window].sum()),
                     "fraction_selected_outside_window": float(passed[outside].mean()) if outside.any() else None,
                     "n_signal_true_window": None if observed else int(
                         binning.histogram(mjj[passed & (data.is_signal == 1)])[in_window].sum())})
        try:
            bkg_fit = fit_background(counts, edges, ~in_window, sqrt_s=sqrt_s, min_params=fit.min_params,
                                     max_params=fit.max_params, ftest_threshold=fit.ftest_threshold, name=name)
            sculpting = None if reference is None else _sculpting(reference, threshold, binning, in_window,
                                                                  sqrt_s=sqrt_s, n_params=bkg_fit.n_params, name=name)
            if sculpting is not None and alternative is not None:
                sculpting = with_alternative(sculpting, _sculpting(
                    alternative, threshold, binning, in_window, sqrt_s=sqrt_s, n_params=bkg_fit.n_params,
                    name=f"{name} (alternative simulation)"))
        except BumpfoldInputError as exc:  # reported per efficiency: the others may still be fine
            log.warning("%s", exc)
            rows += [{**base, "signal_model": model, "status": f"failed: {exc}"} for model in signals]
            continue
        correction = np.ones(len(counts))  # per bin, on the fit: 1 without a sculpting correction
        if sculpting is not None:
            correction[in_window] = sculpting.ratio
            base["sculpting"] = summary = sculpting.summary()
            log.info("%s: selected background simulation / its sideband fit in the window = %.3f +- %.3f%s", name,
                     summary["ratio_window"], summary["ratio_window_uncertainty"],
                     "" if sculpting.alternative is None else
                     f" (alternative simulation: {summary['ratio_window_alternative']:.3f})")
        spectra[eff] = {"counts": counts, "fit": bkg_fit, "correction": correction, "signals": {}}
        for model, (sample, scores) in signals.items():
            signal_mjj = sample.table.mjj.to_numpy()
            keep = scores >= threshold(signal_mjj)
            mc = binning.histogram(signal_mjj[keep])
            row = {**base, "signal_model": model, "fit": bkg_fit.summary(),
                   "signal_efficiency": float(keep.mean()), "signal_mc_window": int(mc[in_window].sum()),
                   # selected in the window per generated event: what the injection scan's limits read
                   "signal_window_efficiency": float(mc[in_window].sum()) / sample.n_generated}
            template = "selected"
            if mc[in_window].sum() < min_signal_mc:
                # too few selected events to know the selection's efficiency for this signal (a
                # classifier trained without it need not select it): the significance, mu_hat
                # and limits in events still have the resonance's m_jj shape, unselected
                mc, template = binning.histogram(signal_mjj), "unselected shape"
                if mc[in_window].sum() < min_signal_mc:
                    rows.append({**row, "status": f"failed: {int(mc[in_window].sum())} signal MC events of {model} "
                                 f"in the window, selected or not (< bumphunt.min_signal_mc = {min_signal_mc}): "
                                 "no template"})
                    continue
            signal_variations: list[tuple[str, NDArray, NDArray]] = []
            if lumi_fb is None or template != "selected":  # one signal event in the window: mu in events
                per_unit, events_per_fb = mc / float(mc[in_window].sum()), None
            else:  # events for sigma x B = 1 fb; the detector variations selected by the same threshold
                per_unit = mc * lumi_fb / sample.n_generated
                events_per_fb = float(per_unit[in_window].sum())
                for syst, (up, down) in (systematics or {}).get(model, {}).items():
                    signal_variations.append((syst, _selected_per_fb(up, threshold, binning, lumi_fb)[in_window],
                                              _selected_per_fb(down, threshold, binning, lumi_fb)[in_window]))
                if signal_variations:  # each variation's selected signal in the window, relative to the nominal's
                    row["signal_systematics"] = {syst: [float(u.sum()) / events_per_fb - 1,
                                                        float(d.sum()) / events_per_fb - 1]
                                                 for syst, u, d in signal_variations}
            row.update(signal_events_per_fb=events_per_fb, template=template)
            try:
                window_counts = replace(
                    _window_counts(f"{name}, {model}", counts, bkg_fit, edges, in_window, per_unit, correction,
                                   sculpting, spurious_fraction, (selection_bias or {}).get(str(eff), 0.0)),
                    signal_variations=signal_variations,
                    signal_norm_uncertainty=lumi_uncertainty if events_per_fb is not None else 0.0)
                spec, result = infer(window_counts, cl=cl)
            except BumpfoldInputError as exc:  # e.g. a fit that predicts no background in the window
                log.warning("%s", exc)
                rows.append({**row, "status": f"failed: {exc}"})
                continue
            workspaces[f"eff{eff}_{model}"] = spec
            # only the window bins: what the pyhf model fits (a template peaking elsewhere would
            # otherwise be drawn at its own mass, scaled up by the fit to a tail)
            spectra[eff]["signals"][model] = np.where(in_window, per_unit * max(result.mu_hat, 0.0), 0.0)
            rows.append({**row, "status": "ok", **result.as_dict(events_per_fb)})
            log.info("%s, %s: mu_hat %.3g %s, Z = %.2f, limit %.3g (expected %.3g)", name, model, result.mu_hat,
                     "events" if lumi_fb is None else "fb", result.local_significance, result.limit_obs,
                     result.limit_exp[2])
    return rows, workspaces, spectra


def write_workspaces(workspaces: dict[str, dict], directory: str | Path) -> None:
    """One pyhf JSON per (efficiency, signal model); the directory appears whole or not at all."""
    final = Path(directory)
    tmp = final.with_name(f".{final.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for name, spec in workspaces.items():
            (tmp / f"{name}.json").write_text(json.dumps(spec, indent=1) + "\n")
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _variation(ranged: pd.DataFrame, model: str, systematic: str, direction: str) -> SignalSample:
    """A signal model reprocessed through the up or down detector of a systematic, as scored."""
    name = variation_dataset(model, f"{systematic}_{direction}")
    return signal_samples(ranged, [name])[name]


def signal_samples(ranged: pd.DataFrame, names: Iterable[str]) -> dict[str, SignalSample]:
    """Each signal model's scored events (mjj, score) and the generated-event count they stand for."""
    samples = {}
    for name in names:
        rows = ranged[ranged["sample"] == name]
        if len(rows) == 0 or not rows.n_generated.iloc[0] > 0:
            raise BumpfoldInputError(f"signal model {name}: no scored events with a generated-event count "
                                     "(range scores from another configuration?)")
        table = rows[["mjj", "score"]].reset_index(drop=True)
        samples[name] = SignalSample(name, table, float(rows.n_generated.iloc[0]))
    return samples


def run_window(*, range_scores: str | Path, thresholds: str | Path | None, background_cutflow: str | Path | None,
               window: Window, selection: str, run: Run, bumphunt: BumpHuntSettings, sqrt_s: float,
               output: str | Path,
               workspaces: str | Path, declared_luminosity_fb: float | None = None,
               ) -> tuple[list[dict], dict[str, dict], Binning]:
    """The rule's whole job: select, fit, infer; write the rows and workspaces. Returns the
    rows, the spectra for the window's plot and the binning."""
    ranged = pd.read_parquet(range_scores)
    binning = Binning(window.range_low, window.range_high, bumphunt.bin_width)
    lumi = data_luminosity_fb(declared_fb=declared_luminosity_fb, background_cutflow=background_cutflow,
                              data_fraction=bumphunt.data_fraction, observed=bumphunt.observed_data)
    data = ranged[ranged["sample"] == RANGE_DATA][["mjj", "is_signal", "score"]].reset_index(drop=True)
    cuts = {"1": 1.0} if selection == INCLUSIVE else \
        json.loads(Path(required_path(thresholds, "the selection's thresholds")).read_text())["thresholds"]
    reference, alternative, note = None, None, None
    if selection != INCLUSIVE and bumphunt.sculpting_correction:
        reference = ranged[ranged["sample"] == RANGE_REFERENCE][["mjj", "score"]].reset_index(drop=True)
        if len(reference) == 0:  # observed data without background simulation
            reference, note = None, "not applied: no background simulation"
        if bumphunt.sculpting_alternative is not None:
            alternative = ranged[ranged["sample"] == RANGE_ALTERNATIVE][["mjj", "score"]].reset_index(drop=True)
            if len(alternative) == 0:
                raise BumpfoldInputError(f"{range_scores}: no events of the alternative simulation "
                                         f"{bumphunt.sculpting_alternative!r} (range scores of another config?)")
    samples = signal_samples(ranged, bumphunt.signal_models)
    signals = {name: (s, s.table.score.to_numpy()) for name, s in samples.items()}
    # the injected model's varied samples hold the injected events, which its classifiers
    # trained on: score_range leaves them out, and its rows carry no detector systematics
    present = set(ranged["sample"].unique())
    systematics = {model: {syst: (_variation(ranged, model, syst, "up"), _variation(ranged, model, syst, "down"))
                           for syst in bumphunt.signal_systematics}
                   for model in samples if all(variation_dataset(model, f"{syst}_{d}") in present
                                               for syst in bumphunt.signal_systematics for d in ("up", "down"))}
    rows, specs, spectra = hunt(data, cuts, signals, window=window, binning=binning, lumi_fb=lumi,
                                fit=bumphunt.fit, sqrt_s=sqrt_s, cl=bumphunt.cl, min_signal_mc=bumphunt.min_signal_mc,
                                label=selection, reference=reference,
                                quantile_degree=None if selection == INCLUSIVE or bumphunt.threshold == "fixed"
                                else bumphunt.quantile_degree, spurious_fraction=bumphunt.spurious_signal,
                                alternative=alternative, selection_bias=bumphunt.selection_bias.get(selection),
                                systematics=systematics, lumi_uncertainty=bumphunt.luminosity_uncertainty)
    for row in rows:
        row.update(injection=run.n_injected, toy=run.toy, injected_model=run.signal, luminosity_fb=lumi)
        if note is not None:
            row["sculpting"] = note
    write_workspaces(specs, workspaces)
    write_json({"rows": rows}, output)
    return rows, spectra, binning
