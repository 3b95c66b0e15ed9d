"""Time a bump-hunt window figure (2 efficiencies x (spectrum, pulls), log y, PDF + PNG) with its
experiment label drawn by mplhep's exp_label (bumpfold before 50536f4) and by bumpfold's own
annotation, interleaved in one process; median of 7 each.

    .venv/bin/python scripts/bench/bench_label.py
"""

import statistics
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import mplhep
import numpy as np

from bumpfold.plotting import common

OUT = Path(tempfile.mkdtemp()) / "figure.png"


def mplhep_label(ax, *, sqrt_s, luminosity_fb=None, observed=False):
    """bumpfold's label as it was drawn before 50536f4."""
    size = 0.7 * plt.rcParams["font.size"]
    mplhep.label.exp_label(exp="bumpfold", llabel="Simulation Private work",
                           rlabel=rf"{luminosity_fb:.3g} $\mathrm{{fb^{{-1}}}}$ (13 TeV)", loc=0, ax=ax, fontsize=size)


def figure(label) -> None:
    """The shape of bumpfold.plotting.bumphunt.plot_window_spectra's figure, with ``label``."""
    fig, axes = common.new_figure(2, 2, figsize=(18, 10), squeeze=False, sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    x = np.linspace(2800, 5500, 28)
    y = np.exp(-x / 500) * 1e6
    for col in range(2):
        top, bottom = axes[0, col], axes[1, col]
        top.errorbar(x, y, yerr=np.sqrt(y), fmt="ko", ms=4, label="selected data")
        top.stairs(y[:-1], x, label="fit")
        top.axvspan(3300, 3700, alpha=.15, label="window")
        top.set(yscale="log", ylabel="events / bin")
        top.legend(fontsize=12, title="efficiency 0.1", title_fontsize=12)
        label(top, sqrt_s=13000.0, luminosity_fb=3.25)
        bottom.bar(x, np.ones_like(x))
        bottom.set(xlabel=r"$m_{jj}$ [GeV]", ylabel="pull", ylim=(-4, 4))
    fig.tight_layout()
    common.save_figure(fig, OUT)


def main() -> None:
    figure(common.experiment_label)  # warm-up: fonts and caches
    times: dict[str, list[float]] = {"mplhep exp_label": [], "annotation": []}
    for _ in range(7):
        for name, label in (("mplhep exp_label", mplhep_label), ("annotation", common.experiment_label)):
            start = time.perf_counter()
            figure(label)
            times[name].append(time.perf_counter() - start)
    for name, v in times.items():
        print(f"{name}: median {statistics.median(v):.2f} s per figure (min {min(v):.2f}, max {max(v):.2f})")


if __name__ == "__main__":
    main()
