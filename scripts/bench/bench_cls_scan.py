"""CLs upper limits (bumphunt/model.py, ``upper_limits``) against the same module at another git
revision, on the pyhf workspaces of a finished run: time per limit and the largest difference
of the observed and expected limits.

    .venv/bin/python scripts/bench/bench_cls_scan.py --run-dir RUN --against f12ca21 [--repeats 3] [--output FILE]

RUN is a workflow directory whose bump hunt has run (results/bumphunt/**/workspaces/*/*.json).
Each workspace's limits are computed by both modules in turn, ``--repeats`` times, alternating
which goes first; the times quoted are medians per workspace, then summed over workspaces.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dijet_fit import load  # noqa: E402
from report import emit  # noqa: E402

MODULE = "src/bumpfold/bumphunt/model.py"


def window_counts(mod, spec: dict, name: str):
    """The counts ``upper_limits`` reads (data, background, signal), back from the workspace."""
    samples = {s["name"]: np.array(s["data"], dtype=float) for s in spec["channels"][0]["samples"]}
    data = np.array(spec["observations"][0]["data"], dtype=float)
    return mod.WindowCounts(name, data, samples["background"], [], samples["signal"])


def timed_limits(mod, spec: dict, counts) -> tuple[float, list[float]]:
    start = time.perf_counter()
    obs, exp = mod.upper_limits(spec, counts)
    return time.perf_counter() - start, [obs, *exp]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--against", required=True, help="git revision of the former module")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--output", type=Path)
    args = p.parse_args()
    import pyhf

    pyhf.set_backend("numpy", "scipy")
    tmp = Path(tempfile.mkdtemp())
    (tmp / "former.py").write_text(subprocess.run(["git", "-C", str(ROOT), "show", f"{args.against}:{MODULE}"],
                                                  check=True, capture_output=True, text=True).stdout)
    modules = {"current": load(ROOT / MODULE, "model_current"), "former": load(tmp / "former.py", "model_former")}
    paths = sorted(args.run_dir.glob("results/bumphunt/**/workspaces/*/*.json"))
    if not paths:
        sys.exit(f"{args.run_dir}: no pyhf workspaces under results/bumphunt (run the bump hunt first)")
    times: dict[str, list[float]] = {k: [] for k in modules}
    worst = 0.0
    for path in paths:
        spec = json.loads(path.read_text())
        per: dict[str, list[float]] = {k: [] for k in modules}
        limits = {}
        for r in range(args.repeats):
            for name in (("former", "current") if r % 2 == 0 else ("current", "former")):
                seconds, limits[name] = timed_limits(modules[name], spec, window_counts(modules[name], spec, path.stem))
                per[name].append(seconds)
        for name in modules:
            times[name].append(statistics.median(per[name]))
        worst = max(worst, float(np.max(np.abs(np.subtract(limits["current"], limits["former"]))
                                        / np.abs(limits["former"]))))
    total = {k: sum(v) for k, v in times.items()}
    median = {k: statistics.median(v) for k, v in times.items()}
    ratios = [f / c for f, c in zip(times["former"], times["current"])]
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    emit(f"""### CLs upper limits: cached mu-independent fits vs the module at {args.against}, {date}
- command: `python scripts/bench/bench_cls_scan.py --run-dir RUN --against {args.against} --repeats {args.repeats}`
  ({platform.machine()}, Python {platform.python_version()}; RUN: the default workflow's run, {len(paths)} workspaces)
- time per limit, median over workspaces: {median['former']:.3f} s before, {median['current']:.3f} s now; all
  workspaces {total['former']:.1f} s vs {total['current']:.1f} s; speed-up per workspace: median
  **{statistics.median(ratios):.2f}x** (range {min(ratios):.2f}-{max(ratios):.2f})
- largest relative difference of any observed or expected limit: **{worst:.1e}**
""", args.output)


if __name__ == "__main__":
    main()
