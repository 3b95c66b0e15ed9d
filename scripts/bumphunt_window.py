"""Snakemake glue for rule bumphunt_window."""

from bumpfold.bumphunt.pipeline import run_window
from bumpfold.logs import job_logging
from bumpfold.provenance import provenance, stamp

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    i, o, p, w = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards  # noqa: F821
    models = p.bumphunt["signal_models"]
    run_window(datasets=i.datasets, scores=i.get("scores"), models=i.get("models"), thresholds=i.get("thresholds"),
               flow=i.get("flow"),
               signal_models={m: (i[f"signal_{m}"], i[f"cutflow_{m}"]) for m in models},
               injected_model=p.injected_model, background_cutflow=i.get("background_cutflow"),
               declared_luminosity_fb=p.luminosity, window=p.window,
               selection=w.selection, injection=int(w.injection), search=p.search, bumphunt=p.bumphunt,
               sqrt_s=p.sqrt_s, seed=p.seed, output=o.result, workspaces=o.workspaces, plot=o.plot)
    stamp([o.plot], provenance(snakemake.config, where=snakemake.scriptdir))  # noqa: F821
