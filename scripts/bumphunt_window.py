"""Snakemake glue for rule bumphunt_window."""

from bumpfold import settings as typed
from bumpfold.bumphunt.pipeline import run_window
from bumpfold.bumphunt.summary import data_luminosity
from bumpfold.logs import job_logging
from bumpfold.plotting.bumphunt import plot_window_spectra
from bumpfold.provenance import provenance, stamp
from bumpfold.runs import parse_run

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    i, o, p, w = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards  # noqa: F821
    run = parse_run(w.injection)
    rows, spectra, binning = run_window(
        range_scores=i.range_scores, thresholds=i.get("thresholds"), background_cutflow=i.get("background_cutflow"),
        declared_luminosity_fb=p.luminosity, window=p.window, selection=w.selection, run=run,
        bumphunt=typed.bumphunt(p.bumphunt, p.search), sqrt_s=p.sqrt_s, output=o.result, workspaces=o.workspaces)
    plot_window_spectra(spectra, binning, p.window, f"{w.selection}, {w.window}, {run.title}", o.plot,
                        sqrt_s=p.sqrt_s, luminosity_fb=data_luminosity(rows), observed=p.observed)
    stamp([o.plot, o.pdf], provenance(snakemake.config, where=snakemake.scriptdir))  # noqa: F821
