"""Search quality at LHC Olympics scale with another classifier: re-score methods of a finished
benchmark run (its data sets, and for CATHODE its SR samples) with ``--kind`` (mlp: CATHODE's
PyTorch MLP with epoch ensembling; hgb: the default boosted trees), several seeds, and
report max SIC / SIC at eps_S = 0.2 / AUC on the run's SR test set beside the run's own
(HistGradientBoosting) numbers. Methods run in parallel, one process and one thread each.

Usage: python scripts/bench/bench_classifier_scale.py --run-dir DIR --injection N
           [--config config/benchmark.yaml] [--kind mlp] [--methods cathode iad cwola] [--seeds 1 2]
           [--output docs/benchmarks/classifier_scale.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from bumpfold import settings as typed
from bumpfold.config import load_config
from bumpfold.regions import windows_from_config
from bumpfold.search import pipeline
from bumpfold.search.metrics import performance
from report import emit  # scripts/bench/report.py


def _score(run: str, config_path: str, injection: int, method: str, kind: str, seed: int) -> dict:
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    config = load_config(config_path)
    search = typed.search({**config["search"], "device": "cpu",
                           "classifier": {**config["search"]["classifier"], "kind": kind, "n_ensemble": 1}})
    window = windows_from_config(config["regions"])[0]
    base = Path(run) / "results" / "search" / f"inj{injection}"
    wd = pipeline.window_data(base / "datasets.parquet", window, search)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        table = pipeline.score_method(method, wd, search, seed, output=Path(tmp) / "scores.parquet",
                                      samples_path=base / window.name / "samples.parquet",
                                      flow_path=base / window.name / "flow.pt")
    test = table[table.set == "test"]
    perf = performance(test.score.to_numpy(), test.is_signal.to_numpy())
    return {"method": method, "seed": seed, "max_sic": perf.max_sic, "sic_at_0p2": perf.sic_at_0p2,
            "auc": perf.auc, "seconds": time.perf_counter() - started}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", required=True, help="finished workflow run (the folder holding its results/)")
    p.add_argument("--config", default="config/benchmark.yaml", help="the run's config")
    p.add_argument("--injection", type=int, required=True)
    p.add_argument("--kind", default="mlp", choices=["mlp", "hgb"])
    p.add_argument("--methods", nargs="+", default=["cathode", "iad", "cwola"])
    p.add_argument("--seeds", nargs="+", type=int, default=[1])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--output", type=Path)
    args = p.parse_args()
    run = Path(args.run_dir)
    own = json.loads((run / "results" / "search" / f"inj{args.injection}" /
                      windows_from_config(load_config(args.config)["regions"])[0].name / "metrics.json"
                      ).read_text())["methods"]
    tasks = [(str(run), args.config, args.injection, m, args.kind, s) for m in args.methods for s in args.seeds]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(_score, *zip(*tasks)))
    lines = [f"### Classifier at LHC Olympics scale: {args.kind} vs. the run's HistGradientBoosting, "
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", "",
             f"`{' '.join(['python', 'scripts/bench/' + Path(sys.argv[0]).name, *sys.argv[1:]])}` on "
             f"{platform.machine()}, {args.workers} processes x 1 thread. Test set of the run's SR; "
             f"{args.kind}: one model per fold (n_ensemble 1), seeds {args.seeds}.", "",
             f"| method | {args.kind} max SIC (per seed) | median | {args.kind} SIC(0.2) median | {args.kind} AUC median "
             "| run's hgb max SIC / SIC(0.2) / AUC | seconds per seed |", "|---|---|---:|---:|---:|---|---:|"]
    for method in args.methods:
        mine = [r for r in rows if r["method"] == method]
        med = {k: statistics.median(r[k] for r in mine) for k in ("max_sic", "sic_at_0p2", "auc", "seconds")}
        o = own.get(method, {})
        per_seed = ", ".join(f"{r['max_sic']:.2f}" for r in mine)
        lines.append(f"| {method} | {per_seed} | {med['max_sic']:.2f} | "
                     f"{med['sic_at_0p2']:.2f} | {med['auc']:.3f} | "
                     f"{o.get('max_sic', float('nan')):.2f} / {o.get('sic_at_0p2', float('nan')):.2f} / "
                     f"{o.get('auc', float('nan')):.3f} | {med['seconds']:.0f} |")
    med_of = {m: statistics.median(r["max_sic"] for r in rows if r["method"] == m) for m in args.methods}
    if {"cathode", "iad"} <= set(med_of):
        lines += ["", f"CATHODE / IAD (median max SIC, {args.kind}): {med_of['cathode'] / med_of['iad']:.2f}"]
    emit("\n".join(lines), args.output)


if __name__ == "__main__":
    main()
