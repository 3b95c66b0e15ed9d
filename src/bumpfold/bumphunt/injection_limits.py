"""CASE's limits for selections that learn from the data (CMS-PAS-EXO-22-026).

A weakly supervised classifier selects a signal only if the data it trained on held enough of
it, so its signal efficiency depends on the cross section being tested. What bumpfold does,
per signal model, selection and efficiency:

1. Inject the model's skimmed events into the data at each size n_i of
   ``bumphunt.injection_limits.injections`` (same background events as the run without
   injection), rerun the search in the window that holds the model's mass, and measure the
   selected signal in the window per generated event, eps_i (on the model's events that no
   classifier trained on). The injected cross section is sigma_i = n_i / (L A), A being the
   skim's acceptance of the model. The run without injection gives eps_0 at sigma = 0.
2. Interpolate eps(sigma) linearly between the scan points; the selected signal a cross
   section sigma would leave in the window is s(sigma) = sigma L eps(sigma).
3. The data's upper limit on signal events in the window, N_95, comes from the run without
   injection (observed, and the expected band's five quantiles).
4. The excluded cross section is the smallest sigma with s(sigma) >= N_95: a signal that
   large would have trained a classifier that selects enough of it to be excluded. Above the
   largest injection nothing is extrapolated: "not excluded up to sigma_max".

The inclusive selection does not learn, so its eps is the same at every sigma and the
crossing is its ordinary limit. What this leaves out: the limits in events come from the
model's selected shape in the run without injection; the scan's eps_i has the statistical
uncertainty of one training per point (repeated trainings per point would average it out).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bumpfold.bumphunt.summary import headline_windows
from bumpfold.errors import BumpfoldInputError
from bumpfold.io.atomic import atomic_path, write_json
from bumpfold.registry import INCLUSIVE

BELOW_SMALLEST = "below the smallest injection"


@dataclass(frozen=True)
class ScanPoint:
    """One run of the scan: the injected cross section [fb] (0: no injection) and the selected
    signal in the window per generated event that the run's classifiers gave."""

    sigma_fb: float
    window_efficiency: float


@dataclass(frozen=True)
class Crossing:
    """The excluded cross section [fb], or None with why (not reached in the scan)."""

    sigma_fb: float | None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"sigma_fb": self.sigma_fb, "note": self.note}


def excluded_cross_section(points: Sequence[ScanPoint], limit_events: float, luminosity_fb: float) -> Crossing:
    """The smallest sigma with sigma L eps(sigma) >= ``limit_events``, eps linear between
    ``points`` (sorted by sigma, the first at sigma 0)."""
    if not points or points[0].sigma_fb != 0.0:
        raise BumpfoldInputError("injection scan: the first point must be the run without injection (sigma 0)")
    if any(b.sigma_fb <= a.sigma_fb for a, b in zip(points, points[1:], strict=False)):
        raise BumpfoldInputError("injection scan: injected cross sections must increase")
    if not (limit_events > 0 and luminosity_fb > 0):
        raise BumpfoldInputError(f"injection scan: limit {limit_events} events and luminosity {luminosity_fb} "
                                 "fb^-1 must be positive")
    target = limit_events / luminosity_fb  # sigma x eps to reach [fb]
    if len(points) == 1:  # a selection that does not learn: one efficiency at every sigma
        eps = points[0].window_efficiency
        return Crossing(target / eps) if eps > 0 else Crossing(None, "no selected signal in the window")
    for a, b in zip(points, points[1:], strict=False):
        if b.sigma_fb * b.window_efficiency >= target:
            # below the smallest injection eps is interpolated from the run without signal:
            # where it jumps there, a smaller injection would pin the crossing down
            note = BELOW_SMALLEST if a.sigma_fb == 0.0 else ""
            return Crossing(_root_in_segment(a, b, target), note)
    top = points[-1].sigma_fb
    return Crossing(None, f"not excluded up to {top:.3g} fb (the largest injection)")


def _root_in_segment(a: ScanPoint, b: ScanPoint, target: float) -> float:
    """sigma in [a, b] where sigma eps(sigma) = target, eps linear in sigma: the root of
    k sigma^2 + c sigma - target with k the slope of eps; sigma eps rises through the target
    here, so bisection on the monotone bracket is exact to float precision."""
    def excess(sigma: float) -> float:
        t = (sigma - a.sigma_fb) / (b.sigma_fb - a.sigma_fb)
        return sigma * (a.window_efficiency + t * (b.window_efficiency - a.window_efficiency)) - target

    low, high = a.sigma_fb, b.sigma_fb
    if excess(low) >= 0:  # already excluded at a (only when a is not the first point)
        return low
    for _ in range(200):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if excess(mid) < 0 else (low, mid)
    return 0.5 * (low + high)


