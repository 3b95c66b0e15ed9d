"""Snakemake glue for rule evaluate_window."""

import pandas as pd

from bumpfold.logs import job_logging
from bumpfold.plotting.search import plot_roc_sic
from bumpfold.provenance import provenance, stamp
from bumpfold.search.results import evaluate

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    i, o, p, w = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards  # noqa: F821
    tables = {m: pd.read_parquet(f) for m, f in zip(p.methods, i.scores)}
    evaluate(tables, window=w.window, injection=int(w.injection), closure=i.closure,
             interpolation=i.interpolation, output=o.metrics)
    plot_roc_sic(tables, f"{w.window}, {w.injection} signal injected", o.plot, sqrt_s=p.sqrt_s)
    stamp([o.plot, o.pdf], provenance(snakemake.config, where=snakemake.scriptdir))  # noqa: F821
