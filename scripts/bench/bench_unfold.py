"""OmniFold speed and accuracy: bumpfold's beside the `omnifold` package from PyPI (Keras MLPs,
TensorFlow), on identical inputs and settings where it installs. With ``--classifier mlp``
bumpfold uses an MLP as the package does: its layers (64-128-64), batch size (128), learning
rate (1e-4), the same number of epochs and the single best-validation epoch (activation ReLU,
the package's GELU), so that the comparison is MLP against MLP.

Reads the unfolding inputs of a finished `make run` (results/unfold/inputs.npz: simulation
pairs with pass flags, pseudo-data detector level, its particle level as truth, binning).

A. bumpfold: ``run_omnifold`` (member 0, no bootstrap) with N iterations, timed in-process on
   1 and on 2 threads (interleaved, repeats); triangular discriminator (x 10^3) per observable.
B. `omnifold` (MultiFold + its MLP, default training settings), same inputs standardised,
   same N iterations, run by ``--tf-python`` (an interpreter with tensorflow and omnifold,
   e.g. a separate venv: TensorFlow is not a bumpfold dependency) in a subprocess; wall time
   and the same metrics on its final weights.

Usage: python scripts/bench/bench_unfold.py [--tf-python PATH] [--iterations 4] [--repeats 2]
       [--output docs/benchmarks/unfold.md]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from bumpfold.ml.settings import ClassifierSettings
from bumpfold.unfold.metrics import triangular_discriminator, weighted_histogram
from bumpfold.unfold.omnifold import OmniFoldSettings, run_omnifold
from bumpfold.unfold.pipeline import load_inputs
from report import emit  # scripts/bench/report.py

# The driver run by the TensorFlow interpreter: the package's documented API (DataLoader,
# MLP, MultiFold.Unfold); NaN observables of a level an event does not pass are set to 0
# (their weight is 0 there, but NaN * 0 would still poison the loss).
DRIVER = textwrap.dedent("""
    import sys, time
    import numpy as np
    import keras
    from omnifold import DataLoader, MultiFold, MLP
    from omnifold.net import weighted_binary_crossentropy
    # omnifold 0.1.36 reloads its checkpoints by the loss's name; Keras 3 needs it registered
    keras.utils.get_custom_objects()["weighted_binary_crossentropy"] = weighted_binary_crossentropy
    f = np.load(sys.argv[1])
    niter, out, epochs = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    gen, reco = np.nan_to_num(f["sim_gen"]), np.nan_to_num(f["sim_reco"])
    mean, std = reco[f["sim_pass_reco"]].mean(0), reco[f["sim_pass_reco"]].std(0)
    scale = lambda x: ((x - mean) / std).astype(np.float32)
    mc = DataLoader(reco=scale(reco), gen=scale(gen), pass_reco=f["sim_pass_reco"], pass_gen=f["sim_pass_gen"],
                    weight=f["sim_weights"].astype(np.float32), normalize=True)
    data = DataLoader(reco=scale(f["data_reco"]), pass_reco=np.ones(len(f["data_reco"]), bool),
                      weight=f["data_weights"].astype(np.float32), normalize=True)
    k = reco.shape[1]
    start = time.perf_counter()
    fold = MultiFold("bench", MLP(k), MLP(k), data, mc, niter=niter, epochs=epochs, weights_folder="of_weights",
                     verbose=False)
    fold.Unfold()
    np.savez(out, weights=fold.weights_push, seconds=time.perf_counter() - start)
