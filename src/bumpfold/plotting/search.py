"""Figures of the search: ROC/SIC per window, SIC vs. injected signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bumpfold.plotting.common import experiment_label, line_style, new_figure, panel_row, save_figure
from bumpfold.search.datasets import has_truth
from bumpfold.search.metrics import roc_curve


def plot_roc_sic(score_tables: dict[str, pd.DataFrame], title: str, output: str | Path, *, sqrt_s: float,
                 min_background: int = 25) -> None:
    """ROC and SIC per method on the labelled test set (simulated events: labelled
    "Simulation" whatever the data; ``sqrt_s`` in GeV)."""
    fig, (roc, sic) = new_figure(1, 2, figsize=(20, 9))
    judged = {m: t[t.set == "test"] for m, t in score_tables.items() if has_truth(t[t.set == "test"])}
    if not judged:  # observed data without a labelled test set
        for ax in (roc, sic):
            ax.text(0.5, 0.5, "no labelled test set: not evaluated", ha="center", va="center", transform=ax.transAxes)
    for i, (method, test) in enumerate(judged.items()):
        eps_s, eps_b, n_bkg = roc_curve(test.score.to_numpy(), test.is_signal.to_numpy())
        ok = (n_bkg >= min_background) & (eps_b > 0)
        # markers spaced along the curve (a marker per threshold would be a smear)
        style = {**line_style(i), "markevery": 0.1, "ms": 8, "label": method}
        roc.plot(eps_s[ok], 1.0 / eps_b[ok], **style)
        sic.plot(eps_s[ok], eps_s[ok] / np.sqrt(eps_b[ok]), **style)
    roc.plot(np.linspace(0.01, 1, 50), 1 / np.linspace(0.01, 1, 50), "k:", label="random")
    sic.plot(np.linspace(0, 1, 50), np.sqrt(np.linspace(0, 1, 50)), "k:", label="random")
    roc.set(xlabel=r"signal efficiency $\epsilon_S$", ylabel=r"background rejection $1/\epsilon_B$", yscale="log")
    sic.set(xlabel=r"signal efficiency $\epsilon_S$", ylabel=r"SIC $\epsilon_S/\sqrt{\epsilon_B}$")
    for ax in (roc, sic):
        ax.legend(fontsize=16, title=title, title_fontsize=16)
        experiment_label(ax, sqrt_s=sqrt_s)
    fig.tight_layout()
    save_figure(fig, output)


def plot_sic_vs_injection(summary: list[dict], output: str | Path, *, sqrt_s: float) -> None:
    """Max SIC per method against the true S/B in the SR data, one panel per window (truth:
    simulation; ``sqrt_s`` in GeV)."""
    windows = sorted({row["window"] for row in summary})
    fig, axes = panel_row(len(windows), height=9)
    for ax, window in zip(axes, windows):
        # observed data: S/B unknown, nothing to place on this axis
        rows = sorted((r for r in summary if r["window"] == window and r["s_over_b"] is not None),
                      key=lambda r: r["s_over_b"])
        if not rows:
            ax.text(0.5, 0.5, "observed data: S/B unknown", ha="center", va="center", transform=ax.transAxes)
        for i, method in enumerate(sorted({r["method"] for r in rows if "max_sic" in r})):
            pts = [(r["s_over_b"] * 100, r["max_sic"]) for r in rows if r["method"] == method and "max_sic" in r]
            ax.plot(*zip(*pts), ms=10, label=method, **line_style(i))
        ax.axhline(1.0, color="k", ls=":")
        ax.set(xlabel="S/B in the SR data [%]", ylabel="max SIC")
        if rows:  # the window names the legend: the label takes the space above the panel
            ax.legend(fontsize=16, title=window, title_fontsize=16)
        else:
            ax.text(0.5, 0.4, window, ha="center", va="center", transform=ax.transAxes)
        experiment_label(ax, sqrt_s=sqrt_s)
    fig.tight_layout()
    save_figure(fig, output)
