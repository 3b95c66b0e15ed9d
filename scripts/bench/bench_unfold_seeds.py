#!/usr/bin/env python
"""OmniFold against IBU over many independent pseudo-data sets, against the noise floor.

    python scripts/bench/bench_unfold_seeds.py --workdir DIR [--sets 10] [--members 10]
        [--iterations 4] [--sim-chunks 25] [--data-chunks 4] [--events 4000] [--workers 2]
        [--output docs/benchmarks/unfold_seeds.md] [--json FILE]

One simulation (the default config's `qcd`: --sim-chunks x --events QCD events through the
production chain) and --sets independent pseudo-data sets (`qcd_alt`: the final-state shower
alpha_s at 0.115, --data-chunks x --events each, their own seeds), generated in DIR unless
already there. Each set is unfolded as the workflow does it (bumpfold.unfold.pipeline:
prepare_inputs, --members ensemble members x --iterations OmniFold iterations, IBU on the
same bootstrap replicas, summarize), all jobs spread over --workers processes.

Reported per observable: the triangular discriminator (x 10^3) to the set's particle-level
truth of the prior, IBU and OmniFold (median and 16-84 % over the sets); how often OmniFold
is closer than IBU and than the prior; and the noise floor, the discriminator between the
truths of two independent sets (sets 2k and 2k+1) at the same size, which is what a perfect
unfolding would still show against an independent sample.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from bumpfold import settings as typed  # noqa: E402
from bumpfold.config import validate_config  # noqa: E402
from bumpfold.generate.production import ProductionConfig, produce_chunk  # noqa: E402
from bumpfold.generate.pythia import ProcessSpec  # noqa: E402
from bumpfold.unfold import pipeline  # noqa: E402
from bumpfold.unfold.metrics import triangular_discriminator, weighted_histogram  # noqa: E402
from report import emit  # noqa: E402  (scripts/bench/report.py)

SIM = ProcessSpec("qcd", "qcd")
DATA = ProcessSpec("qcd_alt", "qcd", settings=("TimeShower:alphaSvalue = 0.115",))
TD = "triangular_discriminator_1e3"


def _generate(task: tuple[str, int, int, str]) -> str:
    process, chunk, n_events, path = task
    if not Path(path).is_file():
        spec = SIM if process == "qcd" else DATA
        produce_chunk(spec, process_id=0 if process == "qcd" else 1, chunk=chunk, n_events=n_events, base_seed=42,
                      config=ProductionConfig(), output=path)
    return path


def _prepare(task: tuple[list[str], list[str], dict, str]) -> dict:
    """Inputs of one set; returns its truth histograms and sizes."""
    sim_paths, data_paths, unfold, folder = task
    job = pipeline.prepare_inputs(sim_paths, data_paths, unfold=typed.unfold(unfold), output=f"{folder}/inputs.npz")
    return {"truth": {name: weighted_histogram(job.truth[:, j], bins=job.edges[name], weights=job.truth_weights).counts
                      for j, name in enumerate(job.observables)},
            "n_sim": job.sim.n_events, "n_data": job.data.n_events, "n_truth": len(job.truth)}


def _iterations(task: tuple[str, int, dict]) -> list[str]:
    """One ensemble member's chain of OmniFold iterations in a set's folder."""
    folder, member, unfold = task
    paths: list[str] = []
    for i in range(1, unfold["iterations"] + 1):
        paths.append(f"{folder}/m{member}_i{i}.npz")
        pipeline.iteration_job(f"{folder}/inputs.npz", paths[-2] if i > 1 else None, member=member, iteration=i,
                               unfold=typed.unfold(unfold), seed=7, output=paths[-1])
    return paths


def _summarize(task: tuple[str, list[list[str]], dict]) -> dict:
    """IBU on the same replicas, then the set's metrics per observable and method."""
    folder, members, unfold = task
    pipeline.ibu_job(f"{folder}/inputs.npz", unfold=typed.unfold(unfold), seed=7, output=f"{folder}/ibu.json")
    summary = pipeline.summarize(f"{folder}/inputs.npz", members, f"{folder}/ibu.json", output=f"{folder}/summary.json")
    return {name: {m: o["metrics"][m][TD] for m in ("prior", "ibu", "omnifold")}
            for name, o in summary["observables"].items()}


