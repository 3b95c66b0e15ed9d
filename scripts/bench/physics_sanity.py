"""Physics sanity numbers from a finished default run (results/), as markdown.

    .venv/bin/python scripts/bench/physics_sanity.py [--results results] [--output docs/benchmarks/physics_sanity.md]

Signal m_jj peak, jet-mass peaks, tau21 means, QCD m_jj shape, reco/particle-level jet mass
resolution: the same quantities the tests check at small scale, here at default scale. And
the fidelity figures of issue 18 in the 3.3-3.7 TeV SR, beside the Pythia + Delphes LHC
Olympics reference values that issue quotes: tau21 of the lighter QCD jet, the signal's
heavier-jet mass, and the QCD sample's pTHat near the generator cut.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import sys

import awkward as ak
import numpy as np
import pandas as pd
import uproot

from report import emit  # noqa: E402  (scripts/bench/report.py)


def mode(values, bins) -> float:
    counts, edges = np.histogram(values, bins=bins)
    i = int(np.argmax(counts))
    return 0.5 * (edges[i] + edges[i + 1])


def _fidelity(results: str, qcd: pd.DataFrame, sig: pd.DataFrame, m_high: pd.Series) -> list[str]:
    """Rows of issue 18's fidelity figures (SR 3.3-3.7 TeV)."""
    sr_q, sr_s = qcd[(qcd.mjj > 3300) & (qcd.mjj < 3700)], (sig.mjj > 3300) & (sig.mjj < 3700)
    pthat, floor = [], None
    for path in sorted(glob.glob(f"{results}/samples/qcd/chunk*.root")):
        with uproot.open(path) as f:
            ev = f["Events"].arrays(["FatJet_pt", "FatJet_eta", "Generator_binvar"])
            floor = json.loads(f["provenance"])["process"]["pthat_min"]
        pt = ev.FatJet_pt[np.abs(ev.FatJet_eta) < 2.5]
        selected = ak.to_numpy((ak.num(pt) >= 2) & (ak.fill_none(ak.max(pt, axis=1), 0) > 1200.0))
        pthat.append(ak.to_numpy(ev.Generator_binvar)[selected])
    pthat = np.concatenate(pthat)
    return [*_mjj_edges(results),
        f"| SR QCD lighter jet: tau21 > 1 / > 0.8 / max ({len(sr_q)} events) | {100 * (sr_q.tau21_low > 1).mean():.2f} % / "
        f"{100 * (sr_q.tau21_low > 0.8).mean():.1f} % / {sr_q.tau21_low.max():.3f} | reference 0 % / 9.0 % / 0.98 |",
        f"| SR signal: heavier jet below 300 GeV ({int(sr_s.sum())} events) | {100 * (m_high[sr_s] < 300).mean():.1f} % | "
        "reference 5.7 % |",
        f"| selected QCD with pTHat < 1.1 x pthat_min ({floor:.0f} GeV) / < 1.1 TeV ({len(pthat)} events) | "
        f"{100 * (pthat < 1.1 * floor).mean():.2f} % / {100 * (pthat < 1100).mean():.1f} % | < 1 % / (26 % missed "
        "by the former floor) |",
    ]


