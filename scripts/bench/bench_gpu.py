"""GPU against CPU for the training steps: the sideband flow, the CATHODE classifier and an
OmniFold iteration, side by side in one process on one machine.

Runs where a CUDA GPU is present (it fails loudly otherwise). Inputs are files of a finished
workflow run, so the numbers are for the real path:
  --datasets   a search data set (results/search/injN/datasets.parquet; only the columns
               mjj, the flow features, is_signal, weight and role are read)
  --config     the run's config, resolved (``bumpfold validate CONFIG --resolved OUT.json``)
               or as YAML
  --unfold-inputs  an unfolding input file (results/unfold/inputs.npz)

A. Flow training throughput (training events/s, median over epochs after the first) on the
   GPU, on all CPU cores and on one CPU core, at the config's batch size and at 2048.
B. One benchmark window end to end on the GPU: flow (with its closure test), SR sampling,
   and the CATHODE classifier (all folds), each stage timed. The classifier is the config's
   kind (HistGradientBoosting: CPU, all cores).
C. The CATHODE MLP classifier, one fold, GPU against all CPU cores (seconds per epoch).
D. One OmniFold iteration (both steps): HistGradientBoosting on all CPU cores, the MLP on
   the GPU and on all CPU cores.
Each result is appended to OUT/gpu.json as soon as it exists (a run cut short keeps them).

Usage: python scripts/bench/bench_gpu.py --datasets D --config C --unfold-inputs U --out DIR
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
import yaml

from bumpfold import settings as typed
from bumpfold.ml.flow import ConditionalFlow
from bumpfold.regions import windows_from_config
from bumpfold.search import pipeline
from bumpfold.unfold.omnifold import initial_state, omnifold_iteration
from bumpfold.unfold.pipeline import load_inputs, member_data

ALL_CORES = os.cpu_count() or 1


def _record(out: Path, key: str, value) -> None:
    path = out / "gpu.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    results[key] = value
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(key, json.dumps(value), flush=True)


def _config(path: Path) -> dict:
    if path.suffix == ".json":
        return json.loads(path.read_text())
    from bumpfold.config import load_config

    return load_config(path)


def _flow_throughput(x, m, settings, *, device: str, threads: int, batch: int, epochs: int) -> float:
    torch.set_num_threads(threads)
    s = dataclasses.replace(settings, device=device, batch_size=batch, epochs=epochs, patience=epochs + 1, n_best=1)
    flow = ConditionalFlow(s).fit(x, m)
    n_train = len(x) - max(1, int(s.val_fraction * len(x)))
    return n_train / statistics.median(flow.history.epoch_seconds[1:])


def flow_throughput(wd, search, seed, epochs: int) -> dict:
    train = wd.sb("data")
    x, m = wd.x(train), train.mjj.to_numpy()
    settings = typed.search(search).flow_with_seed(seed)
    rows = {}
    for batch in (settings.batch_size, 2048):
        for label, device, threads in (("gpu", "cuda", ALL_CORES), (f"cpu_{ALL_CORES}_threads", "cpu", ALL_CORES),
                                       ("cpu_1_thread", "cpu", 1)):
            rows[f"batch{batch}_{label}"] = round(_flow_throughput(x, m, settings, device=device, threads=threads,
                                                                   batch=batch, epochs=epochs))
    torch.set_num_threads(ALL_CORES)
    return {"n_sb_events": len(train), "flow": f"{settings.transforms} x {list(settings.hidden)}",
            "training_events_per_s": rows}


def window_on_gpu(wd, search, seed, tmp: Path) -> dict:
    on_gpu = typed.search({**search, "device": "cuda"})
    times = {}
    started = time.perf_counter()
    flow = pipeline.train_flow(wd, on_gpu, seed, model=tmp / "flow.pt", closure=tmp / "closure.json")
    times["train_flow_with_closure_s"] = time.perf_counter() - started
    started = time.perf_counter()
    pipeline.sample_window(wd, tmp / "flow.pt", on_gpu, seed, tmp / "samples.parquet", tmp / "interpolation.json")
    times["sample_sr_s"] = time.perf_counter() - started
    started = time.perf_counter()
    pipeline.score_method("cathode", wd, on_gpu, seed, output=tmp / "cathode.parquet",
                          samples_path=tmp / "samples.parquet")
    times["cathode_all_folds_s"] = time.perf_counter() - started
    closure = json.loads((tmp / "closure.json").read_text())
    return {**{k: round(v, 1) for k, v in times.items()}, "window_total_s": round(sum(times.values()), 1),
            "epochs_run": len(flow.history.val_loss), "closure_auc": round(closure["closure_auc"], 4),
            "classifier": search["classifier"]["kind"]}


def mlp_fold(wd, search, seed, tmp: Path, epochs: int) -> dict:
    rows = {}
    for label, device in (("gpu", "cuda"), (f"cpu_{ALL_CORES}_threads", "cpu")):
        cfg = {**search, "device": device,
               "classifier": {**search["classifier"], "kind": "mlp", "mlp_epochs": epochs, "n_ensemble": 1}}
        task = pipeline.classifier_task("cathode", wd, typed.search(cfg), seed, samples_path=tmp / "samples.parquet")
        started = time.perf_counter()
        task.train_fold(0)
        rows[label] = round((time.perf_counter() - started) / epochs, 3)
    return {"seconds_per_epoch": rows, "batch_size": search["classifier"]["mlp_batch_size"],
            "hidden": search["classifier"]["mlp_hidden"]}


def omnifold(inputs: Path, unfold: dict, seed: int) -> dict:
    job = load_inputs(inputs)
    data = member_data(job.data, 0, seed)
    rows = {}
    for label, kind, device in (("hgb_cpu", "hgb", "cpu"), ("mlp_gpu", "mlp", "cuda"), ("mlp_cpu", "mlp", "cpu")):
        cfg = {**unfold, "classifier": {**unfold["classifier"], "kind": kind, "device": device}}
        started = time.perf_counter()
        omnifold_iteration(job.sim, data, initial_state(job.sim), settings=typed.omnifold(cfg), seed=seed)
        rows[f"{label}_s"] = round(time.perf_counter() - started, 2)
    return {"n_sim": int(len(job.sim.weights)), "n_data": int(job.data.n_events), "iteration_seconds": rows}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", type=Path, required=True)
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--unfold-inputs", type=Path, required=True)
    p.add_argument("--unfold-config", type=Path, help="config of the unfolding run (default: --config)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=3, help="epochs per throughput measurement")
    p.add_argument("--skip", nargs="*", default=[], choices=["throughput", "window", "mlp", "omnifold"])
    args = p.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench_gpu: no CUDA GPU here; this benchmark compares GPU and CPU")
    args.out.mkdir(parents=True, exist_ok=True)
    config = _config(args.config)
    search, seed = config["search"], config["seed"]
    window = windows_from_config(config["regions"])[0]
    wd = pipeline.window_data(args.datasets, window, typed.search(search))
    _record(args.out, "machine", {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
                                  "cpu_cores": ALL_CORES, "cpu": platform.processor() or platform.machine(),
                                  "date": time.strftime("%Y-%m-%d"), "window": window.name})
    if "throughput" not in args.skip:
        _record(args.out, "A_flow_throughput", flow_throughput(wd, search, seed, args.epochs))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "window" not in args.skip:
            _record(args.out, "B_window_on_gpu", window_on_gpu(wd, search, seed, tmp))
        if "mlp" not in args.skip and (tmp / "samples.parquet").is_file():
            _record(args.out, "C_cathode_mlp_fold", mlp_fold(wd, search, seed, tmp, epochs=args.epochs))
    if "omnifold" not in args.skip:
        unfold_config = _config(args.unfold_config) if args.unfold_config else config
        _record(args.out, "D_omnifold_iteration", omnifold(args.unfold_inputs, unfold_config["unfold"],
                                                           unfold_config["seed"]))
    print(yaml.safe_dump(json.loads((args.out / "gpu.json").read_text()), sort_keys=False))


if __name__ == "__main__":
    main()