def _quantiles(values: list[float]) -> str:
    lo, mid, hi = np.quantile(values, [0.16, 0.5, 0.84])
    return f"{mid:.2f} [{lo:.2f}, {hi:.2f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--sets", type=int, default=10)
    ap.add_argument("--members", type=int, default=10)
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--sim-chunks", type=int, default=25)
    ap.add_argument("--data-chunks", type=int, default=4)
    ap.add_argument("--events", type=int, default=4000, help="events per chunk (passing the QCD filter)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--output")
    ap.add_argument("--json", type=Path, help="per-set results, rewritten after every set")
    args = ap.parse_args()
    samples = args.workdir / "samples"
    samples.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    sim_paths = [str(samples / f"qcd_{c}.root") for c in range(args.sim_chunks)]
    data_paths = [[str(samples / f"alt_{s}_{c}.root") for c in range(args.data_chunks)] for s in range(args.sets)]
    tasks = [("qcd", c, args.events, p) for c, p in enumerate(sim_paths)]
    tasks += [("qcd_alt", s * args.data_chunks + c, args.events, p)
              for s, paths in enumerate(data_paths) for c, p in enumerate(paths)]
    with ProcessPoolExecutor(args.workers) as pool:
        list(pool.map(_generate, tasks))
    generated = time.perf_counter() - start

    unfold = validate_config({"unfold": {"members": args.members, "iterations": args.iterations}})["unfold"]
    folders = [args.workdir / f"set{s}" for s in range(args.sets)]
    for folder in folders:
        folder.mkdir(exist_ok=True)
    with ProcessPoolExecutor(args.workers) as pool:
        prepared = list(pool.map(_prepare, [(sim_paths, paths, unfold, str(f)) for paths, f in zip(data_paths, folders)]))
        chains = list(pool.map(_iterations, [(str(f), m, unfold) for f in folders for m in range(args.members)]))
        per_set = [chains[s * args.members:(s + 1) * args.members] for s in range(args.sets)]
        sets = list(pool.map(_summarize, [(str(f), members, unfold) for f, members in zip(folders, per_set)]))
    if args.json:
        args.json.write_text(json.dumps({"sets": sets, **{k: prepared[0][k] for k in ("n_sim", "n_data", "n_truth")}},
                                        indent=1))
    truths = [p["truth"] for p in prepared]
    sizes = prepared[0]
    names = list(sets[0])
    floor = {name: [triangular_discriminator(truths[2 * k][name], truths[2 * k + 1][name])
                    for k in range(len(truths) // 2)] for name in names}
    lines = [
        f"### Unfolding over {len(sets)} independent pseudo-data sets, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"generation {generated:.0f} s, total {time.perf_counter() - start:.0f} s",
        f"- command: `{shlex.join([Path(sys.executable).name] + sys.argv)}`",
        f"- simulation: qcd, {sizes['n_sim']} events; each set: qcd_alt (alpha_s^FSR 0.115), {sizes['n_data']} "
        f"detector-level events, {sizes['n_truth']} truth events; {args.members} members x {args.iterations} "
        f"iterations; IBU with {unfold['ibu_reco_bins']} detector-level bins over the simulation's detector-level "
        "range; both central values the mean over the same members",
        "",
        "Triangular discriminator x 10^3 to each set's truth, median [16 %, 84 %] over the sets; noise floor: "
        "two independent truths of this size.",
        "",
        "| observable | prior | IBU | OmniFold | OmniFold closer than IBU | than the prior | noise floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        get = {m: [s[name][m] for s in sets] for m in ("prior", "ibu", "omnifold")}
        wins_ibu = sum(o < i for o, i in zip(get["omnifold"], get["ibu"]))
        wins_prior = sum(o < p for o, p in zip(get["omnifold"], get["prior"]))
        lines.append(f"| {name} | {_quantiles(get['prior'])} | {_quantiles(get['ibu'])} | {_quantiles(get['omnifold'])} "
                     f"| {wins_ibu}/{len(sets)} | {wins_prior}/{len(sets)} | "
                     f"{np.mean(floor[name]):.2f} +- {np.std(floor[name], ddof=1) if len(floor[name]) > 1 else 0:.2f} |")
    emit("\n".join(lines) + "\n", args.output)


if __name__ == "__main__":
    main()
