"""Snakemake glue for rule search_datasets."""

from bumpfold import settings as typed
from bumpfold.logs import job_logging
from bumpfold.search.pipeline import make_datasets

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    inputs = dict(snakemake.input.items())  # noqa: F821  (each role present only when configured)
    make_datasets(inputs.get("background"), inputs.get("signal"), observed=inputs.get("data"),
                  n_injected=int(snakemake.wildcards.injection), search=typed.search(snakemake.params.search),  # noqa: F821
                  seed=snakemake.params.seed, output=snakemake.output[0])  # noqa: F821
