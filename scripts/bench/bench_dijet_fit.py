"""The dijet background fit (bumphunt/spectrum.py) against the same module at another git
revision, on the same Poisson pseudo-spectra: minima, uncertainties, covariance accuracy,
the F-test's choice and time per fit.

    .venv/bin/python scripts/bench/bench_dijet_fit.py --against 7426d63 [--toys 100] [--output docs/benchmarks/dijet_fit.md]

Pseudo-spectra: 25k events from a 3- and a 4-parameter dijet function over the default
binning (2.8-5.5 TeV, 100 GeV bins), window 3.3-3.7 TeV blinded. Each is fitted with the
F-test (2-5 parameters, as the workflow does) and with n fixed at 4 and 5. "Covariance
error": the largest departure of the deviance's curvature, by finite differences along the
covariance's own axes, from what the covariance implies (0 for an exact covariance).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
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
from report import emit  # noqa: E402

MODULE = "src/bumpfold/bumphunt/spectrum.py"
SQRT_S = 13000.0


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def covariance_error(mod, counts, mask, edges, params, cov) -> float:
    n, h = len(params), 0.01
    root = np.linalg.cholesky(cov)
    step = np.eye(n) * h

    def deviance(z):
        return mod.poisson_deviance(counts[mask], mod.bin_integrals(params + root @ z, edges, SQRT_S)[mask])

    hess = np.array([[(deviance(step[i] + step[j]) - deviance(step[i] - step[j]) - deviance(step[j] - step[i])
                       + deviance(-step[i] - step[j])) / (4 * h * h) for j in range(n)] for i in range(n)])
    return float(np.abs(0.5 * hess - np.eye(n)).max())


def fit(mod, counts, edges, mask, **limits):
    try:
        return mod.fit_background(counts, edges, mask, sqrt_s=SQRT_S, **limits)
    except mod.FitError:
        return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--against", required=True, help="git revision of the former fit")
    p.add_argument("--toys", type=int, default=100)
    p.add_argument("--output", type=Path)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp())
    (tmp / "former.py").write_text(subprocess.run(["git", "-C", str(ROOT), "show", f"{args.against}:{MODULE}"],
                                                  check=True, capture_output=True, text=True).stdout)
    fits = {"current": load(ROOT / MODULE, "spectrum_current"), "former": load(tmp / "former.py", "spectrum_former")}
    binning = fits["current"].Binning(2800.0, 5500.0, 100.0)
    edges, outside = binning.edges, ~binning.window_mask(3300.0, 3700.0)
    stats = {k: {"time": [], "fail": {4: 0, 5: 0}, "cov": {4: [], 5: []}, "dev": {4: [], 5: []}, "n": []} for k in fits}
    sigma_ratio = {4: [], 5: []}
    for shape in (np.array([0.0, 10.0, 6.0]), np.array([0.0, 6.0, 8.0, 0.6])):
        shape[0] = np.log(25000.0 / fits["current"].bin_integrals(shape, edges, SQRT_S).sum())
        mu = fits["current"].bin_integrals(shape, edges, SQRT_S)
        rng = np.random.default_rng(12345)
        for toy in range(args.toys):
            counts = rng.poisson(mu).astype(float)
            fixed = {}
            for name in (("current", "former") if toy % 2 else ("former", "current")):
                mod, s = fits[name], stats[name]
                t0 = time.perf_counter()
                default = fit(mod, counts, edges, outside)
                s["time"].append(time.perf_counter() - t0)
                s["n"].append(default.n_params if default else 0)
                for n in (4, 5):
                    result = fit(mod, counts, edges, outside, min_params=n, max_params=n)
                    fixed[name, n] = result
                    if result is None or not np.all(np.linalg.eigvalsh(result.covariance) > 0):
                        s["fail"][n] += 1
                        continue
                    s["cov"][n].append(covariance_error(mod, counts, outside, edges, result.params, result.covariance))
                    s["dev"][n].append(result.deviance)
            for n in (4, 5):
                if fixed["current", n] is not None and fixed["former", n] is not None:
                    sigma_ratio[n].append(np.sqrt(np.diag(fixed["current", n].covariance)
                                                  / np.abs(np.diag(fixed["former", n].covariance))))
    emit(markdown(args, stats, sigma_ratio), args.output)


def markdown(args, stats: dict, sigma_ratio: dict) -> str:
    cur, old = stats["current"], stats["former"]
    same_n = sum(a == b for a, b in zip(cur["n"], old["n"]))
    rows = []
    for n in (4, 5):
        paired = min(len(cur["dev"][n]), len(old["dev"][n]))
        lower = sum(c <= o + 1e-6 * abs(o) for c, o in zip(cur["dev"][n][:paired], old["dev"][n][:paired]))
        ratio = np.concatenate(sigma_ratio[n]) if sigma_ratio[n] else np.array([np.nan])
        rows.append(f"| {n} | {old['fail'][n]} / {cur['fail'][n]} | {np.median(old['cov'][n]):.1e} (max "
                    f"{max(old['cov'][n]):.1e}) / {np.median(cur['cov'][n]):.1e} (max {max(cur['cov'][n]):.1e}) | "
                    f"{np.median(ratio):.4f} [{np.quantile(ratio, 0.16):.3f}, {np.quantile(ratio, 0.84):.3f}] | "
                    f"{lower}/{paired} |")
    t_old, t_cur = statistics.median(old["time"]), statistics.median(cur["time"])
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""### Dijet background fit: iminuit vs the former scipy fit, {now}

`python scripts/bench/bench_dijet_fit.py --against {args.against} --toys {args.toys}` ({platform.machine()},
Python {platform.python_version()}): {2 * args.toys} pseudo-spectra (25k events; 3- and 4-parameter truths), the
same for both, interleaved.

| n fixed | failures former / iminuit | covariance error former / iminuit (median) | sigma iminuit / former (median [16-84 %]) | iminuit deviance <= former |
|---|---|---|---|---|
{chr(10).join(rows)}

Default fit (F-test, 2-5 parameters): the same number of parameters in {same_n}/{len(cur['n'])}; median time per
fit {t_old * 1e3:.0f} ms (former) vs **{t_cur * 1e3:.0f} ms** (iminuit), **{t_old / t_cur:.1f}x**.
"""


if __name__ == "__main__":
    main()
