"""What every figure shares: the experiment-style label, greyscale-readable styles, PNG + PDF."""

from __future__ import annotations

import pytest

from bumpfold.plotting import bumphunt as bumphunt_plots
from bumpfold.plotting.common import experiment_label, line_style, new_figure, save_figure


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_simulation_is_labelled_as_such_with_energy_and_no_luminosity():
    fig, ax = new_figure()
    left, right = experiment_label(ax, sqrt_s=13000.0)
    assert (left, right) == ("Simulation Private work", "(13 TeV)")
    assert {"bumpfold", left, right} <= set(_texts(ax))  # drawn, not only returned
    assert not any("CMS" in t for t in _texts(ax))  # we claim no experiment


def test_observed_data_drop_simulation_and_show_their_luminosity():
    fig, ax = new_figure()
    left, right = experiment_label(ax, sqrt_s=13600.0, luminosity_fb=137.64, observed=True)
    assert left == "Private work" and "Simulation" not in " ".join(_texts(ax))
    assert right == r"138 $\mathrm{fb^{-1}}$ (13.6 TeV)" and right in _texts(ax)


def test_the_figures_carry_the_label_they_are_given(tmp_path, monkeypatch):
    """The limits of observed data: every panel says "Private work" (not "Simulation") and
    the luminosity; of pseudo-data without a luminosity: "Simulation" and sqrt(s) only."""
    figures = []
    monkeypatch.setattr(bumphunt_plots, "save_figure", lambda fig, output: figures.append(fig))
    rows = [{"injection": 0, "selection": "cathode", "efficiency": "0.01", "resonance_mass": m, "status": "ok",
             "headline": True, "limit_obs_fb": 10.0, "limit_exp_fb": [5.0, 7.0, 10.0, 14.0, 19.0]}
            for m in (3500.0, 3900.0)]
    bumphunt_plots.plot_limits(rows, tmp_path / "l.png", sqrt_s=13000.0, luminosity_fb=2.5, observed=True)
    bumphunt_plots.plot_limits(rows, tmp_path / "l.png", sqrt_s=13000.0, luminosity_fb=None, observed=False)
    observed, simulated = ([t for ax in fig.axes for t in _texts(ax)] for fig in figures)
    assert "Private work" in observed and r"2.5 $\mathrm{fb^{-1}}$ (13 TeV)" in observed
    assert not any("Simulation" in t for t in observed)
    assert "Simulation Private work" in simulated and "(13 TeV)" in simulated


def test_curves_differ_in_line_style_and_marker_not_only_colour():
    styles = [line_style(i) for i in range(4)]
    assert len({s["ls"] for s in styles}) == 4 and len({s["marker"] for s in styles}) == 4


def test_a_pdf_is_written_beside_the_png(tmp_path):
    fig, ax = new_figure()
    ax.plot([0, 1], [0, 1])
    save_figure(fig, tmp_path / "sub" / "f.png")
    assert (tmp_path / "sub" / "f.png").read_bytes().startswith(b"\x89PNG")
    pdf = (tmp_path / "sub" / "f.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and b"CreationDate" not in pdf  # no date: a rerun gives the same bytes
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["f.pdf", "f.png"]  # no temporary left
    with pytest.raises(ValueError, match="written as .png"):
        save_figure(fig, tmp_path / "f.svg")
