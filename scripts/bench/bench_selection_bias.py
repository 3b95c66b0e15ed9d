"""Split validation of the bump hunt's selection-bias correction on whole-chain toys.

1. From a finished toys run without a correction (its ``results/bumphunt`` rows, or a saved
   copy given with ``--before``), measure each selection's bias (bumpfold.bumphunt.toys:
   background kept inside the window over efficiency x data there, minus 1) on the first
   half of the background-only toys.
2. Write the run's config with ``bumphunt.selection_bias`` set to those values
   (CONFIG_bias.yaml beside it) and rerun every bump-hunt job of the toys with it
   (``snakemake --forcerun bumphunt_window``; the searches are reused). ``--no-run``: the run
   directory already holds the corrected rows.
3. Compare the local Z of the second half's toys, which the measurement did not use, with and
   without the correction (and of the first half, in-sample, for reference).

Usage: python scripts/bench/bench_selection_bias.py --run-dir RUN --config config/toys.yaml [--before SAVED]
"""

from __future__ import annotations

import argparse
import glob
import shutil
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import yaml

from bumpfold.bumphunt.toys import load_rows, selection_bias, z_distribution


def _rows(bumphunt_dir: Path) -> list[dict]:
    rows = load_rows(sorted(glob.glob(str(bumphunt_dir / "inj0_toy*" / "*" / "*.json"))))
    if not rows:
        raise SystemExit(f"{bumphunt_dir}: no background-only toy rows")
    return rows


def _z(rows: list[dict], toys: set[int]) -> dict[tuple[str, str], list[float]]:
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        if r["toy"] in toys and r["status"] == "ok" and r["selection"] != "inclusive":
            out[r["selection"], str(r["efficiency"])].append(r["local_significance"])
    return out


def _pm(dist: dict) -> str:
    return f"{dist['mean']:+.2f} +- {dist['mean_error']:.2f} / {dist['std']:.2f} +- {dist['std_error']:.2f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--config", type=Path, required=True, help="the toys run's config, relative to --run-dir")
    p.add_argument("--before", type=Path, help="a saved copy of the uncorrected results/bumphunt")
    p.add_argument("--no-run", action="store_true")
    p.add_argument("--cores", type=int, default=2)
    args = p.parse_args()
    before_dir = args.before or args.run_dir / "results" / "bumphunt"
    before = _rows(before_dir)
    n_toys = len({r["toy"] for r in before})
    first, second = set(range(n_toys // 2)), set(range(n_toys // 2, n_toys))
    measured = selection_bias([r for r in before if r["toy"] in first and r["injection"] == 0])
    correction: dict[str, dict[str, float]] = defaultdict(dict)
    for b in measured:
        correction[b["selection"]][b["efficiency"]] = round(max(b["bias"], 0.0), 3)
    config_path = args.run_dir / args.config
    config = yaml.safe_load(config_path.read_text())
    config.setdefault("bumphunt", {})["selection_bias"] = dict(correction)
    corrected_config = config_path.with_name(config_path.stem + "_bias.yaml")
    corrected_config.write_text(yaml.safe_dump(config, sort_keys=False))
    if not args.no_run:
        if args.before is None:  # keep the uncorrected rows: the rerun overwrites them
            saved = args.run_dir / "results" / "bumphunt_uncorrected"
            shutil.rmtree(saved, ignore_errors=True)
            shutil.copytree(before_dir, saved)
            before = _rows(saved)
        subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(args.cores), "results/toys/summary.json",
                        "--configfile", str(corrected_config.relative_to(args.run_dir)), "--rerun-triggers", "mtime",
                        "--forcerun", "bumphunt_window"], cwd=args.run_dir, check=True)
    after = _rows(args.run_dir / "results" / "bumphunt")
    now = datetime.now(timezone.utc)
    lines = [f"### Selection-bias correction, split validation on toys, {now:%Y-%m-%d %H:%M} UTC",
             f"- command: `python scripts/bench/bench_selection_bias.py --run-dir RUN --config {args.config}`",
             f"- bias measured on toys 0-{max(first)} (no correction); the correction "
             f"(`bumphunt.selection_bias`) applied to all {n_toys}; compared on toys {min(second)}-{max(second)}",
             "", "| selection | efficiency | bias, toys 0-%d | local Z mean / std, toys %d-%d: uncorrected | "
             "corrected | corrected, toys 0-%d (in-sample) |" % (max(first), min(second), max(second), max(first)),
             "|---|---|---:|---|---|---|"]
    z_before, z_after, z_in = _z(before, second), _z(after, second), _z(after, first)
    bias = {(b["selection"], b["efficiency"]): b for b in measured}
    for key in sorted(z_before):
        b = bias.get(key)
        measured_bias = "n/a" if b is None else f"{b['bias']:+.3f} +- {b['bias_error']:.3f}"
        lines.append(f"| {key[0]} | {key[1]} | {measured_bias} | {_pm(z_distribution(z_before[key]))} | "
                     f"{_pm(z_distribution(z_after[key]))} | {_pm(z_distribution(z_in[key]))} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
