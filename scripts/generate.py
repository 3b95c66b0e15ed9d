"""Snakemake glue for rule generate: one chunk of one process."""

from bumpfold.generate.production import produce_chunk
from bumpfold.logs import job_logging
from bumpfold.settings import process_spec, production_config

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    params = snakemake.params  # noqa: F821
    produce_chunk(
        process_spec(params.seed_process, params.process),  # a detector variation: its nominal's seeds
        process_id=params.process_id,
        chunk=int(snakemake.wildcards.chunk),  # noqa: F821
        n_events=params.process["events_per_chunk"],
        base_seed=params.seed,
        config=production_config({**params.generation, "detector": params.detector}),
        output=snakemake.output.root,  # noqa: F821
    )
