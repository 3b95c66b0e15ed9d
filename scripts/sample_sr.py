"""Snakemake glue for rule sample_sr."""

from bumpfold import settings as typed
from bumpfold.logs import job_logging
from bumpfold.search.pipeline import sample_window, window_data

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    p = snakemake.params  # noqa: F821
    search = typed.search(p.search)
    wd = window_data(snakemake.input.datasets, p.window, search)  # noqa: F821
    sample_window(wd, snakemake.input.model, search, p.seed, snakemake.output.samples,  # noqa: F821
                  interpolation=snakemake.output.interpolation)  # noqa: F821
