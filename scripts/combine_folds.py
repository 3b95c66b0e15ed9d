"""Snakemake glue for rule combine_folds: out-of-fold scores of a classifier method."""

from bumpfold import settings as typed
from bumpfold.logs import job_logging
from bumpfold.search.pipeline import combine_method, window_data

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    p, i, o = snakemake.params, snakemake.input, snakemake.output  # noqa: F821
    search = typed.search(p.search)
    wd = window_data(i.datasets, p.window, search)
    combine_method(snakemake.wildcards.method, wd, search, p.seed, fold_paths=list(i.folds),  # noqa: F821
                   output=o.scores, models_path=o.models, samples_path=i.get("samples"), flow_path=i.get("flow"))
