"""Snakemake glue for rule injection_limits."""

from bumpfold.bumphunt.injection_limits import summarize
from bumpfold.logs import job_logging
from bumpfold.plotting.bumphunt import plot_scan_limits, plot_scenarios
from bumpfold.provenance import provenance, stamp

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    i, o, p = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    results = [path for model in p.models for path in i[f"results_{model}"]]
    limits = summarize(results, {model: i[f"cutflow_{model}"] for model in p.models}, p.models,
                       output=o.summary, table=o.table)
    plot_scan_limits(limits, o.limits, sqrt_s=p.sqrt_s, observed=p.observed)
    plot_scenarios(limits, o.scenarios, sqrt_s=p.sqrt_s, observed=p.observed)
    stamp(list(o), provenance(snakemake.config, where=snakemake.scriptdir))  # noqa: F821
