"""Snakemake glue for rule skim: selection + feature table of one dataset."""

from bumpfold.logs import job_logging
from bumpfold.provenance import provenance, stamp
from bumpfold.settings import selection
from bumpfold.skim import skim_dataset, write_table

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    table, cutflow = skim_dataset(
        snakemake.params.dataset,  # noqa: F821
        list(snakemake.input),  # noqa: F821
        selection(snakemake.params.selection),  # noqa: F821
        name=snakemake.wildcards.dataset,  # noqa: F821
    )
    write_table(table, cutflow, snakemake.output.table, snakemake.output.cutflow)  # noqa: F821
    stamp(list(snakemake.output), provenance(snakemake.config, where=snakemake.scriptdir))  # noqa: F821