def injected_cross_section(n_injected: int, cutflow: dict[str, Any], luminosity_fb: float, model: str) -> float:
    """sigma x B [fb] that ``n_injected`` skimmed events of a model stand for: n / (L A), A the
    skim's acceptance (skimmed / generated) from the model's cutflow."""
    generator = cutflow.get("generator") or {}
    n_generated = float(generator.get("n_generated", 0))
    n_skimmed = float(cutflow["cutflow"][cutflow["cuts"][-1]])
    if not (n_generated > 0 and n_skimmed > 0):
        raise BumpfoldInputError(f"signal model {model}: its cutflow has {n_generated:g} generated and "
                                 f"{n_skimmed:g} skimmed events; the scan needs both")
    return n_injected * n_generated / (n_skimmed * luminosity_fb)


def generator_cross_section(cutflow: dict[str, Any]) -> float | None:
    """The model's generator sigma x B [fb] (its truncated line shape and forced decays)."""
    sigma_pb = (cutflow.get("generator") or {}).get("cross_section_pb")
    return None if sigma_pb is None else 1000.0 * float(sigma_pb)


@dataclass
class ModelLimits:
    """One (signal model, selection, efficiency): the scan and its excluded cross sections."""

    signal_model: str
    selection: str
    efficiency: str
    window: str
    luminosity_fb: float
    points: list[ScanPoint]
    observed: Crossing
    expected: list[Crossing]  # at -2, -1, 0, +1, +2 sigma
    info: dict[str, Any] = field(default_factory=dict)  # topology and masses

    def as_dict(self) -> dict[str, Any]:
        return {"signal_model": self.signal_model, "selection": self.selection, "efficiency": self.efficiency,
                "window": self.window, "luminosity_fb": self.luminosity_fb, **self.info,
                "scan": [{"sigma_fb": p.sigma_fb, "window_efficiency": p.window_efficiency} for p in self.points],
                "observed": self.observed.as_dict(), "expected": [c.as_dict() for c in self.expected]}


def scan_limits(rows: list[dict], *, cutflows: dict[str, dict], info: dict[str, dict]) -> tuple[list[ModelLimits],
                                                                                                 list[dict]]:
    """Bump-hunt rows of the run without injection and of the scan runs, in each model's
    window, to limits per (model, selection, efficiency); also the combinations that could
    not be scanned, each with its reason."""
    limits, failed = [], []
    data_rows = [r for r in rows if r.get("injected_model") is None and r["injection"] == 0 and r.get("toy") is None]
    # each model in the window of its mass (the rows of the run without injection hold every window)
    windows = headline_windows(data_rows, {m: i["m_resonance"] for m, i in info.items() if "m_resonance" in i})
    base_rows = {(r["signal_model"], r["selection"], r["efficiency"]): r for r in data_rows
                 if windows.get(r["signal_model"], r["window"]) == r["window"]}
    for key, base in sorted(base_rows.items()):
        model, selection, efficiency = key
        if model not in info:
            continue
        scan = [r for r in rows if r.get("injected_model") == model and r["selection"] == selection
                and r["efficiency"] == efficiency and r["window"] == base["window"]]
        reason = _unusable(base, scan, selection)
        if reason is not None:
            failed.append({"signal_model": model, "selection": selection, "efficiency": efficiency,
                           "window": base["window"], "status": f"failed: {reason}"})
            continue
        lumi = float(base["luminosity_fb"])
        points = [ScanPoint(0.0, float(base["signal_window_efficiency"]))]
        for r in sorted(scan if selection != INCLUSIVE else [], key=lambda r: r["injection"]):
            points.append(ScanPoint(injected_cross_section(r["injection"], cutflows[model], lumi, model),
                                    float(r["signal_window_efficiency"])))
        limits.append(ModelLimits(
            model, selection, efficiency, base["window"], lumi, points,
            observed=excluded_cross_section(points, base["limit_obs_events"], lumi),
            expected=[excluded_cross_section(points, n, lumi) for n in base["limit_exp_events"]],
            info={**info[model], "generator_sigma_fb": generator_cross_section(cutflows[model])}))
    return limits, failed


