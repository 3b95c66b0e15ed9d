"""What every figure shares: the Agg backend, the CMS style, atomic PNG writing."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402

from bumpfold.io.atomic import atomic_path  # noqa: E402


def new_figure(*args, **kwargs):
    plt.style.use(mplhep.style.CMS)
    return plt.subplots(*args, **kwargs)


def panel_row(n: int, *, width: float = 10, height: float = 8):
    """A figure with ``n`` panels side by side; returns (fig, list of axes)."""
    fig, axes = new_figure(1, n, figsize=(width * n, height), squeeze=False)
    return fig, list(axes[0])


def save_figure(fig, output: str | Path, dpi: int = 80) -> None:
    with atomic_path(output) as tmp:
        fig.savefig(tmp, format=Path(output).suffix.lstrip(".") or "png", dpi=dpi)
    plt.close(fig)
