"""Snakemake glue for rules score_fold (one fold of a classifier method on one window) and
score_folds (all its folds in one job: search.fold_jobs false)."""

from bumpfold import settings as typed
from bumpfold.logs import job_logging
from bumpfold.search.pipeline import score_folds, window_data

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    p, i, w, o = snakemake.params, snakemake.input, snakemake.wildcards, snakemake.output  # noqa: F821
    search = typed.search(p.search)
    wd = window_data(i.datasets, p.window, search)
    folds = [int(w.fold)] if "fold" in w.keys() else list(range(search.n_folds))
    score_folds(w.method, folds, wd, search, p.seed, outputs=list(o),
                samples_path=i.get("samples"), flow_path=i.get("flow"))
