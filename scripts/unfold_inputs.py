"""Snakemake glue for rule unfold_inputs."""

from bumpfold import settings as typed
from bumpfold.logs import job_logging
from bumpfold.unfold.pipeline import prepare_inputs

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    i = snakemake.input  # noqa: F821
    unfold = snakemake.params.unfold  # noqa: F821
    prepare_inputs(list(i.simulation), list(i.data), unfold=typed.unfold(unfold), output=snakemake.output[0],  # noqa: F821
                   data_has_truth=not unfold["data_files"])
