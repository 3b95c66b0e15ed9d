"""Bump-hunt calibration and speed on the outputs of `make run` (config/config.yaml).

1. Background-only pseudo-experiments: Poisson toys of the background fit of each window's
   selected (each fitted method, at --efficiency) and inclusive spectra of the no-injection run, refitted with the
   F-test and the pyhf model: the signed local significance should be N(0, 1).
2. Injection linearity at the fit level: the window's own signal template injected into
   toys at increasing strength; slope of fitted vs. injected signal events.
3. Expected limits: asymptotic vs. toys (pyhf, qtilde) for one workspace.
4. Speed: every bumphunt_window job of the default config rerun through Snakemake on all
   cores (wall), and the sum of the per-job times.

Usage: python scripts/bench/bench_bumphunt.py [--toys 300] [--output docs/benchmarks/bumphunt.md]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyhf

from bumpfold.bumphunt.model import WindowCounts, signed_significance, upper_limits, workspace_spec
from bumpfold.bumphunt.spectrum import Binning, bin_integrals, fit_background

ROOT = Path(__file__).resolve().parents[2]


def _window_counts(observed, edges, in_window, signal, sqrt_s):
    fit = fit_background(observed, edges, ~in_window, sqrt_s=sqrt_s)
    return WindowCounts("toy", observed[in_window], fit.predict(edges)[in_window],
                        [(u[in_window], d[in_window]) for u, d in fit.eigen_variations(edges)], signal[in_window])


def pseudo_experiments(rows, binning, sqrt_s, n_toys, rng):
    """Toys from each headline row's fitted background (whole range), refitted."""
    edges = binning.edges
    z_all = []
    for r in rows:
        window = tuple(float(v) for v in r["window"].removeprefix("sr").split("_"))
        in_window = binning.window_mask(*window)
        expected = bin_integrals(np.array(r["fit"]["params"]), edges, sqrt_s)
        template = np.zeros(len(edges) - 1)
        template[in_window] = r["signal_template"]
        for _ in range(n_toys):
            c = _window_counts(rng.poisson(expected).astype(float), edges, in_window, template, sqrt_s)
            z_all.append(signed_significance(workspace_spec(c), c)[1])
    return np.array(z_all)


