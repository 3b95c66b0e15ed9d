"""Snakemake glue for rule skim_file: one file of a dataset through the skim."""

from bumpfold.logs import job_logging
from bumpfold.settings import selection
from bumpfold.skim import skim_part, write_table

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    table, summary = skim_part(
        snakemake.params.dataset,  # noqa: F821
        snakemake.params.path,  # noqa: F821
        selection(snakemake.params.selection),  # noqa: F821
        events_per_read=snakemake.params.selection["events_per_read"],  # noqa: F821
    )
    write_table(table, summary, snakemake.output.table, snakemake.output.summary)  # noqa: F821
