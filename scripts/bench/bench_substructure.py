"""Substructure kernels vs fjcontrib through fastjet's awkward interface, on the same jets.

    .venv/bin/python scripts/bench/bench_substructure.py [--events 300] [--repeats 5] [--output docs/benchmarks/substructure.md]

Times per jet, interleaved: bumpfold's numba soft drop + tau1..4 (one C/A and one kT
reclustering per jet) against fastjet's ``exclusive_jets_softdrop_grooming`` and
``njettiness(OnePass_KT_Axes)`` (C/A reclustering included), and checks that they agree.
"""

from __future__ import annotations

import os

os.environ["NUMBA_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import awkward as ak  # noqa: E402
import fastjet  # noqa: E402
import numpy as np  # noqa: E402

from bumpfold.generate.pythia import ProcessSpec, PythiaGenerator  # noqa: E402
from bumpfold.generate.substructure import jet_substructure  # noqa: E402
from report import emit  # noqa: E402  (scripts/bench/report.py)


def jets_of(n_events: int) -> ak.Array:
    fs = PythiaGenerator(ProcessSpec("qcd", "qcd"), seed=12345).batch(n_events)
    per_event = ak.unflatten(ak.zip({"px": fs.px, "py": fs.py, "pz": fs.pz, "E": fs.e}), np.diff(fs.offsets))
    sequence = fastjet.ClusterSequence(per_event, fastjet.JetDefinition(fastjet.antikt_algorithm, 1.0))
    return ak.flatten(sequence.constituents(min_pt=200.0), axis=1)


def ours(jets: ak.Array):
    flat = ak.flatten(jets)
    p4 = np.stack([ak.to_numpy(flat[f]) for f in ("px", "py", "pz", "E")], axis=1)
    offsets = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.num(jets)))])
    return jet_substructure(p4, offsets, r0=1.0)


def fjcontrib(jets: ak.Array):
    seq = fastjet.ClusterSequence(jets, fastjet.JetDefinition(fastjet.cambridge_algorithm, 10.0))
    msd = ak.to_numpy(seq.exclusive_jets_softdrop_grooming(njets=1, beta=0.0, symmetry_cut=0.1, R0=1.0).msoftdrop)
    taus = ak.to_numpy(seq.njettiness(njets=[1, 2, 3, 4], beta=1.0, R0=1.0, axes_definition="OnePass_KT_Axes"))
    return msd, taus.reshape(-1, 4)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--output")
    args = ap.parse_args()
    jets = jets_of(args.events)
    n_jets = len(jets)
    (m1, t1), (m2, t2) = ours(jets), fjcontrib(jets)  # warm-up (numba cache) and agreement
    agree = max(float(np.max(np.abs(m1 - m2))), float(np.max(np.abs(t1 - t2))))
    times: dict[str, list[float]] = {"numba": [], "fjcontrib": []}
    for k in range(args.repeats):
        for name in (("numba", "fjcontrib") if k % 2 == 0 else ("fjcontrib", "numba")):
            start = time.perf_counter()
            (ours if name == "numba" else fjcontrib)(jets)
            times[name].append((time.perf_counter() - start) / n_jets * 1e6)
    med = {k: statistics.median(v) for k, v in times.items()}
    text = "\n".join([
        f"### Substructure kernels vs fjcontrib, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- command: `{shlex.join(sys.orig_argv)}`; {n_jets} anti-kT R=1.0 jets (pT > 200 GeV) from "
        f"{args.events} QCD events; {args.repeats} interleaved repetitions; one core",
        f"- max |difference| (soft-drop mass [GeV], tau1..4): {agree:.1e}",
        "",
        "| implementation | median us/jet | all repetitions |",
        "|---|---|---|",
        *(f"| {k} | {med[k]:.0f} | {', '.join(f'{x:.0f}' for x in v)} |" for k, v in times.items()),
        f"| ratio fjcontrib / numba | {med['fjcontrib'] / med['numba']:.1f} | |",
        "",
    ])
    emit(text, args.output)


if __name__ == "__main__":
    main()