def _fix_pyhf_percentile() -> None:
    """pyhf 0.7.6's numpy backend calls np.percentile(interpolation=...), which numpy 2.4
    removed (renamed ``method``); toy-based expected p-values need it. Our asymptotic
    inference never calls it."""
    from pyhf.tensor.numpy_backend import numpy_backend

    numpy_backend.percentile = lambda self, t, q, axis=None, interpolation="linear": np.percentile(
        t, q, axis=axis, method=interpolation)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--toys", type=int, default=300, help="pseudo-experiments per spectrum")
    parser.add_argument("--limit-toys", type=int, default=300, help="toys per mu point for the toy-based limit")
    parser.add_argument("--output", type=Path, help="write the results to this markdown file (docs/benchmarks/NAME.md)")
    parser.add_argument("--selection", default="lacathode", help="method of the linearity and limit checks")
    parser.add_argument("--efficiency", default="0.1", help="selection efficiency of the checks (at no injection "
                        "a 1%% selection keeps too few signal MC events for a template)")
    args = parser.parse_args()
    pyhf.set_backend("numpy", "scipy")
    _fix_pyhf_percentile()
    summary = json.loads((ROOT / "results/bumphunt/summary.json").read_text())["rows"]
    sqrt_s = 13000.0
    binning = Binning(2800.0, 5500.0, 100.0)
    edges = binning.edges
    rng = np.random.default_rng(2026)
    lines = [f"### Bump hunt calibration and speed, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
             f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}` on the outputs of `make run`",
             f"- machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"]

    # 1. background-only pseudo-experiments from the no-injection run's fits
    base = [r for r in summary if r["injection"] == 0 and r["status"] == "ok" and r["headline"]
            and r["efficiency"] in ("1", args.efficiency)]
    for r in base:
        ws = json.loads((ROOT / f"results/bumphunt/inj0/{r['window']}/workspaces/{r['selection']}/"
                                f"eff{r['efficiency']}_{r['signal_model']}.json").read_text())
        r["signal_template"] = np.array(ws["channels"][0]["samples"][0]["data"])
    t0 = time.perf_counter()
    z = pseudo_experiments(base, binning, sqrt_s, args.toys, rng)
    lines += ["", f"**Background-only pseudo-experiments**: {args.toys} Poisson toys from each of the {len(base)} "
              f"background fits of the no-injection run (every window; each fitted method at efficiency {args.efficiency} "
              "and inclusive), each refitted "
              "(F-test, dijet fit outside the window, pyhf inside):", "",
              "| toys | mean Z | std Z | fraction Z > 2 | fraction Z > 3 | N(0,1) expects |", "|---|---|---|---|---|---|",
              f"| {len(z)} | {z.mean():.3f} | {z.std():.3f} | {(z > 2).mean():.4f} | {(z > 3).mean():.4f} "
              f"| 0, 1, 0.0228, 0.0013 |", "",
              f"({time.perf_counter() - t0:.0f} s.) Observed in the no-injection run itself (all windows, selections "
              f"and efficiencies): max local significance "
              f"{max(r['local_significance'] for r in summary if r['injection'] == 0 and r['status'] == 'ok'):.2f}."]

    # 2. linearity: the 3.5 TeV template injected into toys of the SR window's fit at --efficiency
    r = next(r for r in base if r["window"] == "sr3300_3700" and r["selection"] == args.selection)
    in_window = binning.window_mask(3300.0, 3700.0)
    expected = bin_integrals(np.array(r["fit"]["params"]), edges, sqrt_s)
    template = np.zeros(len(edges) - 1)
    template[in_window] = r["signal_template"]
    shape = template / template.sum()
    strengths = [0, 10, 20, 40, 80]
    fitted = []
    for n in strengths:
        values = []
        for _ in range(50):
            c = _window_counts(rng.poisson(expected + n * shape).astype(float), edges, in_window, template, sqrt_s)
            values.append(signed_significance(workspace_spec(c), c)[0] * template.sum())
        fitted.append(float(np.mean(values)))
    slope = np.polyfit(strengths, fitted, 1)[0]
    lines += ["", "**Injection linearity** (fit level; 50 toys per point "
              f"from the 3.3-3.7 TeV {args.selection} {args.efficiency} background fit, "
              "3.5 TeV template injected):", "",
              "| injected signal events | " + " | ".join(str(n) for n in strengths) + " |",
              "|---|" + "---|" * len(strengths),
              "| mean fitted | " + " | ".join(f"{v:.1f}" for v in fitted) + " |", "",
              f"slope {slope:.3f}. Full pipeline (selection included), from the summary: fitted vs. true selected "
              "signal events in the window:"]
    for r in summary:
        if r["injection"] > 0 and r["status"] == "ok" and r["headline"] and r["signal_model"] == "wprime_3500_500_100":
            lines.append(f"- {r['selection']} eff {r['efficiency']}: fitted {r['mu_hat_events']:.1f}, "
                         f"true {r['n_signal_true_window']}, Z = {r['local_significance']:.2f}")

    # 3. asymptotic vs. toy-based expected limit, one workspace
    ws_path = ROOT / f"results/bumphunt/inj0/sr3300_3700/workspaces/{args.selection}/eff{args.efficiency}_wprime_3500_500_100.json"
    spec = json.loads(ws_path.read_text())
    samples = spec["channels"][0]["samples"]
    c = WindowCounts("limit", np.array(spec["observations"][0]["data"]), np.array(samples[1]["data"]), [],
                     np.array(samples[0]["data"]))
    t0 = time.perf_counter()
    asym_obs, asym_exp = upper_limits(spec, c)
    t_asym = time.perf_counter() - t0
    t0 = time.perf_counter()
    toy_obs, toy_exp = upper_limits(spec, c, calctype="toybased", ntoys=args.limit_toys, points=8)
    t_toys = time.perf_counter() - t0
    lines += ["", f"**Limits, asymptotic vs. toys** (`{ws_path.relative_to(ROOT)}`, qtilde, {args.limit_toys} toys "
              "per mu point, 8 points):", "",
              "| | observed [fb] | expected median [fb] | -1 sigma | +1 sigma | time [s] |", "|---|---|---|---|---|---|",
              f"| asymptotic | {asym_obs:.2f} | {asym_exp[2]:.2f} | {asym_exp[1]:.2f} | {asym_exp[3]:.2f} | {t_asym:.1f} |",
              f"| toys | {toy_obs:.2f} | {toy_exp[2]:.2f} | {toy_exp[1]:.2f} | {toy_exp[3]:.2f} | {t_toys:.0f} |",
              "", f"ratio of medians toys/asymptotic: {toy_exp[2] / asym_exp[2]:.3f}"]

    # 4. speed of the full scan
    jobs = sorted((ROOT / "results/bumphunt").glob("inj*/sr*/*.json"))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", "all", "--forcerun", "bumphunt_window",
                    "--quiet", "all"], cwd=ROOT, check=True)
    wall = time.perf_counter() - t0
    per_job = [float((ROOT / "benchmarks/bumphunt_window" / f"{p.parent.parent.name}_{p.parent.name}_{p.stem}.tsv")
                     .read_text().splitlines()[1].split("\t")[0]) for p in jobs]
    lines += ["", f"**Speed**: the full scan of the default config ({len(jobs)} bumphunt_window jobs: injections x "
              "windows x (fitted methods + inclusive), each with every efficiency and signal model) plus the summary, "
              f"rerun with `snakemake --cores all --forcerun bumphunt_window`: **{wall:.0f} s wall** on "
              f"this machine; per job median {np.median(per_job):.1f} s, sum {sum(per_job):.0f} s.", ""]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        with open(args.output, "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
