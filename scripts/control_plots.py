"""Snakemake glue for rule control_plots."""

import pandas as pd

from bumpfold.logs import job_logging
from bumpfold.plotting.control import plot_control
from bumpfold.provenance import provenance, stamp

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    tables = {name: pd.read_parquet(path) for name, path in
              zip(snakemake.params.datasets, snakemake.input.tables)}  # noqa: F821
    p = snakemake.params  # noqa: F821
    plot_control(tables, snakemake.output.plot, sqrt_s=p.sqrt_s, luminosity_fb=p.luminosity,  # noqa: F821
                 observed=p.observed)
    stamp(list(snakemake.output), provenance(snakemake.config, where=snakemake.scriptdir))  # noqa: F821
