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
        # a detector variation reprocesses its nominal process's events: the same seeds
        process=lambda wc: PROCESSES[nominal_process(wc.process)],
        seed_process=lambda wc: nominal_process(wc.process),
        detector=process_detector,
        process_id=lambda wc: list(PROCESSES).index(nominal_process(wc.process)),
    threads: 1
    # every rule's mem_mb and runtime [min]: the peak memory and runtime measured at benchmark
    # scale, with a margin (BENCHMARKS.md, "Resources per rule"; scripts/bench/resource_table.py).
    # Generation: 5000 events take ~30 s at 190 events/s; the margin covers loaded nodes.
    resources:
        mem_mb=1500,
        runtime=lambda wc: 10 + PROCESSES[nominal_process(wc.process)]["events_per_chunk"] // 500,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/generate.py"
