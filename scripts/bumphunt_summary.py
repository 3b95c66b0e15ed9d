"""Snakemake glue for rule bumphunt_summary."""

from bumpfold.bumphunt.summary import data_luminosity, summarize
from bumpfold.logs import job_logging
from bumpfold.plotting.bumphunt import plot_limits, plot_significance_by_window
from bumpfold.provenance import provenance, stamp

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    o, p = snakemake.output, snakemake.params  # noqa: F821
    rows = summarize(list(snakemake.input.results), p.models, output=o.summary, table=o.table)  # noqa: F821
    label = {"sqrt_s": p.sqrt_s, "luminosity_fb": data_luminosity(rows), "observed": p.observed}
    plot_significance_by_window(rows, o.significance, **label)
    # limits in fb need the selection's efficiency: not for rows with the unselected signal shape
    plot_limits([r for r in rows if r["headline"] and r["status"] == "ok" and r["template"] == "selected"],
                o.limits, **label)
    stamp(list(o), provenance(snakemake.config, where=snakemake.scriptdir))  # noqa: F821
