"""Snakemake glue for rule unfold_summary."""

from bumpfold.logs import job_logging
from bumpfold.plotting.unfold import plot_convergence, plot_unfolded
from bumpfold.provenance import provenance, stamp
from bumpfold.unfold.pipeline import summarize

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    i, o, p = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    paths = list(i.iterations)
    members = [paths[m * p.iterations:(m + 1) * p.iterations] for m in range(p.members)]
    summary = summarize(i.inputs, members, i.ibu, output=o.summary, generative=i.generative[0] if i.generative else None)
    plot_unfolded(summary, o.distributions, sqrt_s=p.sqrt_s, observed=p.observed)
    plot_convergence(summary, o.convergence, sqrt_s=p.sqrt_s, observed=p.observed)
    stamp(list(o), provenance(snakemake.config, where=snakemake.scriptdir))  # noqa: F821
