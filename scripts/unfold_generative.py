"""Snakemake glue for rule unfold_generative."""

from bumpfold import settings as typed
from bumpfold.logs import job_logging
from bumpfold.unfold.pipeline import generative_job

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    p = snakemake.params  # noqa: F821
    generative_job(snakemake.input.inputs, unfold=typed.unfold(p.unfold), seed=p.seed, output=snakemake.output[0])  # noqa: F821