def _mjj_edges(results: str) -> list[str]:
    """SR m_jj samples over SR data in the first and last 5 GeV of the 3.3-3.7 TeV window:
    the logit-space KDE used now against a linear KDE cut to the window (the former)."""
    from scipy.stats import gaussian_kde

    from bumpfold.regions import Window
    from bumpfold.search.sampling import sample_mjj

    table = pd.read_parquet(f"{results}/search/inj0/datasets.parquet")
    window = Window(3300.0, 3700.0, 2800.0, 5500.0)
    data = table.mjj[(table.role == "data") & window.in_sr(table.mjj.to_numpy())].to_numpy()
    n = 40 * len(data)
    logit_kde = sample_mjj(data, n, window, seed=1)
    draw = gaussian_kde(data).resample(3 * n, seed=np.random.default_rng(1)).ravel()
    linear = draw[window.in_sr(draw)][:n]

    def ratios(samples):
        return " / ".join(f"{np.mean((samples >= lo) & (samples < lo + 5)) / np.mean((data >= lo) & (data < lo + 5)):.2f}"
                          for lo in (3300.0, 3695.0))

    return [f"| SR m_jj samples / data in the first / last 5 GeV ({len(data)} SR data events, 40x samples) | "
            f"{ratios(logit_kde)} (logit-space KDE) | 1; a linear KDE cut to the window gives {ratios(linear)} |"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default="results")
    ap.add_argument("--signal", default="wprime_3500_500_100")
    ap.add_argument("--output")
    args = ap.parse_args()
    sig = pd.read_parquet(f"{args.results}/skim/{args.signal}.parquet")
    qcd = pd.read_parquet(f"{args.results}/skim/qcd.parquet")
    m_high = sig.mj_low + sig.delta_mj
    counts, edges = np.histogram(qcd.mjj, bins=np.arange(2800, 5201, 200))

    reco, gen = [], []
    for path in sorted(glob.glob(f"{args.results}/samples/qcd/chunk*.root"))[:4]:
        ev = uproot.open(path)["Events"].arrays(["FatJet_mass", "FatJet_genJetAK8Idx", "GenJetAK8_mass"])
        ok = ev.FatJet_genJetAK8Idx >= 0
        reco.append(ak.to_numpy(ak.flatten(ev.FatJet_mass[ok])))
        gen.append(ak.to_numpy(ak.flatten(ev.GenJetAK8_mass[ev.FatJet_genJetAK8Idx[ok]])))
    reco, gen = np.concatenate(reco), np.concatenate(gen)
    heavy = gen > 50
    rel = reco[heavy] / gen[heavy] - 1
    width = 0.5 * (np.percentile(rel, 84) - np.percentile(rel, 16))

    fidelity = _fidelity(args.results, qcd, sig, m_high)
    lines = [
        f"### Physics sanity at default scale, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- command: `{' '.join([sys.executable.split('/')[-1]] + sys.argv)}` on the outputs of `make run`",
        f"- events after skim: QCD {len(qcd)}, signal {len(sig)}",
        "",
        "| quantity | measured | expectation |",
        "|---|---|---|",
        f"| signal m_jj peak (100 GeV bins) | {mode(sig.mjj, np.arange(2500, 4500, 100)):.0f} GeV | 3500 GeV within 5% |",
        f"| signal m_jj median / 16-84% | {sig.mjj.median():.0f} / {sig.mjj.quantile(.16):.0f}-{sig.mjj.quantile(.84):.0f} GeV | |",
        f"| signal lighter-jet mass peak (10 GeV bins) | {mode(sig.mj_low, np.arange(0, 800, 10)):.0f} GeV | 100 GeV within 15% |",
        f"| signal heavier-jet mass peak (10 GeV bins) | {mode(m_high, np.arange(0, 800, 10)):.0f} GeV | 500 GeV within 15% |",
        f"| mean tau21 lighter / heavier jet, signal | {sig.tau21_low.mean():.3f} / {sig.tau21_high.mean():.3f} | below QCD |",
        f"| mean tau21 lighter / heavier jet, QCD | {qcd.tau21_low.mean():.3f} / {qcd.tau21_high.mean():.3f} | |",
        f"| QCD m_jj counts, 200 GeV bins from 2.8 TeV | {', '.join(map(str, counts))} | falling |",
        f"| QCD m_jj bins that rise above 2.8 TeV | {int((np.diff(counts) > 0).sum())} of {len(counts) - 1} | 0 (statistics permitting) |",
        f"| reco/particle jet mass, m_gen > 50 GeV: median, half 16-84% width | {np.median(rel):+.3f}, {width:.3f} | few % to ~15% |",
        f"| matched reco jets used | {heavy.sum()} | |",
        *fidelity,
    ]
    text = "\n".join(lines) + "\n"
    emit(text, args.output)


if __name__ == "__main__":
    main()
