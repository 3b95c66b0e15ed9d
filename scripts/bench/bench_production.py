#!/usr/bin/env python
"""Production benchmark: bare Pythia vs the full production chunk, and the dijet skim vs a bare uproot read.

A. Generation rate, single process, single core (OMP_NUM_THREADS=NUMBA_NUM_THREADS=1):
   - bare: ``PythiaGenerator(qcd, pTHatMin 600, 13 TeV, no MPI, the default shower-jet filter).raw_batch(n)``
     (bare ``Pythia.nextBatch``; n events that pass the filter);
   - full: ``produce_chunk`` (Pythia + detector model + anti-kT at particle and reco level + substructure
     + matching + ROOT writing).
   Both timings INCLUDE creating and initialising a fresh Pythia instance (``produce_chunk`` always
   does, so the bare path does too). Each pair uses the same Pythia seed, so both generate the same
   events. Bare and full are interleaved with alternating order (bare-first, full-first, ...).
B. Skim throughput on the ROOT files the full path wrote (or --skim-files): ``skim_files`` vs a bare
   ``uproot`` read of the branches the skim needs, interleaved with alternating order.
C. A markdown block with the machine, date, command line, versions and result tables; printed, and
   written to --output FILE when given (docs/benchmarks/production.md).

The script lives in scripts/bench/ because benchmarks/ is git-ignored (Snakemake benchmark files).
"""

from __future__ import annotations

import os

