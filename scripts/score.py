"""Snakemake glue for rule score: one method on one window."""

from bumpfold.logs import job_logging
from bumpfold.search.pipeline import score_method, window_data

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    p, i = snakemake.params, snakemake.input  # noqa: F821
    wd = window_data(i.datasets, p.window, p.search)
    score_method(snakemake.wildcards.method, wd, p.search, p.seed, output=snakemake.output.scores,  # noqa: F821
                 models_path=snakemake.output.models,  # noqa: F821
                 flow_path=i.get("model"), samples_path=i.get("samples"))
