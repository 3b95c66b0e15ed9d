"""Gather the per-window bump-hunt results: summary JSON, a limits table, the scan plots.

Each signal model is tested in every window, but its headline result is the window that
contains its resonance mass (nearest centre if several), as a CASE-like search quotes it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from bumpfold.bumphunt.toys import Trials, bonferroni
from bumpfold.io.atomic import atomic_path, write_json
from bumpfold.regions import Window, window_for_mass


def scenario_family(info: dict) -> str:
    """A signal scenario's topology and daughter masses: scenarios that differ only in the
    resonance mass share it (one curve of a limits-vs-mass figure)."""
    masses = f"m_X {info.get('m_x', 0):g}" + ("" if info.get("topology") == "tb" else f", m_Y {info.get('m_y', 0):g}")
    return f"{info.get('topology', '?')} ({masses} GeV)"


def headline_windows(rows: list[dict], masses: dict[str, float]) -> dict[str, str]:
    """Each model's headline window among the rows' windows: the one holding its mass."""
    windows = [Window(*_window_edges(name), 0.0, math.inf) for name in {r["window"] for r in rows}]
    best = {model: window_for_mass(windows, mass) for model, mass in masses.items()}
    return {model: w.name for model, w in best.items() if w is not None}


def _window_edges(name: str) -> tuple[float, float]:
    low, high = name.removeprefix("sr").split("_")
    return float(low), float(high)


def summarize(result_files: list[str | Path], models: dict[str, dict], *, output: str | Path,
              table: str | Path) -> list[dict]:
    """Every row of the result files, with its window centre, its signal model's mass and
    family (``models``: model -> topology and masses) and whether it is the model's headline."""
    rows = [row for path in result_files for row in json.loads(Path(path).read_text())["rows"]]
    headline = headline_windows(rows, {model: info["m_resonance"] for model, info in models.items()})
    for r in rows:
        low, high = _window_edges(r["window"])
        r["window_centre"] = 0.5 * (low + high)
        r["resonance_mass"] = models[r["signal_model"]]["m_resonance"]
        r["family"] = scenario_family(models[r["signal_model"]])
        r["headline"] = headline.get(r["signal_model"]) == r["window"]
    failed = [r for r in rows if r["status"] != "ok"]
    write_json({"rows": rows, "n_failed": len(failed)}, output)
    with atomic_path(table) as tmp:
        tmp.write_text(limits_table(rows))
    return rows


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def data_luminosity(rows: list[dict]) -> float | None:
    """The data's luminosity [fb^-1] that all rows share (a figure's label); None when
    unknown or when the rows disagree."""
    lumis = {r.get("luminosity_fb") for r in rows}
    return lumis.pop() if len(lumis) == 1 else None


def _luminosity_line(rows: list[dict]) -> str:
    lumis = {r.get("luminosity_fb") for r in rows}
    if lumis == {None}:
        return "No luminosity known for the data: limits in signal events only (fb columns n/a)."
    known = sorted(v for v in lumis if v is not None)
    return f"Data luminosity: {', '.join(f'{v:.3g}' for v in known)} fb^-1."


def trials_per_injection(rows: list[dict], toys: Trials | None = None) -> dict[int, Trials]:
    """The look-elsewhere correction of each injection's run: the toys' N_eff where toys of
    this configuration ran, else the Bonferroni bound over the run's tests (every window,
    selection, efficiency and signal model with a significance)."""
    tests: dict[int, int] = {}
    for r in rows:
        if r["status"] == "ok":
            tests[r["injection"]] = tests.get(r["injection"], 0) + 1
    return {injection: toys or bonferroni(n) for injection, n in tests.items()}


def _trials_line(trials: dict[int, Trials]) -> str:
    kinds = {t.method for t in trials.values()}
    if kinds == {"toys"}:
        t = next(iter(trials.values()))
        return (f"Z global: the local p-value corrected by the trials factor N_eff = {t.n_eff:.1f} "
                f"+- {t.n_eff_uncertainty:.1f} measured with whole-chain toys (results/toys/toys.md).")
    counts = ", ".join(f"{t.n_eff:.0f} ({injection} injected)" for injection, t in sorted(trials.items()))
    return ("Z global: a lower bound, from the Bonferroni bound p_global <= N p_local over the run's N tests "
            f"(windows x selections x efficiencies x signal models: {counts}); whole-chain toys (toys.n_toys) "
            "measure the trials factor instead.")


def limits_table(rows: list[dict], toys: Trials | None = None) -> str:
    """Markdown: per injection, signal model and selection, in the model's own window, with
    the global significance beside the local one (``toys``: a trials factor from toys)."""
    trials = trials_per_injection(rows, toys)
    lines = ["# Bump hunt: 95% CL limits on sigma x B and local significances", "",
             "Each signal model in the window that contains its mass. Limits in fb (and in signal events in the",
             "window); expected limits as median [-1 sigma, +1 sigma].", "", _luminosity_line(rows),
             "sigma x B is that of the generated signal model: for bumpfold's W', the resonance line shape "
             "truncated at +-25 % of its pole mass.", "", _trials_line(trials), "",
             "| injected | signal model | window | selection | efficiency | selected (window) | Z local | Z global "
             "| mu_hat [fb] | observed [fb] | expected [fb] | observed [events] |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted((r for r in rows if r["headline"]),
                    key=lambda r: (r["injection"], r["resonance_mass"], r["selection"], -float(r["efficiency"]))):
        head = (f"| {r['injection']} | {r['signal_model']} | {r['window']} | {r['selection']} | {r['efficiency']} "
                f"| {'n/a' if r.get('n_selected_window') is None else r['n_selected_window']} |")
        if r["status"] != "ok":
            lines.append(f"{head} {r['status']} | | | | | |")
            continue
        e = r["limit_exp_fb"] or [None] * 5
        z_global = trials[r["injection"]].global_z(r["local_significance"])
        lines.append(f"{head} {r['local_significance']:.2f} | {z_global:.2f} | {_fmt(r['mu_hat_fb'])} "
                     f"| {_fmt(r['limit_obs_fb'])} "
                     f"| {_fmt(e[2])} [{_fmt(e[1])}, {_fmt(e[3])}] | {_fmt(r['limit_obs_events'])} |")
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        lines += ["", f"{len(failed)} (window, selection, efficiency, model) combinations failed; reasons in "
                  "summary.json."]
    return "\n".join(lines) + "\n"
