rule generate:
    """One chunk of Pythia 8 events through the detector model into NanoAOD-like ROOT."""
    output:
        root="results/samples/{process}/chunk{chunk}.root",
    log:
        "logs/generate/{process}_{chunk}.log",
    benchmark:
        "benchmarks/generate/{process}_{chunk}.tsv"
    params:
        # only what the chunk depends on, so that editing e.g. a skim cut reruns no generation
        seed=config["seed"],
        generation=generation_settings(),
        process=lambda wc: PROCESSES[wc.process],
        process_id=lambda wc: list(PROCESSES).index(wc.process),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=lambda wc: max(5, int(PROCESSES[wc.process]["events_per_chunk"] / 60 / 60 * 3) + 5),
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/generate.py"
