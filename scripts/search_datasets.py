"""Snakemake glue for rule search_datasets."""

from bumpfold import settings as typed
from bumpfold.logs import job_logging
from bumpfold.runs import parse_run
from bumpfold.search.pipeline import make_datasets, make_toy_datasets

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    inputs = dict(snakemake.input.items())  # noqa: F821  (each role present only when configured)
    p = snakemake.params  # noqa: F821
    run, search = parse_run(snakemake.wildcards.injection), typed.search(p.search)  # noqa: F821
    if run.toy is None:
        make_datasets(inputs.get("background"), inputs.get("signal"), observed=inputs.get("data"),
                      n_injected=run.n_injected, search=search, seed=p.seed, output=snakemake.output[0])  # noqa: F821
    else:
        make_toy_datasets(inputs["background"], inputs.get("signal"), run=run, n_toys=p.toys["n_toys"],
                          search=search, partition_seed=p.toys["seed"], seed=p.seed,
                          output=snakemake.output[0])  # noqa: F821
