"""Snakemake glue for rule select."""

import pandas as pd

from bumpfold.logs import job_logging
from bumpfold.provenance import provenance, stamp
from bumpfold.search.results import select_top

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    select_top(pd.read_parquet(snakemake.input[0]), snakemake.params.efficiencies,  # noqa: F821
               output=snakemake.output.selected, thresholds=snakemake.output.thresholds)  # noqa: F821
    stamp(list(snakemake.output), provenance(snakemake.config, where=snakemake.scriptdir))  # noqa: F821
