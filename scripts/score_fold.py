"""Snakemake glue for rule score_fold: one fold of a classifier method on one window."""

from bumpfold import settings as typed
from bumpfold.logs import job_logging
from bumpfold.search.pipeline import score_fold, window_data

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    p, i, w = snakemake.params, snakemake.input, snakemake.wildcards  # noqa: F821
    search = typed.search(p.search)
    wd = window_data(i.datasets, p.window, search)
    score_fold(w.method, int(w.fold), wd, search, p.seed, output=snakemake.output[0],  # noqa: F821
               samples_path=i.get("samples"), flow_path=i.get("flow"))
