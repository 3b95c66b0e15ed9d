rule skim_file:
    """Data-quality cuts, dijet selection and the CATHODE feature table of one file of a dataset
    (a generated chunk, a NanoAOD file or URL, or an LHC Olympics features file)."""
    input:
        unpack(skim_file_inputs),
    output:
        table="results/skim/{dataset}/part{part}.parquet",
        summary="results/skim/{dataset}/part{part}.json",
    log:
        "logs/skim/{dataset}/part{part}.log",
    benchmark:
        "benchmarks/skim/{dataset}/part{part}.tsv"
    params:
        path=skim_file_path,
        selection=config["skim"],
        dataset=skim_file_spec,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/skim_file.py"


rule skim:
    """One table and one cutflow per dataset from its files' skims."""
    input:
        tables=lambda wc: skim_parts(wc.dataset, "parquet"),
        summaries=lambda wc: skim_parts(wc.dataset, "json"),
    output:
        table="results/skim/{dataset}.parquet",
        cutflow="results/skim/{dataset}.cutflow.json",
    log:
        "logs/skim/{dataset}.log",
    benchmark:
        "benchmarks/skim/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/skim.py"
