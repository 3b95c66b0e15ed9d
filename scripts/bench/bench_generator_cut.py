#!/usr/bin/env python
"""The QCD generator cut and the shower-jet filter: completeness, filter loss, production rate.

    .venv/bin/python scripts/bench/bench_generator_cut.py [--parts A B C] [--workers 2]
        [--events 20000] [--rate-events 3000] [--repeats 3] [--output docs/benchmarks/generator_cut.md]

A. Completeness. QCD generated at pTHatMin = --floor (400 GeV) with the default filter
   fraction (its loss is measured in B); of the events the skim selects (two jets in |eta| < 2.5, the leading
   one above 1.2 TeV at reco level) in the m_jj range 2.8-5.5 TeV, the share with pTHat below
   the default pthat_min (600 GeV), within 10 % above it, and below 1.1 TeV (the former
   floor).
B. Filter loss. QCD at pTHatMin 600 GeV with the filter recording but never vetoing: of the
   events production keeps (leading jet above 1.2 TeV at particle or reco level), how many
   have a shower jet below f x 1.2 TeV -- the events the filter at fraction f would lose --
   and the share of all events the filter at f lets through.
C. Production rate, one core: ``produce_chunk`` then the skim, in selected events in m_jj
   range per second, for the former setting (pTHatMin 1100 GeV, no filter) and pTHatMin
   600 GeV with the filter at each fraction; settings interleaved, medians of --repeats.

A and B run --workers processes of --events each (own seeds); C runs in this process.
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["NUMBA_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from multiprocessing import Pool  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from bumpfold.generate.detector import DetectorModel, simulate  # noqa: E402
from bumpfold.generate.jets import FoundJets, JetConfig, find_jets  # noqa: E402
from bumpfold.generate.production import ProductionConfig, ShowerFilter, produce_chunk  # noqa: E402
from bumpfold.generate.pythia import ProcessSpec, PythiaGenerator, ShowerJetVeto, pthat_of  # noqa: E402
from bumpfold.skim import Selection, skim_files  # noqa: E402
from report import emit  # noqa: E402  (scripts/bench/report.py)

CUT = 1200.0  # leading-jet pT cut [GeV]
MJJ_RANGE = (2800.0, 5500.0)
DEFAULT_FLOOR = 600.0
FRACTIONS = (0.8, 0.85, 0.9, 0.95)
BATCH = 500


def leading_two(jets: FoundJets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per event: leading jet pT, whether a second jet exists, m_jj of the two leading [GeV]."""
    k, event = jets.kinematics, jets.event_of
    order = np.lexsort((-k["pt"], event))
    event = event[order]
    first = np.r_[True, event[1:] != event[:-1]]
    rank = np.arange(len(event)) - np.maximum.accumulate(np.where(first, np.arange(len(event)), 0))
    lead, sub = order[rank == 0], order[rank == 1]
    pt1 = np.zeros(jets.n_events)
    pt1[event[rank == 0]] = k["pt"][lead]
    has_two = np.zeros(jets.n_events, dtype=bool)
    has_two[event[rank == 1]] = True
    mjj = np.zeros(jets.n_events)
    with_sub = np.isin(jets.event_of[lead], jets.event_of[sub])
    p = _p4(k, lead[with_sub]) + _p4(k, sub)
    mjj[jets.event_of[sub]] = np.sqrt(np.maximum(p[:, 3] ** 2 - (p[:, :3] ** 2).sum(axis=1), 0.0))
    return pt1, has_two, mjj


def _p4(k: dict, idx: np.ndarray) -> np.ndarray:
    pt, eta, phi, m = (k[f][idx] for f in ("pt", "eta", "phi", "mass"))
    return np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), np.sqrt((pt * np.cosh(eta)) ** 2 + m**2)], 1)


def worker(task: tuple[str, float, float, int, int]) -> np.ndarray:
    """Rows (pTHat, shower-jet pT, gen lead pT, reco lead pT, reco has 2 jets, reco m_jj)."""
    part, floor, pt_min, n_events, seed = task
    generator = PythiaGenerator(ProcessSpec("qcd", "qcd", pthat_min=floor), seed=seed,
                                shower_veto=ShowerJetVeto(pt_min=pt_min))
    rng = np.random.default_rng(seed)
    jets, rows, done = JetConfig(), [], 0
    while done < n_events:
        events = generator.raw_batch(BATCH)
        particles = generator.final_state(events)
        gen_pt, _, _ = leading_two(find_jets(particles, jets))
        reco_pt, has_two, mjj = leading_two(find_jets(simulate(particles, DetectorModel(), rng), jets))
        rows.append(np.column_stack([pthat_of(events), generator.shower_jet_pt(events), gen_pt, reco_pt,
                                     has_two, mjj]))
        done += particles.n_events
    return np.concatenate(rows)


def run_pool(part: str, floor: float, pt_min: float, args) -> np.ndarray:
    tasks = [(part, floor, pt_min, args.events, 1000 * (ord(part) - 64) + i) for i in range(args.workers)]
    with Pool(args.workers) as pool:
        return np.concatenate(pool.map(worker, tasks))