""")


def _metrics(job, weights) -> dict[str, float]:
    sim, gen = job.sim, job.sim.pass_gen
    out = {}
    for j, name in enumerate(job.observables):
        edges = job.edges[name]
        truth = weighted_histogram(job.truth[:, j], bins=edges, weights=job.truth_weights).counts
        out[name] = triangular_discriminator(weighted_histogram(sim.gen[gen, j], bins=edges,
                                                                weights=weights[gen]).counts, truth)
    return out


def _settings(classifier: str, iterations: int, epochs: int) -> OmniFoldSettings:
    if classifier == "hgb":
        return OmniFoldSettings(iterations=iterations)
    mlp = ClassifierSettings(kind="mlp", mlp_hidden=(64, 128, 64), mlp_epochs=epochs, mlp_batch_size=128,
                             mlp_learning_rate=1e-4, mlp_best_epochs=1, balance_classes=False, device="cpu")
    return OmniFoldSettings(iterations=iterations, classifier=mlp)


def _ours(job, settings: OmniFoldSettings, iterations: int, repeats: int) -> tuple[dict[int, list[float]], np.ndarray]:
    seconds: dict[int, list[float]] = {1: [], 2: []}
    weights = None
    for rep in range(repeats):
        for threads in ((1, 2) if rep % 2 == 0 else (2, 1)):
            with threadpool_limits(threads):
                start = time.perf_counter()
                result = run_omnifold(job.sim, job.data, settings=settings, seed=11)
                seconds[threads].append((time.perf_counter() - start) / iterations)
            weights = result.weights
    return seconds, weights


def _package(tf_python: str, inputs: Path, iterations: int, epochs: int) -> tuple[float, float, np.ndarray] | str:
    with tempfile.TemporaryDirectory() as tmp:
        driver, out = Path(tmp) / "driver.py", Path(tmp) / "weights.npz"
        driver.write_text(DRIVER)
        start = time.perf_counter()
        proc = subprocess.run([tf_python, str(driver), str(inputs.resolve()), str(iterations), str(out), str(epochs)],
                              cwd=tmp, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            return f"failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}"
        with np.load(out) as f:
            return wall, float(f["seconds"]), f["weights"].astype(np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=Path, default=Path("results/unfold/inputs.npz"))
    parser.add_argument("--tf-python", help="interpreter with tensorflow and omnifold installed")
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=50, help="the package's most epochs per step (its default 50, "
                        "early stopping after 10 without improvement)")
    parser.add_argument("--classifier", choices=["hgb", "mlp"], default="hgb",
                        help="bumpfold's classifier (mlp: the package's layers, batch size, learning rate, --epochs)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    job = load_inputs(args.inputs)
    prior = _metrics(job, job.sim.weights)
    seconds, ours = _ours(job, _settings(args.classifier, args.iterations, args.epochs), args.iterations, args.repeats)
    ours_td = _metrics(job, ours)
    lines = [f"### OmniFold: bumpfold vs. the `omnifold` package, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
             f"- command: `python {' '.join(sys.argv)}`",
             f"- machine: {platform.machine()}, Python {platform.python_version()}; inputs {args.inputs}: "
             f"{job.sim.n_events} simulated events, {job.data.n_events} data events, {len(job.observables)} "
             f"observables, {args.iterations} iterations", "",
             f"- bumpfold classifier: {args.classifier}" + (f" (64-128-64, batch 128, lr 1e-4, {args.epochs} epochs, "
                                                             "best validation epoch)" if args.classifier == "mlp" else ""),
             "", "| | bumpfold, 1 thread | bumpfold, 2 threads |", "|---|---|---|",
             f"| seconds per iteration (median of {args.repeats}) | {statistics.median(seconds[1]):.2f} | "
             f"{statistics.median(seconds[2]):.2f} |"]
    package = _package(args.tf_python, args.inputs, args.iterations, args.epochs) if args.tf_python else "not run (no --tf-python)"
    header = "| observable | prior | bumpfold OmniFold |"
    if isinstance(package, tuple):
        wall, inner, theirs = package
        theirs_td = _metrics(job, theirs)
        lines += ["", f"`omnifold` package: **{inner:.0f} s** for {args.iterations} iterations "
                  f"({inner / args.iterations:.1f} s per iteration; {wall:.0f} s with TensorFlow's start-up), "
                  f"on all cores; MLP 64-128-64, batch 128, at most {args.epochs} epochs per step.", ""]
        header += " `omnifold` package |"
    else:
        theirs_td = None
        lines += ["", f"`omnifold` package: {package}", ""]
    lines += ["Triangular discriminator x 10^3 to the pseudo-data's particle level:", "", header,
              "|---|---|---|" + ("---|" if theirs_td else "")]
    for name in job.observables:
        row = f"| {name} | {prior[name]:.2f} | {ours_td[name]:.2f} |"
        lines.append(row + (f" {theirs_td[name]:.2f} |" if theirs_td else ""))
    emit("\n".join(lines) + "\n", args.output)


if __name__ == "__main__":
    main()
