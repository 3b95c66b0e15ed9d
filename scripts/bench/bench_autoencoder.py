"""The jet autoencoder's settings, measured on a finished run's SR: max SIC and AUC over seeds.

Trains the autoencoder (bumpfold.ml.autoencoder) on one window's SR data, as the search
does, for each setting and seed, and evaluates it on every SR background event of the
labelled test and idealised sets (more background than the test set alone, so max SIC is
less noisy) against the labelled test signal.

Usage: python scripts/bench/bench_autoencoder.py --run-dir RUN [--injection 200] [--seeds 1 2 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from bumpfold.ml.autoencoder import JET_COLUMNS, JetAutoencoder
from bumpfold.ml.settings import AutoencoderSettings
from bumpfold.search.metrics import performance

SETTINGS = {
    "default (min, bottleneck 1)": {},
    "max, bottleneck 1": {"combine": "max"},
    "min, bottleneck 2": {"latent": 2},
    "max, bottleneck 2": {"combine": "max", "latent": 2},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--injection", default="200")
    p.add_argument("--window", type=float, nargs=2, default=[3300.0, 3700.0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = p.parse_args()
    table = pd.read_parquet(args.run_dir / f"results/search/inj{args.injection}/datasets.parquet")
    low, high = args.window
    sr = table[(table.mjj > low) & (table.mjj < high)]
    train = sr[sr.role == "data"][list(JET_COLUMNS)].to_numpy()
    evaluation = pd.concat([sr[sr.role.isin(["ideal", "test"]) & (sr.is_signal == 0)],
                            sr[(sr.role == "test") & (sr.is_signal == 1)]])
    x, labels = evaluation[list(JET_COLUMNS)].to_numpy(), evaluation.is_signal.to_numpy()
    lines = [f"### Jet autoencoder settings, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
             f"- command: `python scripts/bench/bench_autoencoder.py --run-dir RUN --injection {args.injection}` "
             f"on {platform.machine()}, Python {platform.python_version()}",
             f"- trained on the {len(train)} SR data events of injection {args.injection} "
             f"({low:.0f}-{high:.0f} GeV); evaluated on {int((labels == 0).sum())} SR background and "
             f"{int(labels.sum())} test signal events; seeds {args.seeds}", "",
             "| setting | max SIC (mean +- std) | AUC | SIC at eps_S = 0.2 | seconds per fit |",
             "|---|---:|---:|---:|---:|"]
    for name, changes in SETTINGS.items():
        settings = dataclasses.replace(AutoencoderSettings(device="cpu"), **changes)
        rows = []
        for seed in args.seeds:
            started = time.perf_counter()
            model = JetAutoencoder(settings, seed).fit(train)
            seconds = time.perf_counter() - started
            perf = performance(model.score(x), labels)
            rows.append((perf.max_sic, perf.auc, perf.sic_at_0p2, seconds))
        r = np.array(rows)
        lines.append(f"| {name} | {r[:, 0].mean():.2f} +- {r[:, 0].std():.2f} | {r[:, 1].mean():.3f} +- "
                     f"{r[:, 1].std():.3f} | {r[:, 2].mean():.2f} | {np.median(r[:, 3]):.1f} |")
        print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