def part_a(args) -> str:
    start = time.perf_counter()
    rows = run_pool("A", args.floor, ShowerFilter().pt_fraction * CUT, args)
    pthat, _, _, reco_pt, has_two, mjj = rows.T
    selected = (reco_pt > CUT) & (has_two > 0) & (mjj > MJJ_RANGE[0]) & (mjj < MJJ_RANGE[1])
    p, n = pthat[selected], int(selected.sum())
    share = lambda mask: f"{mask.sum()} ({100 * mask.mean():.2f} %)"  # noqa: E731
    return "\n".join([
        f"#### A. Completeness: pTHatMin {args.floor:.0f} GeV, filter at {ShowerFilter().pt_fraction} ({len(rows)} events passing "
        f"the filter in {args.workers} jobs, {time.perf_counter() - start:.0f} s)",
        "",
        f"Selected (reco leading jet > {CUT:.0f} GeV, two jets, m_jj {MJJ_RANGE[0]:.0f}-{MJJ_RANGE[1]:.0f} GeV): {n} events.",
        "",
        "| pTHat | selected events |",
        "|---|---|",
        f"| < {DEFAULT_FLOOR:.0f} GeV (missed by the default pthat_min) | {share(p < DEFAULT_FLOOR)} |",
        f"| {DEFAULT_FLOOR:.0f}-{1.1 * DEFAULT_FLOOR:.0f} GeV (near the default cut) | "
        f"{share((p >= DEFAULT_FLOOR) & (p < 1.1 * DEFAULT_FLOOR))} |",
        f"| < 1100 GeV (missed by the former pthat_min) | {share(p < 1100)} |",
    ])


def part_b(args) -> str:
    start = time.perf_counter()
    rows = run_pool("B", DEFAULT_FLOOR, 0.0, args)
    _, shower, gen_pt, reco_pt, _, _ = rows.T
    kept = (gen_pt > CUT) | (reco_pt > CUT)
    ratio = shower[kept] / np.maximum(gen_pt, reco_pt)[kept]
    lines = [
        f"#### B. Filter loss: pTHatMin {DEFAULT_FLOOR:.0f} GeV, filter recording only ({len(rows)} events in "
        f"{args.workers} jobs, {time.perf_counter() - start:.0f} s)",
        "",
        f"Events production keeps (leading jet > {CUT:.0f} GeV at particle or reco level): {int(kept.sum())}. "
        f"Shower jet / final leading jet pT for them: minimum {ratio.min():.3f}, 0.1 % quantile "
        f"{np.quantile(ratio, 0.001):.3f}, median {np.median(ratio):.3f}.",
        "",
        "| fraction f | threshold | events through the filter | kept events it would lose |",
        "|---|---|---|---|",
    ]
    for f in FRACTIONS:
        lost = int((kept & (shower < f * CUT)).sum())
        lines.append(f"| {f} | {f * CUT:.0f} GeV | {100 * (shower >= f * CUT).mean():.2f} % | {lost} of {int(kept.sum())} |")
    return "\n".join(lines)


def part_c(args) -> str:
    settings = [("pTHatMin 1100, no filter (former)", 1100.0, ShowerFilter(pt_fraction=0.0))]
    settings += [(f"pTHatMin 600, filter f = {f}", DEFAULT_FLOOR, ShowerFilter(pt_fraction=f)) for f in FRACTIONS[:3]]
    rates: dict[str, list[float]] = {name: [] for name, _, _ in settings}
    sigma: dict[str, list[float]] = {name: [] for name, _, _ in settings}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for name, floor, filt in (settings if rep % 2 == 0 else settings[::-1]):
                out = Path(tmp) / "chunk.root"
                start = time.perf_counter()
                summary = produce_chunk(ProcessSpec("qcd", "qcd", pthat_min=floor), process_id=0, chunk=rep,
                                        n_events=args.rate_events, base_seed=11,
                                        config=ProductionConfig(shower_filter=filt), output=out)
                table, _ = skim_files([out], Selection())
                seconds = time.perf_counter() - start
                in_range = int(((table.mjj > MJJ_RANGE[0]) & (table.mjj < MJJ_RANGE[1])).sum())
                rates[name].append(in_range / seconds)
                sigma[name].append(summary.cross_section_pb * len(table) / summary.n_generated)
    base = statistics.median(rates[settings[0][0]])
    lines = [
        f"#### C. Production rate, one core ({args.rate_events} events passing the filter per chunk, "
        f"{args.repeats} interleaved repeats)",
        "",
        "| setting | selected in m_jj range per s (median) | relative cost per selected event | selected cross section [pb] |",
        "|---|---|---|---|",
    ]
    for name, _, _ in settings:
        rate = statistics.median(rates[name])
        lines.append(f"| {name} | {rate:.1f} | {base / rate:.2f} | {statistics.median(sigma[name]):.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", nargs="+", default=["A", "B", "C"], choices=["A", "B", "C"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--events", type=int, default=20000, help="events per worker (A, B)")
    ap.add_argument("--floor", type=float, default=400.0, help="pTHatMin of part A [GeV]")
    ap.add_argument("--rate-events", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--output")
    args = ap.parse_args()
    blocks = [f"### QCD generator cut and shower-jet filter, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n"
              f"- machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}\n"
              f"- command: `{shlex.join([Path(sys.executable).name] + sys.argv)}`"]
    parts = {"A": part_a, "B": part_b, "C": part_c}
    for name in args.parts:
        blocks.append(parts[name](args))
    emit("\n\n".join(blocks) + "\n", args.output)


if __name__ == "__main__":
    main()
