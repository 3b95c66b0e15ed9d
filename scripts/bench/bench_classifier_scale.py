"""Search classifiers side by side, per seed, on a finished run: re-score methods of the run
(its data sets, folds, and for CATHODE its SR samples) with several classifier recipes and
report max SIC / SIC at eps_S = 0.2 / AUC on the run's SR test set, beside the run's own
numbers. A recipe is ``hgb`` (the boosted trees) or ``mlp:E:N[:M]`` (CATHODE's PyTorch MLP, E
epochs, the N with the lowest validation loss averaged; M seeds per fold, default 1), then
optionally ``/key=value+...``: more search.classifier keys (``mlp:100:10/mlp_batch_size=512``).
Each (method, recipe, seed) is one k-fold training, in its own process with one thread. The
summary counts, per seed, whether each MLP recipe reaches the boosted trees' max SIC (issue
18's idealised-detector check), and how far the finite test set alone moves that difference.

Usage: python scripts/bench/bench_classifier_scale.py --run-dir DIR --injection N
           [--config config/benchmark.yaml] [--recipes hgb mlp:30:5 mlp:100:10]
           [--methods iad cathode] [--seeds 1 2 3 4 5] [--workers 2] [--output FILE]
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

import numpy as np
import yaml

from bumpfold import settings as typed
from bumpfold.config import load_config
from bumpfold.regions import windows_from_config
from bumpfold.search import pipeline
from bumpfold.search.metrics import performance
from report import emit  # scripts/bench/report.py


def classifier_keys(recipe: str) -> dict:
    """``hgb`` or ``mlp:EPOCHS:BEST[:MEMBERS]`` as search.classifier keys (MEMBERS: MLPs of
    different seeds per fold, scores averaged; default 1), then any ``/key=value+...`` as more
    search.classifier keys, joined by + (values read as YAML:
    ``mlp:100:10/mlp_inputs=quantile+mlp_hidden=[32,32]``)."""
    recipe, _, extra = recipe.partition("/")
    kind, *numbers = recipe.split(":")
    if kind == "hgb" and not numbers:
        keys: dict = {"kind": "hgb", "n_ensemble": 1}
    elif kind == "mlp" and len(numbers) in (2, 3):
        keys = {"kind": "mlp", "mlp_epochs": int(numbers[0]), "mlp_best_epochs": int(numbers[1]),
                "n_ensemble": int(numbers[2]) if len(numbers) == 3 else 1}
    else:
        raise SystemExit(f"recipe {recipe!r}: use hgb or mlp:EPOCHS:BEST[:MEMBERS], then /key=value+...")
    for item in filter(None, extra.split("+")):
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"recipe option {item!r}: use key=value")
        keys[key] = yaml.safe_load(value)
    return keys


def _score(run: str, config_path: str, injection: int, method: str, recipe: str, seed: int) -> dict:
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    config = load_config(config_path)
    classifier = {**config["search"].get("classifier", {}), **classifier_keys(recipe)}
    search = typed.search({**config["search"], "device": "cpu", "classifier": classifier})
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
    return {"method": method, "recipe": recipe, "seed": seed, "max_sic": perf.max_sic,
            "sic_at_0p2": perf.sic_at_0p2, "auc": perf.auc, "seconds": time.perf_counter() - started,
            "n_sr_data": len(wd.sr("data")), "test_scores": test.score.to_numpy(),
            "test_labels": test.is_signal.to_numpy().astype(int)}


def paired_bootstrap(a: dict, b: dict, resamples: int, seed: int = 0) -> np.ndarray:
    """max SIC of ``a`` minus that of ``b`` on ``resamples`` bootstrap replicas of the test
    set, the same replica for both (their scores are of the same test events): how far the
    test set's finite background alone moves the difference."""
    assert np.array_equal(a["test_labels"], b["test_labels"])
    rng = np.random.default_rng(seed)
    n = len(a["test_labels"])
    out = np.empty(resamples)
    for i in range(resamples):
        idx = rng.integers(0, n, n)
        labels = a["test_labels"][idx]
        out[i] = performance(a["test_scores"][idx], labels).max_sic - performance(b["test_scores"][idx], labels).max_sic
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", required=True, help="finished workflow run (the folder holding its results/)")
    p.add_argument("--config", default="config/benchmark.yaml", help="the run's config")
    p.add_argument("--injection", type=int, required=True)
    p.add_argument("--recipes", nargs="+", default=["hgb", "mlp:30:5", "mlp:100:10"])
    p.add_argument("--methods", nargs="+", default=["iad", "cathode"])
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--bootstrap", type=int, default=200,
                   help="test-set bootstrap replicas for each MLP-minus-trees max SIC difference")
    p.add_argument("--output", type=Path)
    args = p.parse_args()
    for recipe in args.recipes:
        classifier_keys(recipe)
    run = Path(args.run_dir)
    metrics = (run / "results" / "search" / f"inj{args.injection}" /
               windows_from_config(load_config(args.config)["regions"])[0].name / "metrics.json")
    # the run's own numbers, where it evaluated this injection (a reference column only)
    own = json.loads(metrics.read_text())["methods"] if metrics.is_file() else {}
    tasks = [(str(run), args.config, args.injection, m, r, s)
             for m in args.methods for r in args.recipes for s in args.seeds]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(_score, *zip(*tasks)))
    lines = [f"### Search classifiers per seed, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", "",
             f"`{' '.join(['python', 'scripts/bench/' + Path(sys.argv[0]).name, *sys.argv[1:]])}` on "
             f"{platform.machine()}, {args.workers} processes x 1 thread; {rows[0]['n_sr_data']} SR data events at "
             f"{args.injection} injected. Test set of the run's SR; one model per fold unless the recipe says, "
             f"seeds {args.seeds}.", "",
             "| method | recipe | max SIC per seed | median | SIC(0.2) median | AUC median | run's max SIC / AUC "
             "| seconds per seed |", "|---|---|---|---:|---:|---:|---|---:|"]
    for method in args.methods:
        o = own.get(method, {})
        for recipe in args.recipes:
            mine = [r for r in rows if r["method"] == method and r["recipe"] == recipe]
            med = {k: statistics.median(r[k] for r in mine) for k in ("max_sic", "sic_at_0p2", "auc", "seconds")}
            per_seed = ", ".join(f"{r['max_sic']:.2f}" for r in mine)
            lines.append(f"| {method} | {recipe} | {per_seed} "
                         f"| {med['max_sic']:.2f} | {med['sic_at_0p2']:.2f} | {med['auc']:.3f} "
                         f"| {o.get('max_sic', float('nan')):.2f} / {o.get('auc', float('nan')):.3f} "
                         f"| {med['seconds']:.0f} |")
    lines.append("")
    for method in args.methods:
        trees = [r for r in rows if r["method"] == method and r["recipe"] == "hgb"]
        for recipe in [r for r in args.recipes if r.startswith("mlp") and trees]:
            mlp = [r for r in rows if r["method"] == method and r["recipe"] == recipe]
            wins = sum(m["max_sic"] >= t["max_sic"] for m, t in zip(mlp, trees))
            boot = [paired_bootstrap(m, t, args.bootstrap) for m, t in zip(mlp, trees)]
            diffs = ", ".join(f"{m['max_sic'] - t['max_sic']:+.2f} +- {b.std():.2f}"
                              for m, t, b in zip(mlp, trees, boot, strict=True))
            lines.append(f"- {method}: {recipe} reaches hgb's max SIC in **{wins} of {len(mlp)}** seeds; "
                         f"max SIC minus hgb's per seed, +- the spread of {args.bootstrap} paired test-set "
                         f"bootstrap replicas: {diffs}")
    emit("\n".join(lines), args.output)


if __name__ == "__main__":
    main()
