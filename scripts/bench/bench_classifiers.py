"""HistGradientBoosting vs. the PyTorch MLP as the search classifier, on a finished run.

    .venv/bin/python scripts/bench/bench_classifiers.py [--results results] [--output docs/benchmarks/classifiers.md]

Runs CATHODE and the idealised anomaly detector with each classifier family on the run's
data sets, flow and samples (same folds, same seeds), for every injection of the config,
and reports max SIC, AUC and wall time per method: the measurement behind the default.
"""

from __future__ import annotations

import argparse
import datetime as dt
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
    ap.add_argument("--output")
    args = ap.parse_args()
    config = load_config(args.config)
    window = windows_from_config(config["regions"])[0]
    lines = [f"### Search classifier: HistGradientBoosting vs. MLP, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
             f"- command: `{shlex.join(sys.orig_argv)}` on the outputs of `make run`; window {window.name}; "
             f"{config['search']['n_folds']} folds x {config['search']['classifier']['n_ensemble']} seeds each",
             "", "| injection | method | classifier | max SIC | SIC(0.2) | AUC | wall [s] |", "|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for injection in config["search"]["injections"]:
            run = Path(args.results) / "search" / f"inj{injection}"
            for kind in ("hgb", "mlp"):
                search = typed.search({**config["search"],
                                       "classifier": {**config["search"]["classifier"], "kind": kind}})
                wd = pipeline.window_data(run / "datasets.parquet", window, search)
                for method in ("cathode", "iad"):
                    start = time.perf_counter()
                    table = pipeline.score_method(method, wd, search, 11, output=Path(tmp) / "s.parquet",
                                                  samples_path=run / window.name / "samples.parquet")
                    seconds = time.perf_counter() - start
                    m = results.evaluate({method: table}, window=window.name, injection=injection,
                                          closure=run / window.name / "closure.json",
                                          output=Path(tmp) / "m.json")["methods"][method]
                    lines.append(f"| {injection} | {method} | {kind} | {m['max_sic']:.2f} | {m['sic_at_0p2']:.2f} "
                                 f"| {m['auc']:.3f} | {seconds:.0f} |")
                    print(lines[-1], flush=True)
    emit("\n".join(lines) + "\n", args.output)


if __name__ == "__main__":
    main()
