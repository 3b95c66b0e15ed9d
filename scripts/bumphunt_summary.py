"""Snakemake glue for rule bumphunt_summary."""

from bumpfold.bumphunt.summary import summarize
from bumpfold.logs import job_logging
from bumpfold.plotting.bumphunt import plot_limits, plot_significance_by_window
from bumpfold.provenance import provenance, stamp

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    o = snakemake.output  # noqa: F821
    rows = summarize(list(snakemake.input.results), snakemake.params.masses, output=o.summary,  # noqa: F821
                     table=o.table)
    plot_significance_by_window(rows, o.significance)
    plot_limits([r for r in rows if r["headline"] and r["status"] == "ok"], o.limits)
    stamp(list(o), provenance(snakemake.config, where=snakemake.scriptdir))  # noqa: F821
