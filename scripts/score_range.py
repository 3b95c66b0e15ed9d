"""Snakemake glue for rule score_range."""

from bumpfold.io.atomic import write_parquet
from bumpfold.logs import job_logging
from bumpfold.search.range_scores import score_range

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    i, o, p, w = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards  # noqa: F821
    table = score_range(datasets=i.datasets, scores=i.get("scores"), models=i.get("models"), flow=i.get("flow"),
                        signal_models={m: (i[f"signal_{m}"], i[f"cutflow_{m}"]) for m in p.signal_models},
                        injected_model=p.injected_model, window=p.window, selection=w.selection,
                        features=list(p.features), seed=p.seed,
                        score_reference=p.score_reference, alternative=i.get("alternative"))
    write_parquet(table, o[0])
