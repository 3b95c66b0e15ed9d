rule control_plots:
    """m_jj, jet masses and tau21 of every skimmed dataset: the physics sanity check."""
    input:
        tables=expand("results/skim/{dataset}.parquet", dataset=DATASETS),
    output:
        plot=report(
            "results/plots/control.png",
            caption="../report/control.rst",
            category="Skim",
        ),
        pdf="results/plots/control.pdf",
    log:
        "logs/control_plots/control.log",
    benchmark:
        "benchmarks/control_plots/control.tsv"
    params:
        datasets=list(DATASETS),
        sqrt_s=config["generation"]["sqrt_s"],
        luminosity=observed_luminosity(),
        observed=any("files" in d for d in DATASETS.values()),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/bumpfold.yaml"
    script:
        "../../scripts/control_plots.py"
