rule generate:
    """One chunk of Pythia 8 events through the detector model into NanoAOD-like ROOT."""
    output:
        root="results/samples/{process}/chunk{chunk}.root",
    log:
        "logs/generate/{process}_{chunk}.log",
    benchmark:
        "benchmarks/generate/{process}_{chunk}.tsv"
    params:
        config=config,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=lambda wc: max(5, int(PROCESSES[wc.process]["events_per_chunk"] / 60 / 60 * 3) + 5),
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/generate.py"
