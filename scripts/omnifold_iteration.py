"""Snakemake glue for rule omnifold_iteration."""

from bumpfold import settings as typed
from bumpfold.logs import job_logging
from bumpfold.unfold.pipeline import iteration_job

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    i, p, w = snakemake.input, snakemake.params, snakemake.wildcards  # noqa: F821
    iteration_job(i.inputs, i.get("previous"), member=int(w.member), iteration=int(w.iteration),
                  unfold=typed.unfold(p.unfold), seed=p.seed, output=snakemake.output[0])  # noqa: F821
