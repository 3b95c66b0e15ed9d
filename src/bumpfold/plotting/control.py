"""Control plots of skimmed feature tables."""

from __future__ import annotations

from pathlib import Path

import mplhep
import numpy as np
import pandas as pd

from bumpfold.plotting.common import experiment_label, line_style, new_figure, save_figure

PANELS = (
    ("mjj", r"$m_{jj}$ [GeV]", np.linspace(2000, 6000, 41)),
    ("mj_low", r"$m_{j,\mathrm{low}}$ [GeV]", np.linspace(0, 800, 41)),
    ("mj_high", r"$m_{j,\mathrm{high}}$ [GeV]", np.linspace(0, 800, 41)),
    ("tau21_low", r"$\tau_{21}$ (lighter jet)", np.linspace(0, 1.2, 31)),
    ("tau21_high", r"$\tau_{21}$ (heavier jet)", np.linspace(0, 1.2, 31)),
    ("delta_eta_jj", r"$|\Delta\eta_{jj}|$", np.linspace(0, 5, 26)),
)


def plot_control(tables: dict[str, pd.DataFrame], output: str | Path, *, sqrt_s: float,
                 luminosity_fb: float | None = None, observed: bool = False) -> None:
    """One panel per observable, each dataset normalised to unit area. ``sqrt_s`` [GeV],
    ``luminosity_fb`` and ``observed`` (a dataset is collision data) label the panels."""
    fig, axes = new_figure(2, 3, figsize=(24, 14))
    for ax, (column, label, bins) in zip(axes.flat, PANELS):
        for i, (name, table) in enumerate(tables.items()):
            values = table["mj_low"] + table["delta_mj"] if column == "mj_high" else table[column]
            hist, _ = np.histogram(values, bins=bins, weights=table["weight"])
            total = hist.sum()
            style = line_style(i)
            mplhep.histplot(hist / total if total > 0 else hist, bins, ax=ax, label=f"{name} ({len(table)})",
                            color=style["color"], ls=style["ls"])
        ax.set_xlabel(label)
        ax.set_ylabel("fraction of events")
        ax.legend(fontsize=14)
        experiment_label(ax, sqrt_s=sqrt_s, luminosity_fb=luminosity_fb, observed=observed)
    fig.tight_layout()
    save_figure(fig, output)
