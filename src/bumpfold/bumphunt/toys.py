"""Calibration of the bump hunt from whole-chain pseudo-experiments (toys).

Each toy is a disjoint slice of a background sample searched like the data (rule toys in
the workflow); its bump-hunt rows carry ``toy`` and ``injection``. From them:

* the local significance without signal, per (window, selection, efficiency, signal model):
  mean and standard deviation with their uncertainties (N(0, 1) if the asymptotic formula,
  the fit and the selection are all unbiased);
* the trials factor across every test of a toy: the largest local Z of each toy; if each
  local Z is N(0, 1) and the tests behave as N_eff independent ones, the largest follows
  Phi(z)^N_eff, whose maximum-likelihood N_eff is -n / sum ln Phi(z_max,i). The global
  p-value of a local one is then 1 - (1 - p)^N_eff. With no toys, the Bonferroni bound
  p_global <= N_tests p stands in (global Z at least that);
* the selection bias: without signal, the events a selection keeps inside the window over
  the efficiency times the data there, pooled over the toys, minus 1 (0 if the threshold
  fitted outside the window keeps the same background efficiency inside it). A selection
  trained in the window (CATHODE, LaCATHODE) keeps more there wherever its flow mis-models
  the window's background. ``bumphunt.selection_bias`` corrects for it in the pyhf model;
* linearity: the fitted signal (mu_hat in events in the window) against the injected
  events and against the injected events the selection kept in the window (slope 1,
  intercept 0 for an unbiased fit), straight lines by least squares with their
  standard errors.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from bumpfold.errors import BumpfoldInputError

TestKey = tuple[str, str, str, str]  # window, selection, efficiency, signal model


def load_rows(result_files: list[str | Path]) -> list[dict[str, Any]]:
    return [row for path in result_files for row in json.loads(Path(path).read_text())["rows"]]


def _key(row: dict[str, Any]) -> TestKey:
    return row["window"], row["selection"], str(row["efficiency"]), row["signal_model"]


@dataclass(frozen=True)
class Trials:
    """Effective number of independent tests, and how it was obtained."""

    n_eff: float
    n_eff_uncertainty: float | None
    method: str  # "toys" or "bonferroni"

    def global_p(self, local_p: float) -> float:
        if self.method == "bonferroni":
            return float(min(1.0, self.n_eff * local_p))
        return float(-np.expm1(self.n_eff * np.log1p(-min(local_p, 1.0 - 1e-16))))

    def global_z(self, local_z: float) -> float:
        """Global significance of a local one (0 where the global p-value exceeds 0.5)."""
        return float(max(stats.norm.isf(self.global_p(float(stats.norm.sf(local_z)))), 0.0))

    def as_dict(self) -> dict[str, Any]:
        return {"n_eff": self.n_eff, "n_eff_uncertainty": self.n_eff_uncertainty, "method": self.method}


def effective_tests(largest_z: list[float]) -> Trials:
    """Maximum-likelihood N_eff of Phi(z)^N_eff from each toy's largest local Z."""
    z = np.asarray(largest_z, dtype=float)
    if len(z) < 2:
        raise BumpfoldInputError(f"trials factor: {len(z)} toy(s) with a significance; at least 2 are needed")
    log_cdf = stats.norm.logcdf(z)
    n_eff = float(-len(z) / log_cdf.sum())
    return Trials(n_eff=n_eff, n_eff_uncertainty=n_eff / np.sqrt(len(z)), method="toys")


def bonferroni(n_tests: int) -> Trials:
    return Trials(n_eff=float(max(n_tests, 1)), n_eff_uncertainty=None, method="bonferroni")


def z_distribution(values: list[float]) -> dict[str, Any]:
    """Mean and standard deviation with their standard errors (Gaussian approximation)."""
    z = np.asarray(values, dtype=float)
    n = len(z)
    if n < 2:
        return {"n": n, "mean": float(z[0]) if n else None, "mean_error": None, "std": None, "std_error": None}
    std = float(z.std(ddof=1))
    return {"n": n, "mean": float(z.mean()), "mean_error": std / np.sqrt(n), "std": std,
            "std_error": std / np.sqrt(2.0 * (n - 1)), "fraction_above_2": float((z > 2).mean()),
            "max": float(z.max())}


