"""Snakemake glue for rule generate: one chunk of one process."""

from bumpfold.config import process_id, process_spec, production_config
from bumpfold.generate.production import produce_chunk
from bumpfold.logs import job_logging

with job_logging(snakemake.log[0]):  # noqa: F821 (snakemake is injected)
    config = snakemake.params.config  # noqa: F821
    name = snakemake.wildcards.process  # noqa: F821
    produce_chunk(
        process_spec(config, name),
        process_id=process_id(config, name),
        chunk=int(snakemake.wildcards.chunk),  # noqa: F821
        n_events=config["generation"]["processes"][name]["events_per_chunk"],
        base_seed=config["seed"],
        config=production_config(config),
        output=snakemake.output.root,  # noqa: F821
    )