def _unusable(base: dict, scan: list[dict], selection: str) -> str | None:
    if base["status"] != "ok":
        return f"the run without injection: {base['status']}"
    if base.get("luminosity_fb") is None:
        return "the data have no luminosity (declare datasets.<data>.luminosity_fb): no cross sections"
    if selection == INCLUSIVE:
        return None  # it does not learn: its efficiency is the run without injection's
    if not scan:
        return "no scan run has this selection"
    bad = [r for r in scan if r["status"] != "ok" and "signal_window_efficiency" not in r]
    if bad:
        return f"scan run {bad[0]['injection']}: {bad[0]['status']}"
    return None


def read_rows(paths: Sequence[str | Path]) -> list[dict]:
    return [row for path in paths for row in json.loads(Path(path).read_text())["rows"]]


def _fmt(c: Crossing) -> str:
    if c.sigma_fb is None:
        return "n/a"
    return f"{c.sigma_fb:.3g}" + ("*" if c.note == BELOW_SMALLEST else "")


def limits_table(limits: list[ModelLimits], failed: list[dict]) -> str:
    """Markdown: the excluded cross section per model, selection and efficiency."""
    lines = ["# Limits from injection scans (CASE's procedure)", "",
             "Each signal model injected into the data at each scanned cross section, the search rerun in the "
             "model's window; the excluded sigma x B is where the injected signal would be excluded "
             "(docs/statistics.md). Expected: median [-1 sigma, +1 sigma]. Generator: the model's sigma x B "
             "from Pythia (line shape truncated to 0.75-1.25 of the pole mass, forced decays). Selected signal "
             "in the window per generated event at each injected sigma x B in the last column. *: the crossing "
             "lies between the run without injection and the smallest injection, where eps is interpolated.", "",
             "| signal model | topology | generator [fb] | window | selection | efficiency | observed [fb] "
             "| expected [fb] | eps(sigma [fb]) |", "|---|---|---|---|---|---|---|---|---|"]
    for lim in sorted(limits, key=lambda x: (x.info.get("m_resonance", 0), x.signal_model, x.selection,
                                             -float(x.efficiency))):
        e = lim.expected
        scan = ", ".join(f"{p.window_efficiency:.3g} ({p.sigma_fb:.3g})" for p in lim.points)
        observed = _fmt(lim.observed) if lim.observed.sigma_fb is not None else lim.observed.note
        expected = (f"{_fmt(e[2])} [{_fmt(e[1])}, {_fmt(e[3])}]" if e[2].sigma_fb is not None else e[2].note)
        generator = lim.info.get("generator_sigma_fb")
        lines.append(f"| {lim.signal_model} | {lim.info.get('topology', '')} "
                     f"| {'n/a' if generator is None else f'{generator:.3g}'} | {lim.window} | {lim.selection} "
                     f"| {lim.efficiency} | {observed} | {expected} | {scan} |")
    by_reason: dict[str, list[str]] = {}
    for f in failed:
        by_reason.setdefault(f["status"], []).append(f"{f['signal_model']} {f['selection']} {f['efficiency']}")
    if by_reason:
        lines += ["", "Not scanned:"]
        lines += [f"- {len(which)} x {reason} ({', '.join(which[:3])}{', ...' if len(which) > 3 else ''})"
                  for reason, which in sorted(by_reason.items())]
    return "\n".join(lines) + "\n"


def summarize(results: Sequence[str | Path], cutflows: dict[str, str | Path], info: dict[str, dict], *,
              output: str | Path, table: str | Path) -> list[ModelLimits]:
    """The scan's limits from the bump-hunt result files: summary JSON and markdown table."""
    cutflow = {model: json.loads(Path(path).read_text()) for model, path in cutflows.items()}
    limits, failed = scan_limits(read_rows(results), cutflows=cutflow, info=info)
    if not limits:
        reasons = "; ".join(f"{f['signal_model']} {f['selection']} {f['efficiency']}: {f['status']}" for f in failed)
        raise BumpfoldInputError(f"injection scan: no limit could be set ({reasons or 'no rows'})")
    write_json({"limits": [lim.as_dict() for lim in limits], "failed": failed}, output)
    with atomic_path(table) as tmp:
        tmp.write_text(limits_table(limits, failed))
    return limits