def line_fit(x: Sequence[float], y: Sequence[float]) -> dict[str, Any] | None:
    """y = slope x + intercept by least squares, with standard errors from the residuals."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(xs) < 3 or len(np.unique(xs)) < 2:
        return None
    (slope, intercept), cov = np.polyfit(xs, ys, 1, cov=True)
    return {"slope": float(slope), "slope_error": float(np.sqrt(cov[0, 0])), "intercept": float(intercept),
            "intercept_error": float(np.sqrt(cov[1, 1])), "n_points": int(len(xs))}


def summarize_toys(rows: list[dict[str, Any]], *, signal: str | None, targets: tuple[float, float] = (0.3, 0.3),
                   ) -> dict[str, Any]:
    """The calibration of the module docstring from every toy's bump-hunt rows."""
    toys = [r for r in rows if r.get("toy") is not None]
    if not toys:
        raise BumpfoldInputError("toys summary: no bump-hunt rows of toys")
    background_only = [r for r in toys if r["injection"] == 0]
    by_test: dict[TestKey, list[float]] = defaultdict(list)
    failures: dict[TestKey, list[str]] = defaultdict(list)
    largest: dict[int, float] = {}
    for r in background_only:
        if r["status"] == "ok":
            by_test[_key(r)].append(r["local_significance"])
            largest[r["toy"]] = max(largest.get(r["toy"], -np.inf), r["local_significance"])
        else:
            failures[_key(r)].append(r["status"])
    n_toys = len({r["toy"] for r in background_only})
    tests = []
    for key in sorted(set(by_test) | set(failures)):
        dist = z_distribution(by_test.get(key, []))
        calibrated = None if dist["std"] is None else bool(
            abs(dist["mean"]) <= targets[0] and abs(dist["std"] - 1.0) <= targets[1])
        tests.append({"window": key[0], "selection": key[1], "efficiency": key[2], "signal_model": key[3],
                      **dist, "n_failed": len(failures.get(key, [])),
                      "failure_example": failures[key][0] if failures.get(key) else None, "within_target": calibrated})
    trials = effective_tests(list(largest.values())) if len(largest) >= 2 else None
    return {"n_toys": n_toys, "n_tests": len(tests), "targets": {"mean_abs": targets[0], "std_minus_1_abs": targets[1]},
            "local_z": tests, "largest_z_per_toy": [largest[t] for t in sorted(largest)],
            "trials": None if trials is None else trials.as_dict(),
            "selection_bias": selection_bias(background_only),
            "linearity": linearity(toys, signal) if signal else []}


