"""Snakemake glue for rule search_datasets."""

from bumpfold.logs import job_logging
from bumpfold.search.pipeline import make_datasets

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    make_datasets(snakemake.input.background, snakemake.input.signal,  # noqa: F821
                  n_injected=int(snakemake.wildcards.injection), search=snakemake.params.search,  # noqa: F821
                  seed=snakemake.params.seed, output=snakemake.output[0])  # noqa: F821
