"""Snakemake glue for rule score_anode: ANODE's density ratio on one window."""

from bumpfold import settings as typed
from bumpfold.logs import job_logging
from bumpfold.search.pipeline import score_method, window_data

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    p, i, o = snakemake.params, snakemake.input, snakemake.output  # noqa: F821
    search = typed.search(p.search)
    wd = window_data(i.datasets, p.window, search)
    score_method("anode", wd, search, p.seed, output=o.scores, models_path=o.models, flow_path=i.model)
