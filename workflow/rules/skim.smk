rule skim:
    """Dijet selection and the CATHODE feature table of one dataset (NanoAOD-like ROOT files or
    an LHC Olympics features file)."""
    input:
        dataset_files,
    output:
        table="results/skim/{dataset}.parquet",
        cutflow="results/skim/{dataset}.cutflow.json",
    log:
        "logs/skim/{dataset}.log",
    benchmark:
        "benchmarks/skim/{dataset}.tsv"
    params:
        selection=config["skim"],
        dataset=lambda wc: DATASETS[wc.dataset],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/skim.py"