def selection_bias(background_only: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (window, selection, efficiency): kept / (efficiency x data) inside the window,
    pooled over the background-only toys, minus 1, with the Poisson error of the kept count
    (one row per toy: the signal models share the selection)."""
    counts: dict[tuple[str, str, str], dict[int, tuple[int, int]]] = defaultdict(dict)
    for r in background_only:
        if r["selection"] != "inclusive" and r.get("n_selected_window") is not None and \
                r.get("n_data_window") is not None:
            counts[_key(r)[:3]][r["toy"]] = (r["n_selected_window"], r["n_data_window"])
    out = []
    for (window, selection, efficiency), per_toy in sorted(counts.items()):
        kept, data = (float(sum(v[i] for v in per_toy.values())) for i in (0, 1))
        expected = float(efficiency) * data
        if expected <= 0:
            continue
        out.append({"window": window, "selection": selection, "efficiency": efficiency, "toys": len(per_toy),
                    "kept_in_window": int(kept), "expected_in_window": expected,
                    "bias": kept / expected - 1.0, "bias_error": float(np.sqrt(kept)) / expected})
    return out


def linearity(toys: list[dict[str, Any]], signal: str) -> list[dict[str, Any]]:
    """Per (window, selection, efficiency), for the injected model's template: mu_hat against
    the injected events and against the injected events selected in the window, over the toys
    that were rerun with signal (and their background-only runs)."""
    injected_toys = {r["toy"] for r in toys if r["injection"] > 0}
    points: dict[tuple[str, str, str], list[tuple[int, int | None, float]]] = defaultdict(list)
    for r in toys:
        if r["signal_model"] == signal and r["toy"] in injected_toys and r["status"] == "ok":
            points[_key(r)[:3]].append((r["injection"], r.get("n_signal_true_window"), r["mu_hat_events"]))
    out = []
    for (window, selection, efficiency), pts in sorted(points.items()):
        injected = [p[0] for p in pts]
        mu = [p[2] for p in pts]
        kept = [(p[1], p[2]) for p in pts if p[1] is not None]
        out.append({"window": window, "selection": selection, "efficiency": efficiency,
                    "injections": sorted(set(injected)),
                    "mu_vs_injected": line_fit(injected, mu),
                    "mu_vs_selected_in_window": line_fit([k[0] for k in kept], [k[1] for k in kept]),
                    "points": [{"injected": p[0], "selected_in_window": p[1], "mu_hat_events": p[2]} for p in pts]})
    return out


def _pm(value: float | None, error: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}" if error is None else f"{value:.{digits}f} ± {error:.{digits}f}"


def toys_table(summary: dict[str, Any]) -> str:
    """Markdown: the local-Z calibration per test, the trials factor, the linearity fits."""
    t = summary["targets"]
    lines = ["# Whole-chain pseudo-experiments", "",
             f"{summary['n_toys']} background-only toys, each a disjoint slice of the background sample searched "
             "like the data. Local Z should be N(0, 1): target |mean| <= "
             f"{t['mean_abs']}, |std - 1| <= {t['std_minus_1_abs']}.", "",
             "| window | selection | efficiency | signal model | toys with Z | mean Z | std Z | Z > 2 | failed | "
             "within target |", "|---|---|---|---|---:|---:|---:|---:|---:|---|"]
    for r in summary["local_z"]:
        above = "n/a" if r.get("fraction_above_2") is None else f"{100 * r['fraction_above_2']:.0f}%"
        within = {None: "n/a", True: "yes", False: "no"}[r["within_target"]]
        lines.append(f"| {r['window']} | {r['selection']} | {r['efficiency']} | {r['signal_model']} | {r['n']} | "
                     f"{_pm(r['mean'], r['mean_error'])} | {_pm(r['std'], r['std_error'])} | {above} | "
                     f"{r['n_failed']} | {within} |")
    trials = summary["trials"]
    lines += [""]
    if trials is None:
        lines.append("Trials factor: fewer than 2 toys with a significance.")
    else:
        n_with_z = sum(1 for r in summary["local_z"] if r["n"] > 0)
        lines.append(f"Trials factor over the {n_with_z} tests of a toy that gave a significance: N_eff = "
                     f"{_pm(trials['n_eff'], trials['n_eff_uncertainty'], 1)} (maximum likelihood, the largest "
                     "local Z of each toy distributed as Phi(z)^N_eff).")
    if summary.get("selection_bias"):
        lines += ["", "## Selection bias: background kept inside the window / (efficiency x data there) - 1", "",
                  "`bumphunt.selection_bias` corrects the window's background by 1 + bias, with a 100 % "
                  "uncertainty; measured on these toys, so a calibration with it needs other toys.", "",
                  "| window | selection | efficiency | toys | kept | expected | bias |",
                  "|---|---|---|---:|---:|---:|---:|"]
        for r in summary["selection_bias"]:
            bias = _pm(r["bias"], r["bias_error"], 3)
            lines.append(f"| {r['window']} | {r['selection']} | {r['efficiency']} | {r['toys']} | "
                         f"{r['kept_in_window']} | {r['expected_in_window']:.1f} | {bias} |")
    if summary["linearity"]:
        lines += ["", "## Linearity: fitted signal mu_hat [events in the window] = slope x + intercept", "",
                  "| window | selection | efficiency | injections | x = injected: slope | intercept | "
                  "x = injected and selected in the window: slope | intercept |",
                  "|---|---|---|---|---:|---:|---:|---:|"]
        for r in summary["linearity"]:
            a, b = r["mu_vs_injected"] or {}, r["mu_vs_selected_in_window"] or {}
            lines.append(f"| {r['window']} | {r['selection']} | {r['efficiency']} | "
                         f"{', '.join(map(str, r['injections']))} | {_pm(a.get('slope'), a.get('slope_error'), 3)} | "
                         f"{_pm(a.get('intercept'), a.get('intercept_error'), 1)} | "
                         f"{_pm(b.get('slope'), b.get('slope_error'), 3)} | "
                         f"{_pm(b.get('intercept'), b.get('intercept_error'), 1)} |")
    return "\n".join(lines) + "\n"
