"""Snakemake glue for rule search_summary."""

from bumpfold.config import skipped_methods
from bumpfold.logs import job_logging
from bumpfold.plotting.search import plot_sic_vs_injection
from bumpfold.provenance import provenance, stamp
from bumpfold.search.results import summarize

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    rows = summarize(list(snakemake.input.metrics), snakemake.output.summary,  # noqa: F821
                     skipped=skipped_methods(snakemake.config["search"]))  # noqa: F821
    plot_sic_vs_injection(rows, snakemake.output.plot, sqrt_s=snakemake.params.sqrt_s)  # noqa: F821
    stamp(list(snakemake.output), provenance(snakemake.config, where=snakemake.scriptdir))  # noqa: F821
