"""MAF vs. neural spline flow as CATHODE's density estimator, on a finished run.

    .venv/bin/python scripts/bench/bench_flows.py [--results results] [--injection 600] [--output docs/benchmarks/flows.md]

For each flow kind: train on the window's sideband data (same events, same seed), the
closure AUC on held-out sideband data, CATHODE's max SIC with its samples, and the time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

from bumpfold import settings as typed
from bumpfold.config import load_config
from bumpfold.regions import windows_from_config
from bumpfold.search import pipeline, results
from report import emit  # scripts/bench/report.py


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default="results")
    ap.add_argument("--config", default="config/config.yaml")
    ap.add_argument("--injection", type=int, default=600)
    ap.add_argument("--output")
    args = ap.parse_args()
    config = load_config(args.config)
    window = windows_from_config(config["regions"])[0]
    datasets = Path(args.results) / "search" / f"inj{args.injection}" / "datasets.parquet"
    lines = [f"### Sideband flow: MAF vs. NSF, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
             f"- command: `{shlex.join(sys.orig_argv)}` on the outputs of `make run`; window {window.name}, "
             f"injection {args.injection}; other flow settings as in the config",
             "", "| flow | epochs run | train + closure [s] | closure AUC | CATHODE max SIC | CATHODE AUC |",
             "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for kind in ("maf", "nsf"):
            search = typed.search({**config["search"], "flow": {**config["search"]["flow"], "kind": kind}})
            wd = pipeline.window_data(datasets, window, search)
            start = time.perf_counter()
            flow = pipeline.train_flow(wd, search, 21, model=t / "flow.pt", closure=t / "closure.json")
            seconds = time.perf_counter() - start
            pipeline.sample_window(wd, t / "flow.pt", search, 22, t / "samples.parquet", t / "interpolation.json")
            scores = pipeline.score_method("cathode", wd, search, 23, output=t / "s.parquet",
                                           samples_path=t / "samples.parquet")
            m = results.evaluate({"cathode": scores}, window=window.name, injection=args.injection,
                                  closure=t / "closure.json", output=t / "m.json")
            c = m["methods"]["cathode"]
            lines.append(f"| {kind} | {len(flow.history.val_loss)} | {seconds:.0f} | "
                         f"{json.loads((t / 'closure.json').read_text())['closure_auc']:.3f} | "
                         f"{c['max_sic']:.2f} | {c['auc']:.3f} |")
            print(lines[-1], flush=True)
    emit("\n".join(lines) + "\n", args.output)


if __name__ == "__main__":
    main()
