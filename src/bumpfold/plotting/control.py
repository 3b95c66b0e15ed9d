"""Control plots of skimmed feature tables."""

from __future__ import annotations

from pathlib import Path

import mplhep
import numpy as np
import pandas as pd

from bumpfold.plotting.common import new_figure, save_figure

PANELS = (
    ("mjj", r"$m_{jj}$ [GeV]", np.linspace(2000, 6000, 41)),
    ("mj_low", r"$m_{j,\mathrm{low}}$ [GeV]", np.linspace(0, 800, 41)),
    ("mj_high", r"$m_{j,\mathrm{high}}$ [GeV]", np.linspace(0, 800, 41)),
    ("tau21_low", r"$\tau_{21}$ (lighter jet)", np.linspace(0, 1.2, 31)),
    ("tau21_high", r"$\tau_{21}$ (heavier jet)", np.linspace(0, 1.2, 31)),
    ("delta_eta_jj", r"$|\Delta\eta_{jj}|$", np.linspace(0, 5, 26)),
)


def plot_control(tables: dict[str, pd.DataFrame], output: str | Path) -> None:
    """One panel per observable, each dataset normalised to unit area."""
    fig, axes = new_figure(2, 3, figsize=(24, 14))
    for ax, (column, label, bins) in zip(axes.flat, PANELS):
        for name, table in tables.items():
            values = table["mj_low"] + table["delta_mj"] if column == "mj_high" else table[column]
            hist, _ = np.histogram(values, bins=bins, weights=table["weight"])
            total = hist.sum()
            mplhep.histplot(hist / total if total > 0 else hist, bins, ax=ax, label=f"{name} ({len(table)})")
        ax.set_xlabel(label)
        ax.set_ylabel("fraction of events")
        ax.legend(fontsize=14)
    fig.tight_layout()
    save_figure(fig, output)
