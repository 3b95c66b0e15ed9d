"""Snakemake glue for rule summary_page."""

from bumpfold.headline import write_summary
from bumpfold.logs import job_logging
from bumpfold.provenance import provenance

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    i = snakemake.input  # noqa: F821
    record = provenance(snakemake.config, where=snakemake.scriptdir)  # noqa: F821
    write_summary(output=snakemake.output[0], record=record,  # noqa: F821
                  search=i.get("search"), bumphunt=i.get("bumphunt"), unfold=i.get("unfold"),
                  toys=i.get("toys"), limits=i.get("limits"))
