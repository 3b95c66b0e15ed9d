"""Snakemake glue for rule evaluate_window."""

import pandas as pd

from bumpfold.logs import job_logging
from bumpfold.plotting.search import plot_roc_sic
from bumpfold.provenance import provenance, stamp
from bumpfold.search.results import evaluate

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    w = snakemake.wildcards  # noqa: F821
    tables = {m: pd.read_parquet(f) for m, f in zip(snakemake.params.methods, snakemake.input.scores)}  # noqa: F821
    evaluate(tables, window=w.window, injection=int(w.injection), closure=snakemake.input.closure,  # noqa: F821
             interpolation=snakemake.input.interpolation, output=snakemake.output.metrics)  # noqa: F821
    plot_roc_sic(tables, f"{w.window}, {w.injection} signal injected", snakemake.output.plot)  # noqa: F821
    stamp([snakemake.output.plot], provenance(snakemake.config, where=snakemake.scriptdir))  # noqa: F821
