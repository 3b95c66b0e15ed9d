"""How much averaging the k fold models helps each classifier kind: max SIC on the SR test
set of each fold's model alone and of the k models' mean score (as the search scores its
test set), for the boosted trees and the MLP, on the idealised detector (IAD) of a finished
run. Each fold's model is trained by the search's own fold job (``train_fold``: same events,
same seed, one member); one process, one thread.

Usage: python scripts/bench/bench_fold_averaging.py --run-dir DIR --config CONFIG --injection N
           [--seeds 1 3] [--output FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bumpfold import settings as typed
from bumpfold.config import load_config
from bumpfold.ml.classifier import train_fold
from bumpfold.ml.settings import KFoldSettings
from bumpfold.regions import windows_from_config
from bumpfold.search import methods, pipeline
from bumpfold.search.metrics import performance
from report import emit  # scripts/bench/report.py


def fold_test_scores(task: methods.ClassifierTask, folds: KFoldSettings, fold: int) -> np.ndarray:
    """Test-set scores of fold ``fold``'s model alone, trained by the search's own fold job
    (``train_fold``: the other folds' events, its seeds)."""
    return train_fold(task.data, task.reference, data_folds=task.data_folds, reference_folds=task.reference_folds,
                      fold=fold, settings=folds, score_also=(task.test,)).others[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", required=True)
    p.add_argument("--config", required=True, help="the run's config")
    p.add_argument("--injection", type=int, required=True)
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 3])
    p.add_argument("--output", type=Path)
    args = p.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    config = load_config(args.config)
    search = typed.search({**config["search"], "device": "cpu"})
    window = windows_from_config(config["regions"])[0]
    wd = pipeline.window_data(Path(args.run_dir) / "results" / "search" / f"inj{args.injection}" / "datasets.parquet",
                              window, search)
    labels = wd.sr("test").is_signal.to_numpy()
    lines = [f"### Fold averaging, IAD, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", "",
             f"`{' '.join(['python', 'scripts/bench/' + Path(sys.argv[0]).name, *sys.argv[1:]])}` on "
             f"{platform.machine()}; {len(wd.sr('data'))} SR data events, {int((labels == 0).sum())} test background.",
             "", "| seed | classifier | max SIC of each fold's model | median | mean of the folds' scores |",
             "|---:|---|---|---:|---:|"]
    for seed in args.seeds:
        folds = search.folds_with_seed(seed)
        task = methods.iad(wd, folds, seed)
        for kind, classifier in (("hgb", replace(folds.classifier, kind="hgb")),
                                 ("mlp 100:10", replace(folds.classifier, kind="mlp", mlp_epochs=100,
                                                        mlp_best_epochs=10))):
            one_member = replace(folds, classifier=classifier, n_ensemble=1)
            scores = [fold_test_scores(task, one_member, fold) for fold in range(folds.n_folds)]
            single = [performance(s, labels).max_sic for s in scores]
            mean = performance(np.mean(scores, axis=0), labels).max_sic
            lines.append(f"| {seed} | {kind} | {', '.join(f'{v:.2f}' for v in single)} "
                         f"| {statistics.median(single):.2f} | {mean:.2f} |")
    emit("\n".join(lines), args.output)


if __name__ == "__main__":
    main()
