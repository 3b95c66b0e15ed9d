"""What every figure shares: the Agg backend, the CMS style, the experiment-style label,
line styles that read in greyscale, and atomic PNG + PDF writing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402

from bumpfold.io.atomic import atomic_path  # noqa: E402

# Where colours repeat or print in grey, curves still differ by line style and marker.
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*")
EXTRA_COLORS = ("#2ca02c", "#8c564b", "#17becf", "#bcbd22")  # after the style's own: green, brown, cyan, olive


def new_figure(*args, **kwargs):
    plt.style.use(mplhep.style.CMS)
    return plt.subplots(*args, **kwargs)


def panel_row(n: int, *, width: float = 10, height: float = 8):
    """A figure with ``n`` panels side by side; returns (fig, list of axes)."""
    fig, axes = new_figure(1, n, figsize=(width * n, height), squeeze=False)
    return fig, list(axes[0])


def line_style(i: int) -> dict[str, Any]:
    """The ``i``-th curve's colour, line style and marker (matplotlib keyword arguments)."""
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"] + list(EXTRA_COLORS)  # the CMS style's has 6
    return {"color": colors[i % len(colors)], "ls": LINESTYLES[i % len(LINESTYLES)],
            "marker": MARKERS[i % len(MARKERS)]}


def experiment_label(ax, *, sqrt_s: float, luminosity_fb: float | None = None,
                     observed: bool = False) -> tuple[str, str]:
    """An experiment-style label above ``ax``, as mplhep draws it: "bumpfold" (bold; we are no experiment),
    then "Simulation Private work", or "Private work" where the figure shows observed data;
    on the right the luminosity [fb^-1] where known and sqrt(s) (given in GeV, shown in
    TeV). Returns the (left, right) texts after "bumpfold"."""
    left = "Private work" if observed else "Simulation Private work"
    energy = f"({sqrt_s / 1000:g} TeV)"
    right = energy if luminosity_fb is None else rf"{luminosity_fb:.3g} $\mathrm{{fb^{{-1}}}}$ {energy}"
    # about 0.7 of the style's font: the full CMS size overruns a 9-inch panel's width
    size = 0.7 * plt.rcParams["font.size"]
    # mplhep's exp_label places each text by drawing the whole figure first (0.6 s of 2.6 for a
    # window's spectra, bench_label.py); an annotation anchored to the bold name is placed when drawn. Sizes
    # as mplhep 1.3's: the name 1.3x the text, the luminosity and energy 1/1.1x
    name = ax.text(0, 1.005, "bumpfold", transform=ax.transAxes, ha="left", va="bottom", fontsize=1.3 * size,
                   fontweight="bold")
    ax.annotate(left, xy=(1, 0), xycoords=name, xytext=(0.25 * size, 0), textcoords="offset points", ha="left",
                va="bottom", fontsize=size, fontstyle="italic")
    ax.text(1, 1.005, right, transform=ax.transAxes, ha="right", va="bottom", fontsize=size / 1.1)
    return left, right


def save_figure(fig, output: str | Path, *, dpi: int = 80) -> None:
    """Write ``fig`` as PNG at ``output`` and as PDF beside it (same name, ``.pdf``), each
    atomically. The PDF carries no creation date, so a rerun gives the same bytes."""
    png = Path(output)
    if png.suffix != ".png":
        raise ValueError(f"{png}: figures are written as .png (and .pdf beside it)")
    with atomic_path(png.with_suffix(".pdf")) as tmp:
        fig.savefig(tmp, format="pdf", metadata={"CreationDate": None})
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
