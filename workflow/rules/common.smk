import glob
from pathlib import Path

from bumpfold.config import validate_config

# Validates against workflow/schemas/config.schema.yaml (the package's schema), fills
# defaults, and checks what a schema cannot (SR inside the m_jj range, dataset -> process).
validate_config(config)

PROCESSES = config["generation"]["processes"]
DATASETS = config["datasets"]


wildcard_constraints:
    process="[A-Za-z][A-Za-z0-9_]*",
    dataset="[A-Za-z][A-Za-z0-9_]*",
    chunk=r"\d+",


def generation_settings():
    """The generation section without the process list (each job gets its own process)."""
    return {k: v for k, v in config["generation"].items() if k != "processes"}


def chunk_files(process):
    n = PROCESSES[process]["chunks"]
    return [f"results/samples/{process}/chunk{i}.root" for i in range(n)]


def dataset_files(wildcards):
    """Generated chunks of a process, or the user's NanoAOD files (globs expanded)."""
    dataset = DATASETS[wildcards.dataset]
    if "process" in dataset:
        return chunk_files(dataset["process"])
    paths = []
    for pattern in dataset["files"]:
        matched = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matched:
            raise ValueError(f"datasets.{wildcards.dataset}.files: {pattern!r} matches no file")
        paths.extend(matched)
    return paths


def all_outputs():
    return (
        [f"results/skim/{d}.parquet" for d in DATASETS]
        + [f"results/skim/{d}.cutflow.json" for d in DATASETS]
        + ["results/plots/control.png"]
    )
