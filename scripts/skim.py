"""Snakemake glue for rule skim: a dataset's per-file skims merged into one table + cutflow."""

from bumpfold.logs import job_logging
from bumpfold.provenance import provenance, stamp
from bumpfold.skim import merge_parts, read_part, write_table

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    parts = [read_part(t, s) for t, s in zip(snakemake.input.tables, snakemake.input.summaries)]  # noqa: F821
    table, cutflow = merge_parts(parts, snakemake.wildcards.dataset)  # noqa: F821
    write_table(table, cutflow, snakemake.output.table, snakemake.output.cutflow)  # noqa: F821
    stamp(list(snakemake.output), provenance(snakemake.config, where=snakemake.scriptdir))  # noqa: F821
