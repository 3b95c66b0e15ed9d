"""Figures of the bump hunt: spectra with fit and pulls, significance per window, limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bumpfold.bumphunt.spectrum import Binning
from bumpfold.bumphunt.summary import scenario_family
from bumpfold.plotting.common import MARKERS, experiment_label, line_style, new_figure, panel_row, save_figure
from bumpfold.regions import Window


def plot_window_spectra(spectra: dict[str, dict], binning: Binning, window: Window, title: str,
                        output: str | Path, *, sqrt_s: float, luminosity_fb: float | None,
                        observed: bool) -> None:
    """Per efficiency: selected m_jj spectrum, background fit, fitted signal, pulls.
    ``sqrt_s`` [GeV], the data's ``luminosity_fb`` (None: unknown) and ``observed`` (the
    data are collision data, not simulation) label the panels."""
    edges = binning.edges
    centres = 0.5 * (edges[1:] + edges[:-1])
    n = max(len(spectra), 1)
    fig, axes = new_figure(2, n, figsize=(9 * n, 10), squeeze=False, sharex=True,
                           gridspec_kw={"height_ratios": [3, 1]})
    for col, (eff, s) in enumerate(sorted(spectra.items(), key=lambda kv: -float(kv[0]))):
        top, bottom = axes[0, col], axes[1, col]
        counts, fit = s["counts"], s["fit"]
        pred = fit.predict(edges)
        top.errorbar(centres, counts, yerr=np.sqrt(counts), fmt="ko", ms=4, label="selected data")
        top.stairs(pred, edges, color="tab:blue", label=f"dijet fit, {fit.n_params} par.")
        if not np.allclose(s["correction"], 1.0):
            pred = pred * s["correction"]
            top.stairs(pred, edges, color="tab:green", ls="-.", label="fit x sculpting correction (background sim.)")
        for k, (model, signal) in enumerate(s["signals"].items()):
            top.stairs(pred + signal, edges, color=f"C{3 + k}", ls=("--", ":")[k % 2],
                       label=f"fit + {model} (best fit, window)")
        top.axvspan(window.low, window.high, color="tab:orange", alpha=0.15, label="signal window (blinded in fit)")
        top.set(yscale="log", ylabel="events / bin")
        top.legend(fontsize=12, title=f"efficiency {eff}", title_fontsize=12)
        experiment_label(top, sqrt_s=sqrt_s, luminosity_fb=luminosity_fb, observed=observed)
        pulls = (counts - pred) / np.sqrt(np.maximum(pred, 1e-9))
        bottom.bar(centres, pulls, width=np.diff(edges), color="grey")
        bottom.axvspan(window.low, window.high, color="tab:orange", alpha=0.15)
        bottom.set(xlabel=r"$m_{jj}$ [GeV]", ylabel="pull", ylim=(-4, 4))
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, output)


def plot_significance_by_window(rows: list[dict], output: str | Path, *, sqrt_s: float,
                                luminosity_fb: float | None, observed: bool) -> None:
    """Local significance of each window's own signal model, per selection and injection;
    labelled as :func:`plot_window_spectra`."""
    injections = sorted({r["injection"] for r in rows})
    # one colour per (selection, efficiency) in every panel; markers only, since a window
    # whose fit failed has no point and a line would bridge it
    labels = sorted({f"{r['selection']} eff {r['efficiency']}" for r in rows})
    styles = {label: {"color": f"C{i % 10}", "marker": MARKERS[i % len(MARKERS)]} for i, label in enumerate(labels)}
    fig, axes = panel_row(len(injections))
    for ax, injection in zip(axes, injections):
        series: dict[str, list[tuple[float, float]]] = {}
        for r in rows:
            if r["injection"] == injection and r.get("status") == "ok" and r.get("headline"):
                series.setdefault(f"{r['selection']} eff {r['efficiency']}", []).append(
                    (r["window_centre"], r["local_significance"]))
        for label, pts in sorted(series.items()):
            ax.plot(*zip(*sorted(pts)), ls="none", ms=10, label=label, **styles[label])
        for z in (3, 5):
            ax.axhline(z, color="k", ls=":")
        ax.set(xlabel=r"window centre $m_{jj}$ [GeV]", ylabel=r"local significance [$\sigma$]")
        ax.legend(fontsize=12, title=f"{injection} signal events injected", title_fontsize=12)
        experiment_label(ax, sqrt_s=sqrt_s, luminosity_fb=luminosity_fb, observed=observed)
    fig.tight_layout()
    save_figure(fig, output)


def plot_limits(rows: list[dict], output: str | Path, *, sqrt_s: float, luminosity_fb: float | None,
                observed: bool) -> None:
    """95% CL limit on sigma x B vs. resonance mass (Brazil band): a row of panels per
    injection, a column per (selection, efficiency); in signal events in the window where the
    data's luminosity is unknown. Rows with a ``family`` (topology and daughter masses) of
    several kinds: a curve per family with its +-1 sigma band. Labelled as
    :func:`plot_window_spectra`."""
    unit = "fb" if all(r.get("limit_exp_fb") is not None for r in rows) else "events"
    rows = [{**r, "limit_exp": r[f"limit_exp_{unit}"], "limit_obs": r[f"limit_obs_{unit}"]} for r in rows]
    selections = sorted({(r["selection"], r["efficiency"]) for r in rows})
    injections = sorted({r["injection"] for r in rows})
    fig, axes = new_figure(len(injections), len(selections), figsize=(9 * len(selections), 8 * len(injections)),
                           squeeze=False)
    for row_axes, injection in zip(axes, injections):
        for ax, (selection, eff) in zip(row_axes, selections):
            pts = sorted(((r["resonance_mass"], i) for i, r in enumerate(rows)
                          if (r["selection"], r["efficiency"], r["injection"]) == (selection, eff, injection)))
            if not pts:
                ax.set_axis_off()
                continue
            families = sorted({rows[i].get("family", "") for _, i in pts})
            for k, family in enumerate(families):
                mine = [(mass, i) for mass, i in pts if rows[i].get("family", "") == family]
                m = np.array([mass for mass, _ in mine])
                exp = np.array([rows[i]["limit_exp"] for _, i in mine])
                obs = np.array([rows[i]["limit_obs"] for _, i in mine])
                if len(families) == 1:  # one topology: the usual Brazil band
                    ax.fill_between(m, exp[:, 0], exp[:, 4], color="gold", label=r"expected $\pm 2\sigma$")
                    ax.fill_between(m, exp[:, 1], exp[:, 3], color="limegreen", label=r"expected $\pm 1\sigma$")
                    ax.plot(m, exp[:, 2], "k--", label="expected")
                    ax.plot(m, obs, "ko-", label="observed")
                    continue
                style = line_style(k)  # several topologies: a colour each, +-1 sigma shaded
                ax.fill_between(m, exp[:, 1], exp[:, 3], color=style["color"], alpha=0.2, lw=0)
                ax.plot(m, exp[:, 2], ls="--", color=style["color"])
                ax.plot(m, obs, ls="-", marker=style["marker"], color=style["color"],
                        label=f"{family}: observed (solid), expected (dashed)")
            ylabel = (r"95% CL limit on $\sigma \times B$ [fb]" if unit == "fb"
                      else "95% CL limit [signal events in the window]")
            ax.set(xlabel="resonance mass [GeV]", ylabel=ylabel, yscale="log")
            ax.legend(fontsize=12, title=f"{selection}, efficiency {eff}, {injection} injected", title_fontsize=12)
            experiment_label(ax, sqrt_s=sqrt_s, luminosity_fb=luminosity_fb, observed=observed)
    fig.tight_layout()
    save_figure(fig, output)


def plot_scan_limits(limits: list, output: str | Path, *, sqrt_s: float, observed: bool) -> None:
    """Excluded sigma x B from the injection scans (bumpfold.bumphunt.injection_limits) vs.
    resonance mass: a panel per (selection, efficiency), a colour per topology and daughter
    masses; expected median (dashed) with its +-1 sigma band, observed (solid). A scenario
    not excluded within its scan is drawn as an upward triangle at its largest injection."""
    selections = sorted({(lim.selection, lim.efficiency) for lim in limits})
    families = sorted({scenario_family(lim.info) for lim in limits})
    fig, axes = panel_row(max(len(selections), 1), width=9)
    for ax, (selection, eff) in zip(axes, selections):
        for k, family in enumerate(families):
            style = line_style(k)
            pts = sorted((lim.info.get("m_resonance", 0.0), lim) for lim in limits
                         if (lim.selection, lim.efficiency) == (selection, eff) and scenario_family(lim.info) == family)
            if not pts:
                continue
            m = np.array([mass for mass, _ in pts])
            exp = np.array([[c.sigma_fb if c.sigma_fb is not None else np.nan for c in lim.expected]
                            for _, lim in pts])
            obs = np.array([np.nan if lim.observed.sigma_fb is None else lim.observed.sigma_fb for _, lim in pts])
            ax.fill_between(m, exp[:, 1], exp[:, 3], color=style["color"], alpha=0.2, lw=0)
            ax.plot(m, exp[:, 2], ls="--", color=style["color"])
            ax.plot(m, obs, ls="-", marker=style["marker"], color=style["color"], label=family)
            reach = [(mass, lim.points[-1].sigma_fb) for mass, lim in pts if lim.expected[2].sigma_fb is None]
            if reach:
                ax.plot(*zip(*reach), ls="none", marker="^", ms=12, mfc="none", color=style["color"])
        ax.set(xlabel="resonance mass [GeV]", ylabel=r"excluded $\sigma \times B$ [fb] (95% CL)", yscale="log")
        ax.legend(fontsize=11, title=f"{selection}, efficiency {eff}: observed (solid), expected (dashed)",
                  title_fontsize=11)
        lumi = limits[0].luminosity_fb if limits else None
        experiment_label(ax, sqrt_s=sqrt_s, luminosity_fb=lumi, observed=observed)
    fig.tight_layout()
    save_figure(fig, output)


def plot_scenarios(limits: list, output: str | Path, *, sqrt_s: float, observed: bool) -> None:
    """CASE-like summary: the expected excluded sigma x B of every scenario (x) for every
    selection and efficiency (marker), +-1 sigma as error bars; upward triangles: not
    excluded up to the scan's largest injection."""
    scenarios = sorted({(lim.info.get("topology", ""), lim.info.get("m_resonance", 0.0), lim.signal_model)
                        for lim in limits})
    x_of = {name: i for i, (_, _, name) in enumerate(scenarios)}
    selections = sorted({(lim.selection, lim.efficiency) for lim in limits})
    fig, axes = new_figure(figsize=(max(10.0, 1.2 * len(scenarios) + 4), 8))
    ax = axes
    for k, (selection, eff) in enumerate(selections):
        style = line_style(k)
        offset = 0.6 * (k - (len(selections) - 1) / 2) / max(len(selections), 1)
        for lim in (lim for lim in limits if (lim.selection, lim.efficiency) == (selection, eff)):
            x = x_of[lim.signal_model] + offset
            e = lim.expected
            if e[2].sigma_fb is None:
                ax.plot(x, lim.points[-1].sigma_fb, ls="none", marker="^", mfc="none", ms=12, color=style["color"])
                continue
            low = e[1].sigma_fb if e[1].sigma_fb is not None else e[2].sigma_fb
            high = e[3].sigma_fb if e[3].sigma_fb is not None else e[2].sigma_fb
            ax.errorbar(x, e[2].sigma_fb, yerr=[[e[2].sigma_fb - low], [high - e[2].sigma_fb]], ls="none",
                        marker=style["marker"], color=style["color"], ms=9, capsize=3)
        ax.plot([], [], ls="none", marker=style["marker"], color=style["color"], label=f"{selection} {eff}")
    ax.set_xticks(range(len(scenarios)), [name for _, _, name in scenarios], rotation=60, ha="right", fontsize=11)
    ax.set(ylabel=r"expected excluded $\sigma \times B$ [fb]", yscale="log")
    ax.legend(fontsize=11, ncol=2, title="selection, efficiency", title_fontsize=11)
    lumi = limits[0].luminosity_fb if limits else None
    experiment_label(ax, sqrt_s=sqrt_s, luminosity_fb=lumi, observed=observed)
    fig.tight_layout()
    save_figure(fig, output)
