"""Figures of the whole-chain pseudo-experiments (bumpfold.bumphunt.toys)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from bumpfold.plotting.common import experiment_label, line_style, panel_row, save_figure


def _selections(rows: list[dict[str, Any]]) -> list[str]:
    return sorted({r["selection"] for r in rows})


def plot_local_z(rows: list[dict[str, Any]], output: str | Path, *, sqrt_s: float) -> None:
    """Background-only toys: the local Z of each efficiency (all windows and signal models
    pooled) per selection, against N(0, 1)."""
    background = [r for r in rows if r.get("toy") is not None and r["injection"] == 0 and r["status"] == "ok"]
    selections = _selections(background) or ["none"]
    fig, axes = panel_row(len(selections), width=8, height=7)
    bins = np.linspace(-4, 4, 17)
    grid = np.linspace(-4, 4, 200)
    for ax, selection in zip(axes, selections, strict=True):
        mine = [r for r in background if r["selection"] == selection]
        for i, eff in enumerate(sorted({str(r["efficiency"]) for r in mine}, key=float, reverse=True)):
            z = [r["local_significance"] for r in mine if str(r["efficiency"]) == eff]
            style = line_style(i)
            spread = f", std {np.std(z, ddof=1):.2f}" if len(z) > 1 else ""
            ax.hist(z, bins=bins, density=True, histtype="step", color=style["color"], ls=style["ls"], lw=2,
                    label=f"efficiency {eff} ({len(z)} toys: mean {np.mean(z):.2f}{spread})")
        ax.plot(grid, stats.norm.pdf(grid), color="k", lw=1, label="N(0, 1)")
        ax.set_xlabel(f"local Z, {selection}")
        ax.set_ylabel("toys (normalised)")
        ax.set_ylim(0, 1.7 * ax.get_ylim()[1])  # room for the legend above the histograms
        ax.legend(fontsize="x-small", loc="upper left")
        experiment_label(ax, sqrt_s=sqrt_s)
    fig.tight_layout()
    save_figure(fig, output)


def plot_linearity(summary: dict[str, Any], output: str | Path, *, sqrt_s: float) -> None:
    """Fitted signal events against injected events per selection and efficiency, with the
    least-squares line; empty panel with a note when no toy was injected."""
    entries = summary["linearity"]
    selections = sorted({e["selection"] for e in entries}) or ["none"]
    fig, axes = panel_row(len(selections), width=8, height=7)
    for ax, selection in zip(axes, selections, strict=True):
        mine = [e for e in entries if e["selection"] == selection]
        for i, e in enumerate(mine):
            style = line_style(i)
            x = np.array([p["injected"] for p in e["points"]], dtype=float)
            y = np.array([p["mu_hat_events"] for p in e["points"]])
            ax.plot(x, y, ls="none", marker=style["marker"], color=style["color"],
                    label=f"{e['window']}, efficiency {e['efficiency']}")
            fit = e["mu_vs_injected"]
            if fit is not None:
                grid = np.linspace(0, x.max(), 2)
                ax.plot(grid, fit["slope"] * grid + fit["intercept"], color=style["color"], ls=style["ls"],
                        label=f"slope {fit['slope']:.3f} ± {fit['slope_error']:.3f}")
        if not mine:
            ax.text(0.5, 0.5, "no injected toys", transform=ax.transAxes, ha="center")
        ax.set_xlabel(f"injected signal events, {selection}")
        ax.set_ylabel(r"fitted signal $\hat\mu$ [events in the window]")
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + 0.6 * (high - low))  # room for the legend
        ax.legend(fontsize="x-small", loc="upper left")
        experiment_label(ax, sqrt_s=sqrt_s)
    fig.tight_layout()
    save_figure(fig, output)
