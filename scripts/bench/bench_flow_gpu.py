"""Sideband-flow training at the LHC Olympics R&D statistics: the GPU with captured CUDA-graph
steps against eager GPU steps and the CPU, same flow, same recipe, same batches.

Two steps, on two machines:

1. ``--make-input SKIM --out-input IN.npz`` (here): the sideband events of a QCD skim
   (m_jj in the config's range, outside its first signal region; the config's features).
   A fifth of them, drawn once, is a held-out set that no training sees; the rest are
   resampled with replacement to ``--sb-events`` (default 420,000: the sideband data of the
   LHCO R&D set, 121k SR background events scaled by this sample's sideband/SR ratio). The
   resampled events repeat, so the training is a timing and agreement test on real events,
   not a physics result.

2. ``--input IN.npz --out DIR`` (where a CUDA GPU is; fails loudly otherwise):
   A. agreement: a few epochs on a subset, GPU with graphs, GPU eager, CPU: the loss of every
      epoch (the graphs must do the same arithmetic).
   B. throughput, training events/s (median over epochs after the first) at batch 256
      (CATHODE's, the config's) and 2048: GPU with graphs, GPU eager, CPU with all cores and
      with one thread.
   C. the config's whole flow training (its epochs, patience and best-epoch ensemble) on all
      ``--sb-events`` with graphs: wall time, epochs run, held-out log-likelihood. The CPU's
      time for the same epochs is projected from B (labelled so): a full CPU run at this size
      would take over half an hour (2,162 s projected on the H200 host, 2026-11-28).
   D. the CATHODE MLP classifier through the same loop (seconds per epoch, prediction
      differences), on low vs high sideband events.
   Each result is written to DIR/flow_gpu.json as soon as it exists.

The flow and recipe are the config's ``search.flow`` (config/benchmark_lhco_statistics.yaml:
8 MAF transforms of 128 x 128, learning rate 5e-4, 100 epochs, patience 15, 10 best epochs).

Usage: python scripts/bench/bench_flow_gpu.py --make-input results/skim/qcd.parquet --out-input IN.npz
       python3 scripts/bench/bench_flow_gpu.py --input IN.npz --out DIR
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

CONFIG = Path("config/benchmark_lhco_statistics.yaml")
ALL_CORES = os.cpu_count() or 1


def _flow_settings(config_path: Path):
    from bumpfold import settings as typed
    from bumpfold.config import load_config

    config = load_config(config_path)
    return config, typed.search(config["search"]).flow_with_seed(config["seed"])


def make_input(skim: Path, out: Path, sb_events: int, config_path: Path) -> None:
    import pandas as pd

    config, _ = _flow_settings(config_path)
    features = list(config["search"]["features"])
    low, high = config["regions"]["mjj_range"]
    sr_low, sr_high = config["regions"]["signal_regions"][0]
    events = pd.read_parquet(skim, columns=["mjj", *features])
    mjj = events.mjj.to_numpy()
    sideband = events[(mjj > low) & (mjj < high) & ~((mjj > sr_low) & (mjj < sr_high))]
    rng = np.random.default_rng(20261128)
    order = rng.permutation(len(sideband))
    n_test = len(sideband) // 5
    test, pool = sideband.iloc[order[:n_test]], sideband.iloc[order[n_test:]]
    train = pool.iloc[rng.integers(len(pool), size=sb_events)]
    np.savez(out, x=train[features].to_numpy(), m=train.mjj.to_numpy(), x_test=test[features].to_numpy(),
             m_test=test.mjj.to_numpy(), features=np.array(features), source=str(skim),
             n_unique=len(pool))
    print(f"{out}: {sb_events} training events resampled from {len(pool)} unique sideband events; "
          f"{n_test} held out")


class Recorder:
    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / "flow_gpu.json"
        self.results: dict = {}

    def __call__(self, key: str, value) -> None:
        self.results[key] = value
        self.path.write_text(json.dumps(self.results, indent=2) + "\n")
        print(key, json.dumps(value), flush=True)


def _fit(x, m, settings, *, device: str, graphs: bool, threads: int, **changes):
    import torch

    from bumpfold.ml.flow import ConditionalFlow

    torch.set_num_threads(threads)
    s = dataclasses.replace(settings, device=device, cuda_graphs=graphs, **changes)
    started = time.perf_counter()
    flow = ConditionalFlow(s).fit(x, m)
    if device == "cuda":
        torch.cuda.synchronize()
    return flow, time.perf_counter() - started


VARIANTS = {  # label: (device, CUDA graphs, threads)
    "gpu_graphs": ("cuda", True, ALL_CORES), "gpu_eager": ("cuda", False, ALL_CORES),
    f"cpu_{ALL_CORES}_threads": ("cpu", False, ALL_CORES), "cpu_1_thread": ("cpu", False, 1),
}


def agreement(x, m, settings, record: Recorder, n_events: int, epochs: int) -> None:
    """Losses per epoch of the same training on each device and path. The training set
    (0.8 x n_events) is not a multiple of the batch: the eager last batch is exercised."""
    rows = {}
    for label in ("gpu_graphs", "gpu_eager", "cpu_1_thread"):
        device, graphs, threads = VARIANTS[label]
        flow, _ = _fit(x[:n_events], m[:n_events], settings, device=device, graphs=graphs, threads=threads,
                       epochs=epochs, patience=epochs + 1, n_best=1)
        rows[label] = {"train_loss": flow.history.train_loss, "val_loss": flow.history.val_loss}
    reference = np.array(rows["gpu_eager"]["val_loss"])
    record("A_agreement", {
        "events": n_events, "epochs": epochs, "losses": rows,
        "max_abs_val_loss_difference_graphs_vs_eager":
            float(np.max(np.abs(np.array(rows["gpu_graphs"]["val_loss"]) - reference))),
        "max_abs_val_loss_difference_cpu_vs_gpu_eager":
            float(np.max(np.abs(np.array(rows["cpu_1_thread"]["val_loss"]) - reference)))})


def throughput(x, m, settings, record: Recorder, n_events: int, batches: list[int]) -> dict:
    n_train = n_events - max(1, int(settings.val_fraction * n_events))
    rates: dict[str, int] = {}
    for batch in batches:
        for label, (device, graphs, threads) in VARIANTS.items():
            epochs = 2 if device == "cpu" else 4
            flow, _ = _fit(x[:n_events], m[:n_events], settings, device=device, graphs=graphs, threads=threads,
                           batch_size=batch, epochs=epochs, patience=epochs + 1, n_best=1)
            rates[f"batch{batch}_{label}"] = round(n_train / statistics.median(flow.history.epoch_seconds[1:]))
            record("B_training_events_per_s", {"training_events": n_train, "rates": rates})
    return rates


def full_training(x, m, x_test, m_test, settings, record: Recorder, rates: dict, epochs: int | None) -> None:
    batch = settings.batch_size
    best_cpu = max(rates.get(f"batch{batch}_cpu_{ALL_CORES}_threads", 0), rates.get(f"batch{batch}_cpu_1_thread", 0))
    if rates and rates.get(f"batch{batch}_gpu_graphs", 0) < 3 * best_cpu:  # a full eager run would take an hour
        record("C_skipped", f"the GPU with graphs trains under 3x the best CPU rate at batch {batch}")
        return
    changes = {} if epochs is None else {"epochs": epochs}
    flow, seconds = _fit(x, m, settings, device="cuda", graphs=True, threads=ALL_CORES, **changes)
    n_train = len(x) - max(1, int(settings.val_fraction * len(x)))
    epochs_run = len(flow.history.val_loss)
    projected = epochs_run * n_train / best_cpu if best_cpu else None
    record("C_full_training_gpu_graphs", {
        "training_events": n_train, "validation_events": len(x) - n_train, "epochs_run": epochs_run,
        "best_epochs": flow.history.best_epochs, "wall_s": round(seconds, 1),
        "median_epoch_s": round(statistics.median(flow.history.epoch_seconds), 2),
        "best_val_loss": min(flow.history.val_loss),
        "held_out_mean_log_prob": float(np.mean(flow.log_prob(x_test, m_test))), "held_out_events": len(x_test),
        "cpu_projected_s_best_cpu_rate_same_epochs": None if projected is None else round(projected),
        "ratio_projected_cpu_over_gpu": None if projected is None else round(projected / seconds, 1)})


def classifier(x, m, record: Recorder, config: dict, n_events: int, epochs: int) -> None:
    """D. The CATHODE MLP classifier (the config's) through the same loop: low vs high sideband
    events (a real, hard task), each path's fit time and the largest difference between the
    predictions of the graphed and the eager GPU fits."""
    import torch

    from bumpfold import settings as typed
    from bumpfold.ml.classifier import EpochEnsembleMLP

    base = dataclasses.replace(typed.classifier(config["search"]["classifier"], device="cpu"), mlp_epochs=epochs)
    xs, y = x[:n_events], (m[:n_events] > 3700).astype(float)
    rows, predictions = {}, {}
    for label, (device, graphs, threads) in VARIANTS.items():
        torch.set_num_threads(threads)
        model = EpochEnsembleMLP(dataclasses.replace(base, device=device, cuda_graphs=graphs), seed=1)
        started = time.perf_counter()
        model.fit(xs, y)
        rows[label] = round((time.perf_counter() - started) / epochs, 3)
        predictions[label] = model.predict_proba(xs[:20000])[:, 1]
        record("D_classifier_seconds_per_epoch", {"events": n_events, "epochs": epochs, "hidden":
                                                  list(base.mlp_hidden), "batch": base.mlp_batch_size, "rates": rows})
    record("D_classifier_max_prediction_difference", {
        "graphs_vs_eager_gpu": float(np.max(np.abs(predictions["gpu_graphs"] - predictions["gpu_eager"]))),
        "cpu_vs_eager_gpu": float(np.max(np.abs(predictions["cpu_1_thread"] - predictions["gpu_eager"])))})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=CONFIG)
    p.add_argument("--make-input", type=Path, metavar="SKIM")
    p.add_argument("--out-input", type=Path)
    p.add_argument("--sb-events", type=int, default=420_000)
    p.add_argument("--input", type=Path)
    p.add_argument("--out", type=Path)
    p.add_argument("--agreement-events", type=int, default=20_011)
    p.add_argument("--agreement-epochs", type=int, default=3)
    p.add_argument("--throughput-events", type=int, default=60_000)
    p.add_argument("--batches", type=int, nargs="+", default=[256, 2048])
    p.add_argument("--full-epochs", type=int, help="cap the full training's epochs (default: the config's)")
    p.add_argument("--skip", nargs="*", default=[], choices=["A", "B", "C", "D"])
    args = p.parse_args()
    if args.make_input:
        if not args.out_input:
            p.error("--make-input needs --out-input")
        make_input(args.make_input, args.out_input, args.sb_events, args.config)
        return
    if not (args.input and args.out):
        p.error("give --input and --out (or --make-input)")
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("bench_flow_gpu: no CUDA GPU here; this benchmark compares GPU and CPU")
    record = Recorder(args.out)
    config, settings = _flow_settings(args.config)
    data = np.load(args.input)
    x, m = data["x"], data["m"]
    record("machine", {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "cpu_cores": ALL_CORES,
                       "python": platform.python_version(), "flow": f"{settings.kind} {settings.transforms} x "
                       f"{list(settings.hidden)}, batch {settings.batch_size}, lr {settings.learning_rate}",
                       "sb_events": len(x), "unique_sb_events": int(data["n_unique"]), "source": str(data["source"])})
    if "A" not in args.skip:
        agreement(x, m, settings, record, args.agreement_events, args.agreement_epochs)
    rates = {} if "B" in args.skip else throughput(x, m, settings, record, args.throughput_events, args.batches)
    if "C" not in args.skip:
        full_training(x, m, data["x_test"], data["m_test"], settings, record, rates, args.full_epochs)
    if "D" not in args.skip:
        classifier(x, m, record, config, n_events=100_000, epochs=3)


if __name__ == "__main__":
    main()
