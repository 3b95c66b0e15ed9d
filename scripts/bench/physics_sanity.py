"""Physics sanity numbers from a finished default run (results/), as markdown.

    .venv/bin/python scripts/bench/physics_sanity.py [--results results] [--output BENCHMARKS.md]

Signal m_jj peak, jet-mass peaks, tau21 means, QCD m_jj shape, reco/particle-level jet mass
resolution: the same quantities the tests check at small scale, here at default scale.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
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
    ]
    text = "\n".join(lines) + "\n"
    emit(text, args.output)


if __name__ == "__main__":
    main()
