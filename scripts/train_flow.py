"""Snakemake glue for rule train_flow."""

from bumpfold import settings as typed
from bumpfold.logs import job_logging
from bumpfold.search.pipeline import train_flow, window_data

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    p = snakemake.params  # noqa: F821
    search = typed.search(p.search)
    wd = window_data(snakemake.input.datasets, p.window, search)  # noqa: F821
    train_flow(wd, search, p.seed, model=snakemake.output.model, closure=snakemake.output.closure)  # noqa: F821
