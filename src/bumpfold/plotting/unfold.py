"""Figures of the unfolding: unfolded distributions with ratio panels, convergence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bumpfold.plotting.common import MARKERS, experiment_label, new_figure, save_figure

LABELS = {"mass": "jet mass [GeV]", "multiplicity": "constituents", "tau21": r"$\tau_{21}$",
          "tau32": r"$\tau_{32}$", "msoftdrop": "soft-drop mass [GeV]", "pt": r"jet $p_T$ [GeV]"}
TD = "triangular_discriminator_1e3"


def plot_unfolded(summary: dict[str, Any], output: str | Path, *, sqrt_s: float, observed: bool = False,
                  columns: int = 3) -> None:
    """Per observable: truth, prior, IBU and OmniFold (normalised), and their ratio to the truth.
    ``sqrt_s`` [GeV] and ``observed`` (the unfolded data are collision data) label the panels."""
    names = list(summary["observables"])
    rows = -(-len(names) // columns)
    fig, axes = new_figure(2 * rows, columns, figsize=(9 * columns, 10 * rows), squeeze=False,
                           gridspec_kw={"height_ratios": [3, 1] * rows})
    for i, name in enumerate(names):
        o = summary["observables"][name]
        top, bottom = axes[2 * (i // columns), i % columns], axes[2 * (i // columns) + 1, i % columns]
        edges = np.array(o["edges"])
        centres = 0.5 * (edges[1:] + edges[:-1])
        # ratios to the truth where there is one (pseudo-data), else to the prior (real data)
        reference = np.array(o["truth"] if "truth" in o else o["prior"])
        safe = np.where(reference > 0, reference, np.nan)
        m = o.get("metrics", {})

        def label(text: str, method: str) -> str:
            return f"{text}, {m[method][TD]:.1f}" if method in m else text

        if "truth" in o:
            top.stairs(reference, edges, fill=True, color="lightgrey", label="truth (pseudo-data particle level)")
        top.stairs(o["prior"], edges, color="tab:green", ls="--", label=label("prior (simulation)", "prior"))
        top.stairs(o["ibu"], edges, color="tab:blue", label=label("IBU", "ibu"))
        if "generative" in o:
            top.stairs(o["generative"], edges, color="tab:purple", ls=":",
                       label=label("generative (flow)", "generative"))
            bottom.stairs(np.array(o["generative"]) / safe, edges, color="tab:purple", ls=":")
        top.errorbar(centres, o["omnifold"], yerr=o["omnifold_error"], fmt="o", color="black", ms=5,
                     label=label("OmniFold", "omnifold"))
        top.set(ylabel="fraction per bin", xlim=(edges[0], edges[-1]))
        top.legend(fontsize=11, title=r"triangular discr. $\times 10^3$" if m else None, title_fontsize=11)
        experiment_label(top, sqrt_s=sqrt_s, observed=observed)
        bottom.stairs(np.array(o["prior"]) / safe, edges, color="tab:green", ls="--")
        bottom.stairs(np.array(o["ibu"]) / safe, edges, color="tab:blue")
        bottom.errorbar(centres, np.array(o["omnifold"]) / safe, yerr=np.array(o["omnifold_error"]) / safe,
                        fmt="o", color="black", ms=5)
        bottom.axhline(1.0, color="grey", lw=1)
        bottom.set(xlabel=LABELS.get(name, name), ylabel="/ truth" if "truth" in o else "/ prior", ylim=(0.5, 1.5),
                   xlim=(edges[0], edges[-1]))
    for j in range(len(names), rows * columns):
        axes[2 * (j // columns), j % columns].set_axis_off()
        axes[2 * (j // columns) + 1, j % columns].set_axis_off()
    fig.tight_layout()
    save_figure(fig, output)


def plot_convergence(summary: dict[str, Any], output: str | Path, *, sqrt_s: float, observed: bool = False) -> None:
    """Triangular discriminator to the truth vs. iteration, OmniFold (ensemble mean) and IBU;
    labelled as :func:`plot_unfolded`."""
    fig, ax = new_figure(figsize=(10, 8))
    for k, (name, o) in enumerate(summary["observables"].items()):
        if "convergence" not in o:  # real data: no truth to converge to
            continue
        omni, ibu = o["convergence"]["omnifold"], o["convergence"]["ibu"]
        prior = o["metrics"]["prior"][TD]
        # an observable by colour and marker, a method by line style (solid OmniFold, dotted IBU)
        style = {"color": f"C{k % 10}", "marker": MARKERS[k % len(MARKERS)]}
        ax.plot(range(len(omni) + 1), [prior, *omni], ls="-", label=f"{name} OmniFold", **style)
        ax.plot(range(len(ibu) + 1), [prior, *ibu], ls=":", mfc="none", label=f"{name} IBU", **style)
    ax.set(xlabel="iteration (0 = prior)", ylabel=r"triangular discriminator $\times 10^3$")
    if not summary.get("has_truth", True):
        ax.text(0.5, 0.5, "real data: no truth to compare with", transform=ax.transAxes, ha="center")
    else:
        ax.set_yscale("log")
        ax.legend(fontsize=10, ncol=2)
    experiment_label(ax, sqrt_s=sqrt_s, observed=observed)
    fig.tight_layout()
    save_figure(fig, output)