# single core, before numpy/numba/fastjet are imported
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["NUMBA_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from importlib.metadata import PackageNotFoundError, version  # noqa: E402
from pathlib import Path  # noqa: E402

import uproot  # noqa: E402

from bumpfold.generate.production import ProductionConfig, chunk_seed, produce_chunk  # noqa: E402
from bumpfold.generate.pythia import ProcessSpec, PythiaGenerator  # noqa: E402
from bumpfold.skim import Selection, skim_files  # noqa: E402
from report import emit  # noqa: E402  (scripts/bench/report.py)

SQRT_S = 13000.0
BASE_SEED = 12345
SKIM_BRANCHES = ["nFatJet", "FatJet_pt", "FatJet_eta", "FatJet_phi", "FatJet_mass",
                 "FatJet_tau1", "FatJet_tau2", "FatJet_tau3", "Truth_isSignal"]
VERSIONED = ("bumpfold", "pythia8mc", "fastjet", "numba", "uproot", "coffea", "awkward", "numpy")


# ----------------------------------------------------------------------------- helpers

def _timed(fn):
    """(seconds, result) of ``fn()`` with a collected heap beforehand."""
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _median(xs):
    return statistics.median(xs) if xs else float("nan")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


# ----------------------------------------------------------------------------- A. generation

def bare_run(spec: ProcessSpec, n: int, seed: int, config: ProductionConfig) -> tuple[float, float]:
    """(total seconds incl. Pythia creation+init, init seconds) of ``raw_batch(n)`` on a fresh
    generator with production's shower-jet filter."""
    gc.collect()
    start = time.perf_counter()
    generator = PythiaGenerator(spec, sqrt_s=SQRT_S, mpi=False, seed=seed,
                                shower_veto=config.shower_filter.veto(config.leading_jet_pt_min))
    t_init = time.perf_counter() - start
    events = generator.raw_batch(n)
    total = time.perf_counter() - start
    if len(events) != n:
        raise RuntimeError(f"bare path: asked for {n} events, Pythia returned {len(events)}")
    return total, t_init


def full_run(spec: ProcessSpec, n: int, chunk: int, config: ProductionConfig, output: Path):
    """(total seconds, ChunkSummary) of one ``produce_chunk`` call."""
    return _timed(lambda: produce_chunk(spec, process_id=0, chunk=chunk, n_events=n, base_seed=BASE_SEED,
                                        config=config, output=output))


def bench_generation(n: int, repeats: int, workdir: Path) -> dict:
    spec = ProcessSpec("qcd", "qcd")  # the default pTHatMin (600 GeV) and filter
    config = ProductionConfig()
    if config.sqrt_s != SQRT_S or config.mpi:
        raise RuntimeError(f"ProductionConfig defaults changed (sqrt_s={config.sqrt_s}, mpi={config.mpi}); "
                           "bare and full would not run the same Pythia settings")

    # warm-up (numba kernels compile or load from cache, fastjet/uproot/awkward first-use costs)
    warm = workdir / "warmup"
    print(f"[A] warm-up ({min(n, 100)} events each) ...", flush=True)
    bare_run(spec, min(n, 100), chunk_seed(BASE_SEED, spec.name, 10_000), config)
    full_run(spec, min(n, 100), 10_000, config, warm / "qcd_warmup.root")

    rows, files = [], []
    for k in range(repeats):
        seed = chunk_seed(BASE_SEED, spec.name, k)  # the seed produce_chunk derives for this chunk
        output = workdir / f"qcd_{k}.root"
        order = ("bare", "full") if k % 2 == 0 else ("full", "bare")
        row = {"rep": k, "order": "/".join(order), "seed": seed}
        for which in order:
            if which == "bare":
                row["bare_s"], row["bare_init_s"] = bare_run(spec, n, seed, config)
            else:
                row["full_s"], summary = full_run(spec, n, k, config, output)
                if summary.seed != seed:
                    raise RuntimeError(f"seed mismatch: produce_chunk used {summary.seed}, bare used {seed}")
                row["full_summary_s"] = summary.seconds
                row["full_accepted"] = summary.n_accepted
        row["bare_rate"] = n / row["bare_s"]
        row["full_rate"] = n / row["full_s"]
        row["ratio"] = row["full_rate"] / row["bare_rate"]
        rows.append(row)
        files.append(output)
        print(f"[A] rep {k} ({row['order']}): bare {row['bare_rate']:.1f} ev/s, "
              f"full {row['full_rate']:.1f} ev/s, full/bare {row['ratio']:.3f}", flush=True)

    med_bare = _median([r["bare_rate"] for r in rows])
    med_full = _median([r["full_rate"] for r in rows])
    return {
        "n": n, "rows": rows, "files": files,
        "median_bare_rate": med_bare, "median_full_rate": med_full,
        "ratio_of_medians": med_full / med_bare,
        "median_pair_ratio": _median([r["ratio"] for r in rows]),
        "median_bare_init_s": _median([r["bare_init_s"] for r in rows]),
        "median_full_summary_s": _median([r["full_summary_s"] for r in rows]),
    }


# ----------------------------------------------------------------------------- B. skim

def bare_read(paths: list[Path]) -> int:
    n = 0
    for p in paths:
        with uproot.open(p) as f:
            arrays = f["Events"].arrays(SKIM_BRANCHES)
        n += len(arrays)
    return n


def coffea_read(paths: list[Path]) -> int:
    """The reader the skim replaced: coffea NanoEvents (NanoAODSchema, virtual), touching
    the same columns the skim needs."""
    import warnings

    import awkward as ak
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    n = 0
    for p in paths:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Missing cross-reference index")
            events = NanoEventsFactory.from_root({str(p): "Events"}, schemaclass=NanoAODSchema, mode="virtual").events()
            for field in ("pt", "eta", "phi", "mass", "tau1", "tau2", "tau3"):
                ak.to_numpy(ak.flatten(events.FatJet[field]))
            ak.to_numpy(events.Truth.isSignal)
        n += len(events)
    return n


def skim_read(paths: list[Path]) -> tuple[int, int]:
    """(events read, events selected)."""
    table, meta = skim_files(paths, Selection())
    return meta["cutflow"]["all"], len(table)


def bench_skim(paths: list[Path], repeats: int) -> dict:
    print(f"[B] warm-up on {len(paths)} file(s) ...", flush=True)
    n_events = bare_read(paths)
    n_skim, n_selected = skim_read(paths)
    coffea_read(paths)
    if n_skim != n_events:
        raise RuntimeError(f"skim read {n_skim} events, bare uproot read {n_events}")
    rows = []
    for k in range(repeats):
        order = [("bare", "skim", "coffea"), ("skim", "coffea", "bare"), ("coffea", "bare", "skim")][k % 3]
        row = {"rep": k, "order": "/".join(order)}
        readers = {"bare": bare_read, "skim": skim_read, "coffea": coffea_read}
        for which in order:
            row[f"{which}_s"], _ = _timed(lambda: readers[which](paths))
        row["bare_rate"] = n_events / row["bare_s"]
        row["skim_rate"] = n_events / row["skim_s"]
        row["ratio"] = row["bare_s"] / row["skim_s"]
        rows.append(row)
        print(f"[B] rep {k} ({row['order']}): bare {row['bare_rate']:.0f} ev/s, "
              f"skim {row['skim_rate']:.0f} ev/s, bare_time/skim_time {row['ratio']:.3f}", flush=True)
    med_bare_s = _median([r["bare_s"] for r in rows])
    med_skim_s = _median([r["skim_s"] for r in rows])
    med_coffea_s = _median([r["coffea_s"] for r in rows])
    return {
        "median_coffea_s": med_coffea_s, "coffea_over_skim": med_coffea_s / med_skim_s,
        "files": paths, "n_events": n_events, "n_selected": n_selected, "rows": rows,
        "median_bare_s": med_bare_s, "median_skim_s": med_skim_s,
        "median_bare_rate": n_events / med_bare_s, "median_skim_rate": n_events / med_skim_s,
        "ratio_of_medians": med_bare_s / med_skim_s,
        "median_pair_ratio": _median([r["ratio"] for r in rows]),
    }


# ----------------------------------------------------------------------------- C. report

def markdown(gen: dict, skim: dict) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        f"### Production benchmark, {now}",
        "",
        f"- machine: platform.processor() = {platform.processor()!r}, platform.machine() = {platform.machine()!r}, "
        f"os.cpu_count() = {os.cpu_count()}, "
        f"CPU: {_cpu_model()}, Python {platform.python_version()} on {platform.platform()}",
        f"- command: `{shlex.join(sys.orig_argv)}`",
        f"- env: OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, NUMBA_NUM_THREADS={os.environ['NUMBA_NUM_THREADS']}",
        "- versions: " + ", ".join(f"{d} {_version(d)}" for d in VERSIONED),
        "",
        f"#### A. Generation rate (QCD dijets, pTHatMin 600 GeV with the shower-jet filter, 13 TeV, no MPI; "
        f"{gen['n']} events/rep passing the filter, "
        f"{len(gen['rows'])} reps, single process)",
        "",
        "Both times **include** creating and initialising a fresh Pythia instance (`produce_chunk` always does). "
        "Each pair uses the same seed. One warm-up of each path before timing. "
        "Order alternates bare-first / full-first.",
        "",
        "| rep | order | bare [s] | bare init [s] | full [s] | full `.seconds` (excl. write) [s] | "
        "bare [ev/s] | full [ev/s] | full/bare rate |",
        "|---:|:---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in gen["rows"]:
        lines.append(f"| {r['rep']} | {r['order']} | {r['bare_s']:.3f} | {r['bare_init_s']:.3f} | {r['full_s']:.3f} "
                     f"| {r['full_summary_s']:.3f} | {r['bare_rate']:.1f} | {r['full_rate']:.1f} | {r['ratio']:.3f} |")
    lines += [
        f"| **median** | | | {gen['median_bare_init_s']:.3f} | | {gen['median_full_summary_s']:.3f} "
        f"| **{gen['median_bare_rate']:.1f}** | **{gen['median_full_rate']:.1f}** | **{gen['median_pair_ratio']:.3f}** |",
        "",
        f"- median(full rate) / median(bare rate) = **{gen['ratio_of_medians']:.3f}**",
        f"- median of per-pair ratios (full/bare rate) = **{gen['median_pair_ratio']:.3f}**",
        "",
        f"#### B. Skim throughput ({len(skim['files'])} file(s), {skim['n_events']} events, "
        f"{skim['n_selected']} selected; {len(skim['rows'])} reps)",
        "",
        "`skim_files(paths, Selection())` (uproot read of the FatJet branches, selection, features, cutflow) "
        "vs bare `uproot.open(p)['Events'].arrays([...9 branches...])` per file, both including file opening; "
        "beside them, coffea NanoEvents (NanoAODSchema, virtual) materialising the same columns, the reader "
        "the skim used first. One warm-up of each before timing; order rotates.",
        "",
        "| rep | order | bare uproot [s] | skim [s] | coffea read only [s] | bare [ev/s] | skim [ev/s] | bare_time/skim_time |",
        "|---:|:---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in skim["rows"]:
        lines.append(f"| {r['rep']} | {r['order']} | {r['bare_s']:.4f} | {r['skim_s']:.4f} | {r['coffea_s']:.4f} "
                     f"| {r['bare_rate']:.0f} | {r['skim_rate']:.0f} | {r['ratio']:.3f} |")
    target = "met" if skim["ratio_of_medians"] >= 0.5 else "NOT met"
    lines += [
        f"| **median** | | {skim['median_bare_s']:.4f} | {skim['median_skim_s']:.4f} | {skim['median_coffea_s']:.4f} | "
        f"**{skim['median_bare_rate']:.0f}** | **{skim['median_skim_rate']:.0f}** | **{skim['median_pair_ratio']:.3f}** |",
        "",
        f"- median(bare time) / median(skim time) = **{skim['ratio_of_medians']:.3f}** (target >= 0.5: {target})",
        f"- median of per-pair ratios = **{skim['median_pair_ratio']:.3f}**",
        f"- coffea NanoEvents read alone / whole skim (medians) = **{skim['coffea_over_skim']:.2f}**",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="events per repetition (default 1000)")
    parser.add_argument("--repeats", type=int, default=5, help="repetitions of each part (default 5)")
    parser.add_argument("--output", type=Path, default=None, help="markdown file to append the report to")
    parser.add_argument("--skim-files", type=Path, nargs="+", default=None, metavar="ROOT",
                        help="ROOT files for part B instead of the ones part A writes")
    args = parser.parse_args(argv)
    if args.events < 1 or args.repeats < 1:
        parser.error("--events and --repeats must be >= 1")
    if args.skim_files:
        missing = [str(p) for p in args.skim_files if not p.is_file()]
        if missing:
            parser.error(f"--skim-files: no such file(s): {', '.join(missing)}")

    with tempfile.TemporaryDirectory(prefix="bumpfold-bench-") as tmp:
        gen = bench_generation(args.events, args.repeats, Path(tmp))
        skim = bench_skim(list(args.skim_files) if args.skim_files else gen["files"], args.repeats)

    report = markdown(gen, skim)
    emit(report, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
