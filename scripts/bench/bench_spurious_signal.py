"""Spurious signal: the bias of the dijet fit function on a high-statistics background
spectrum that is not the fit function (generated QCD), per window, as the S+B fit's signal
in the window where there is none. Also with the fit range starting higher and with a
|delta eta_jj| cut (CMS dijet searches: 1.3), which both move away from the region the
leading-jet pT cut bends.

    .venv/bin/python scripts/bench/bench_spurious_signal.py --background BIG_QCD.parquet \\
        --signal wprime_3500_500_100=results/skim/wprime_3500_500_100.parquet [...] \\
        --data-events 16000 [--config config/config.yaml] [--output docs/benchmarks/spurious_signal.md]

For each window, the selected signal model is the one whose mass the window contains. The
fit is the workflow's (bumpfold.bumphunt.spectrum, F-test) on the inclusive spectrum outside
the window; the S+B pyhf fit is the workflow's model (bumpfold.bumphunt.model). S_spur is
quoted in events and as a fraction f of the fitted background in the window
(`bumphunt.spurious_signal` takes f); sigma_S is the signal's statistical uncertainty
1/sqrt(sum t_i^2/B_i) for the template t (one event in the window), without the fit's own
uncertainty. At the data's size (``--data-events`` in the m_jj range) S_spur scales with the
events and sigma_S with their square root.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import emit  # noqa: E402

from bumpfold.bumphunt.model import WindowCounts, infer  # noqa: E402
from bumpfold.bumphunt.spectrum import Binning, fit_background  # noqa: E402
from bumpfold.config import load_config  # noqa: E402
from bumpfold.errors import BumpfoldInputError  # noqa: E402
from bumpfold.regions import windows_from_config  # noqa: E402


def spurious(mjj: np.ndarray, signal_mjj: np.ndarray, *, low: float, high: float, window_low: float,
             window_high: float, bin_width: float, fit: dict, sqrt_s: float) -> dict:
    binning = Binning(low, high, bin_width)
    edges = binning.edges
    in_window = binning.window_mask(window_low, window_high)
    counts = binning.histogram(mjj)
    bkg_fit = fit_background(counts, edges, ~in_window, sqrt_s=sqrt_s, **fit)
    template = binning.histogram(signal_mjj)
    template = template / template[in_window].sum()
    background = bkg_fit.predict(edges)[in_window]
    _, result = infer(WindowCounts(name="spurious", data=counts[in_window], background=background,
                                   variations=[(u[in_window], d[in_window]) for u, d in bkg_fit.eigen_variations(edges)],
                                   signal=template[in_window]))
    sigma = 1.0 / np.sqrt(np.sum(template[in_window] ** 2 / background))
    n_range = int(((mjj >= low) & (mjj < high)).sum())
    return {"s_spur": result.mu_hat, "sigma": float(sigma), "background": float(background.sum()),
            "n_params": bkg_fit.n_params, "z": result.local_significance, "n_range": n_range}


def _range_counts(qcd: pd.DataFrame, args: argparse.Namespace, high: float) -> dict[str, int]:
    """Background events in each fit range, with and without the |delta eta| cut."""
    out = {}
    for cut in (None, args.delta_eta_max):
        sel = qcd if cut is None else qcd[qcd.delta_eta_jj.abs() < cut]
        for low in args.range_lows:
            out[f"{low:g}-{high:g}{'' if cut is None else f', |delta eta| < {cut:g}'}"] = int(
                ((sel.mjj >= low) & (sel.mjj < high)).sum())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--background", type=Path, required=True, help="skimmed high-statistics QCD (parquet)")
    p.add_argument("--signal", action="append", default=[], help="NAME=PATH of a signal model's skim (repeat)")
    p.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    p.add_argument("--data-events", type=int, required=True, help="events of the analysed data in the m_jj range")
    p.add_argument("--range-lows", type=float, nargs="+", default=[2800.0, 3000.0])
    p.add_argument("--delta-eta-max", type=float, default=1.3)
    p.add_argument("--output", type=Path)
    args = p.parse_args()
    config = load_config(args.config)
    fit = config["bumphunt"]["fit"]
    sqrt_s = config["generation"]["sqrt_s"]
    processes = config["generation"]["processes"]
    signals = {}
    for item in args.signal:
        name, path = item.split("=", 1)
        signals[name] = (processes[config["datasets"][name]["process"]]["m_resonance"], pd.read_parquet(path))
    qcd = pd.read_parquet(args.background)
    high = config["regions"]["mjj_range"][1]
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    lines = [f"### Spurious signal of the dijet fit, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
             f"- command: `python scripts/bench/bench_spurious_signal.py --background QCD --signal ... --data-events "
             f"{args.data_events}` at {commit} ({platform.machine()}, Python {platform.python_version()}); "
             f"background: {len(qcd)} skimmed QCD events ({args.background.name}), the inclusive spectrum, "
             f"{config['bumphunt']['bin_width']:g} GeV bins, F-test {fit['min_params']}-{fit['max_params']} parameters",
             "- S_spur: the S+B fit's signal [events] on background alone, +- sigma_S its statistical uncertainty; "
             "f = S_spur / fitted background in the window; last column: S_spur / sigma_S scaled to data of "
             f"{args.data_events} events in the range",
             "- signal model: the one whose mass the window contains; events in the range: "
             + ", ".join(f"{n} ({label})" for label, n in _range_counts(qcd, args, high).items()),
             "", "| window | fit range [GeV] | \\|delta eta\\| cut | parameters | S_spur +- sigma_S [events] | f | "
             "at the data's size: S_spur / sigma_S |",
             "|---|---|---|---:|---:|---:|---:|"]
    for w in windows_from_config(config["regions"]):
        model = next((n for n, (mass, _) in signals.items() if w.low <= mass < w.high), None)
        if model is None:
            continue
        for cut in (None, args.delta_eta_max):
            sel = qcd if cut is None else qcd[qcd.delta_eta_jj.abs() < cut]
            sig = signals[model][1]
            sig = sig if cut is None else sig[sig.delta_eta_jj.abs() < cut]
            for low in args.range_lows:
                try:
                    r = spurious(sel.mjj.to_numpy(), sig.mjj.to_numpy(), low=low, high=high, window_low=w.low,
                                 window_high=w.high, bin_width=config["bumphunt"]["bin_width"], fit=fit,
                                 sqrt_s=sqrt_s)
                except BumpfoldInputError as exc:
                    lines.append(f"| {w.name} | {low:g}-{high:g} | {cut or 'none'} | | failed: {exc} | | |")
                    continue
                scale = args.data_events / r["n_range"]
                ratio_data = r["s_spur"] / r["sigma"] * np.sqrt(scale)
                lines.append(f"| {w.name} | {low:g}-{high:g} | {cut or 'none'} | {r['n_params']} | "
                             f"{r['s_spur']:+.0f} +- {r['sigma']:.0f} | {r['s_spur'] / r['background']:+.4f} | "
                             f"{ratio_data:+.2f} |")
    emit("\n".join(lines) + "\n", args.output)


if __name__ == "__main__":
    main()
